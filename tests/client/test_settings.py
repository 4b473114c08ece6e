"""Connection settings: one list of extras (defaults, bounds, parsers) and one boolean parser."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from airflow_provider_copernica.booleans import parse_bool
from airflow_provider_copernica.catalog.schema import Column
from airflow_provider_copernica.client.settings import EXTRA_FIELDS, CopernicaSettings
from airflow_provider_copernica.engine.records import to_bool
from airflow_provider_copernica.exceptions import CopernicaConfigError
from airflow_provider_copernica.output.writers import _coerce


def _settings(**extra: Any) -> CopernicaSettings:
    return CopernicaSettings.from_fields(host=None, password="token", extra=extra)


def test_every_extra_field_is_a_setting_with_its_declared_default() -> None:
    settings = _settings()
    names = {f.name for f in dataclasses.fields(CopernicaSettings)}
    for f in EXTRA_FIELDS:
        assert f.name in names
        assert getattr(settings, f.name) == f.default, f.name


@pytest.mark.parametrize("unset", [None, "", "  "])
def test_an_unset_extra_means_its_default(unset: Any) -> None:
    # The Airflow form writes untouched fields as null (or empty), which must not be an error.
    settings = _settings(**{f.name: unset for f in EXTRA_FIELDS})
    assert settings == _settings()


def test_typed_values_are_parsed_by_their_field() -> None:
    settings = _settings(
        page_size="250",
        timeout="12.5",
        max_retry_duration=180,
        legacy_paths="on",
        timezone=" UTC ",
        api_version="/v4/",
        auth_url="http://127.0.0.1:9/authenticate/",
    )
    assert settings.page_size == 250
    assert settings.timeout == 12.5
    assert settings.max_retry_duration == 180
    assert settings.legacy_paths is True
    assert settings.timezone == "UTC"
    assert settings.api_version == "v4"
    assert settings.auth_url == "http://127.0.0.1:9/authenticate"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"page_size": 0}, r"extra.page_size must be in 1..1000, got 0"),
        ({"page_size": 1001}, r"extra.page_size must be in 1..1000"),
        ({"page_size": True}, r"extra.page_size must be a number, got True"),
        ({"max_retries": 101}, r"extra.max_retries must be in 0..100"),
        ({"timeout": 0}, r"extra.timeout must be in >= 0.1, got 0"),
        ({"max_retry_duration": -1}, r"extra.max_retry_duration must be in 0..86400, got -1"),
        ({"max_retries": -1}, r"extra.max_retries must be in 0..100, got -1"),
        ({"backoff_max": 3601}, r"extra.backoff_max must be in 0..3600"),
        ({"legacy_paths": "maybe"}, r"extra.legacy_paths must be true or false, got 'maybe'"),
        ({"timezone": "Europe/Atlantis"}, r"extra.timezone 'Europe/Atlantis' is not an IANA"),
        ({"authorize_url": "ftp://x"}, r"extra.authorize_url must be an http\(s\) URL"),
    ],
)
def test_bad_values_name_the_field_and_the_valid_range(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(CopernicaConfigError, match=message):
        _settings(**extra)


def test_bounds_in_the_schema_are_the_bounds_enforced() -> None:
    for f in EXTRA_FIELDS:
        schema = f.json_schema()
        if "maximum" in schema:
            with pytest.raises(CopernicaConfigError):
                _settings(**{f.name: schema["maximum"] + 1})
            _settings(**{f.name: schema["maximum"]})
        if "minimum" in schema:
            with pytest.raises(CopernicaConfigError):
                _settings(**{f.name: schema["minimum"] - 1})
            _settings(**{f.name: schema["minimum"]})


SPELLINGS = [
    ("true", True),
    ("TRUE", True),
    (" yes ", True),
    ("on", True),
    ("On", True),
    ("1", True),
    (1, True),
    (True, True),
    ("false", False),
    ("No", False),
    ("off", False),
    ("OFF", False),
    ("0", False),
    (0, False),
    (False, False),
]


@pytest.mark.parametrize(("spelling", "meaning"), SPELLINGS)
def test_every_boolean_reader_agrees(spelling: Any, meaning: bool) -> None:
    assert parse_bool(spelling) is meaning
    assert _settings(legacy_paths=spelling).legacy_paths is meaning
    assert to_bool(spelling) is meaning
    assert _coerce(Column("flag", "bool"), spelling) is meaning


@pytest.mark.parametrize("nonsense", ["maybe", "2", 2, 0.5, "tru"])
def test_a_non_boolean_is_refused_or_kept_not_guessed(nonsense: Any) -> None:
    assert parse_bool(nonsense) is None
    with pytest.raises(CopernicaConfigError, match="must be true or false"):
        _settings(legacy_paths=nonsense)
