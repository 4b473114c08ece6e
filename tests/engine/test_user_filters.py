"""User filters (``filters=["country==Netherlands", "age>=30"]``): fields[] conditions ANDed
with the window, refused before any request when the live API would ignore them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_copernica.engine.extract import prepare
from airflow_provider_copernica.exceptions import CopernicaConfigError
from airflow_provider_copernica.hooks.copernica import CopernicaHook
from airflow_provider_copernica.interval import Window

UTC = timezone.utc
# Four weeks with the 2026-10-25 autumn DST change (sandbox anchor 2026-11-20).
WINDOW = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 29, tzinfo=UTC))
PROFILES = {"database_id": 7616}


def rows_of(extraction: Any) -> list[dict[str, Any]]:
    return [row for page in extraction.pages() for row in page]


def truth(sandbox: Any, dataset: str, options: dict, keep: Any) -> list[int]:
    """Ids of ``dataset`` in WINDOW whose record fields satisfy ``keep`` (ground truth)."""
    in_window = set(sandbox.data.expected_ids(dataset, WINDOW.start, WINDOW.end, **options))
    records = sandbox.data.records(dataset, **options)
    return sorted(int(r["ID"]) for r in records if int(r["ID"]) in in_window and keep(r["fields"]))


def test_profiles_filtered_equal_the_ground_truth(sandbox: Any, hook: CopernicaHook) -> None:
    extraction = prepare(
        hook,
        "profiles",
        options=PROFILES,
        window=WINDOW,
        filters=["country==netherlands", "age>=40"],  # text values match case-insensitively
    )
    ids = sorted(row["id"] for row in rows_of(extraction))
    expected = truth(
        sandbox,
        "profiles",
        PROFILES,
        lambda f: f["country"].lower() == "netherlands" and int(f["age"]) >= 40,
    )
    assert ids == expected and 0 < len(ids) < len(truth(sandbox, "profiles", PROFILES, bool))
    sent = [r.query for r in sandbox.iter_requests("/v4/database/7616/profiles")]
    assert sent and all("age%3E%3D40" in q and "country%3D%3Dnetherlands" in q for q in sent)


def test_subprofiles_filtered_equal_the_ground_truth(sandbox: Any, hook: CopernicaHook) -> None:
    options = {"collection_id": 6312}
    extraction = prepare(
        hook, "subprofiles", options=options, window=WINDOW, filters=["product=~%e%"]
    )
    ids = sorted(row["id"] for row in rows_of(extraction))
    assert ids and ids == truth(sandbox, "subprofiles", options, lambda f: "e" in f["product"])


@pytest.mark.parametrize(
    ("expression", "needle"),
    [
        ("country ==Netherlands", "not a condition Copernica recognises"),
        ("country", "not a condition Copernica recognises"),
        (" country==Netherlands", "not a condition Copernica recognises"),
        ("country==NL\nage>=3", "not a condition Copernica recognises"),
        ("", "not a condition Copernica recognises"),
    ],
)
def test_malformed_filters_are_refused_before_any_request(
    sandbox: Any, hook: CopernicaHook, fresh_log: None, expression: str, needle: str
) -> None:
    with pytest.raises(CopernicaConfigError, match=needle):
        prepare(hook, "profiles", options=PROFILES, window=WINDOW, filters=[expression])
    assert list(sandbox.iter_requests("/v4/")) == []


@pytest.mark.parametrize(
    ("expression", "needle"),
    [
        ("colour==red", "names 'colour', which is neither a field nor a property"),
        ("age>=eighteen", "compares the number field 'age' with 'eighteen'"),
        ("id>abc", "compares the number field 'id'"),
    ],
)
def test_filters_the_field_list_refuses_send_no_data_request(
    sandbox: Any, hook: CopernicaHook, fresh_log: None, expression: str, needle: str
) -> None:
    extraction = prepare(hook, "profiles", options=PROFILES, window=WINDOW, filters=[expression])
    with pytest.raises(CopernicaConfigError, match=needle) as caught:
        rows_of(extraction)
    assert "valid names" in str(caught.value) or "not a number" in str(caught.value)
    # only the field list was read, no data request
    assert [r.path for r in sandbox.iter_requests("/v4/")] == ["/v4/database/7616/fields"]


def test_datasets_without_owner_fields_refuse_filters(hook: CopernicaHook) -> None:
    with pytest.raises(CopernicaConfigError, match="does not take filters.*profiles"):
        prepare(hook, "clicks", window=WINDOW, filters=["ip==1.2.3.4"])


def test_a_filtered_count_is_one_probe_with_the_conditions(
    sandbox: Any, hook: CopernicaHook, fresh_log: None
) -> None:
    from airflow_provider_copernica.engine.counting import count_records

    count = count_records(hook, "profiles", PROFILES, WINDOW, 1, ["country==Belgium"])
    assert count == len(truth(sandbox, "profiles", PROFILES, lambda f: f["country"] == "Belgium"))
    paths = [r.path for r in sandbox.iter_requests("/v4/")]
    assert paths == ["/v4/database/7616/fields", "/v4/database/7616/profiles"]


def test_operator_and_sensor_template_and_check_filters() -> None:
    from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator
    from airflow_provider_copernica.sensors.copernica import CopernicaSensor

    for cls in (CopernicaToStorageOperator, CopernicaSensor):
        assert "filters" in cls.template_fields
        with pytest.raises(CopernicaConfigError, match="not a condition"):
            cls(task_id="t", dataset="profiles", dataset_options=PROFILES, filters=["age >=3"])
        task = cls(
            task_id="t",
            dataset="profiles",
            dataset_options=PROFILES,
            filters=["country=={{ params.c }}"],
        )
        assert task.filters == ["country=={{ params.c }}"]  # rendered at run time


def test_cli_preview_filter(sandbox: Any, copernica_conn: str, capsys: Any) -> None:
    from airflow_provider_copernica.cli.arguments import main

    argv = ["preview", "profiles", "--option", "database_id=7616", "--from", "2026-10-01"]
    argv += ["--to", "2026-10-29", "--filter", "country==Germany", "--filter", "age<30"]
    argv += ["--fields", "fields.country,fields.age", "--limit", "1000"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    expected = truth(
        sandbox, "profiles", PROFILES, lambda f: f["country"] == "Germany" and int(f["age"]) < 30
    )
    assert expected and out.count("Germany") == len(expected)
    assert "Netherlands" not in out and "Belgium" not in out


def test_view_members_filtered_equal_the_ground_truth(sandbox: Any, hook: CopernicaHook) -> None:
    options = {"view_id": 4184}
    rows = rows_of(prepare(hook, "view_profiles", options=options, filters=["age<35"]))
    members = set(sandbox.data.expected_ids("view_profiles", WINDOW.start, WINDOW.end, **options))
    expected = sorted(
        int(r["ID"])
        for r in sandbox.data.records("profiles", database_id=7616)
        if int(r["ID"]) in members and int(r["fields"]["age"]) < 35
    )
    assert expected and sorted(row["id"] for row in rows) == expected
    assert len(expected) < len(members)


def test_miniview_members_filtered_equal_the_ground_truth(
    sandbox: Any, hook: CopernicaHook
) -> None:
    options = {"miniview_id": 1525}  # the collection's "Shoes" orders
    rows = rows_of(prepare(hook, "miniview_subprofiles", options=options, filters=["amount>=250"]))
    members = set(
        sandbox.data.expected_ids("miniview_subprofiles", WINDOW.start, WINDOW.end, **options)
    )
    expected = sorted(
        int(r["ID"])
        for r in sandbox.data.records("subprofiles", collection_id=6312)
        if int(r["ID"]) in members and float(r["fields"]["amount"]) >= 250
    )
    assert expected and sorted(row["id"] for row in rows) == expected
    assert len(expected) < len(members)
    sent = [r.query for r in sandbox.iter_requests("/v4/miniview/1525/subprofiles")]
    assert sent and all("amount%3E%3D250" in q for q in sent)
