"""The one filter check: every fields[] condition sent is one the live API honours."""

from __future__ import annotations

import pytest

from airflow_provider_copernica.engine.filters import check_conditions
from airflow_provider_copernica.exceptions import CopernicaConfigError

WINDOW = [
    ("fields[]", "modified>=2026-11-01 00:00:00"),
    ("fields[]", "modified<2026-11-02 00:00:00"),
]


def test_window_and_keyset_conditions_pass() -> None:
    check_conditions("profiles", "fields_modified", [WINDOW, [("fields[]", "id>1000123")]])
    check_conditions(
        "clicks", "fields_timestamp", [[("fields[]", "timestamp>=2026-11-01 00:00:00")]]
    )
    check_conditions("profiles", "fields_modified", [[("limit", "1")]], lambda: 1 / 0)  # no call


@pytest.mark.parametrize(
    ("condition", "needle"),
    [
        ("modified >=2026-11-01 00:00:00", "not a condition Copernica recognises"),
        ("modified", "not a condition Copernica recognises"),
        (" modified>=2026-11-01", "not a condition Copernica recognises"),
        ("city==Utrecht", "names 'city', which is neither a property nor a field"),
        ("timestamp>=2026-11-01 00:00:00", "valid names: code, email, id, modified"),
    ],
)
def test_conditions_the_api_would_ignore_are_refused(condition: str, needle: str) -> None:
    with pytest.raises(CopernicaConfigError, match="would be ignored|would ignore") as caught:
        check_conditions(
            "profiles", "fields_modified", [[("fields[]", condition)]], lambda: ["email"]
        )
    assert needle in str(caught.value)


@pytest.mark.parametrize("field", ["modified", "Modified", "MODIFIED"])
def test_a_field_named_modified_is_refused_naming_it(field: str) -> None:
    with pytest.raises(CopernicaConfigError) as caught:
        check_conditions("profiles", "fields_modified", [WINDOW], lambda: ["email", field])
    message = str(caught.value)
    assert f"has a field named {field!r}" in message and "Rename that field" in message


def test_a_field_may_be_filtered_by_its_own_name_but_never_shadows_id() -> None:
    check_conditions("profiles", "fields_modified", [[("fields[]", "CITY==x")]], lambda: ["city"])
    check_conditions("profiles", "fields_modified", [[("fields[]", "id>5")]], lambda: ["ID"])
