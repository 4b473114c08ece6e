"""Windows: parsing, UTC normalisation, half-open membership and the run-context rules."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pendulum
import pytest

from airflow_provider_copernica.exceptions import CopernicaConfigError
from airflow_provider_copernica.interval import Window, parse_window
from airflow_provider_copernica.task_context import window_from_context

UTC = timezone.utc
AMS = ZoneInfo("Europe/Amsterdam")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- Window -----------------------------------------------------------------------------


def test_window_converts_aware_and_pendulum_inputs_to_stdlib_utc() -> None:
    window = Window(
        pendulum.datetime(2026, 10, 25, tz="Europe/Amsterdam"),
        datetime(2026, 10, 26, tzinfo=AMS),
    )
    assert type(window.start) is datetime and type(window.end) is datetime
    assert window.start.tzinfo is UTC and window.end.tzinfo is UTC
    # 25 October 2026 is the end of summer time in Amsterdam: that local day lasts 25 hours.
    assert window.start == utc(2026, 10, 24, 22)
    assert window.end == utc(2026, 10, 25, 23)
    assert window.end - window.start == timedelta(hours=25)


def test_window_naive_datetimes_are_utc() -> None:
    window = Window(datetime(2026, 3, 29), datetime(2026, 3, 30))
    assert window.start == utc(2026, 3, 29) and window.end == utc(2026, 3, 30)


def test_window_requires_end_after_start() -> None:
    with pytest.raises(CopernicaConfigError, match="end must be after its start"):
        Window(utc(2026, 1, 2), utc(2026, 1, 2))
    with pytest.raises(CopernicaConfigError, match="2026-01-01T00:00:00\\+00:00"):
        Window(utc(2026, 1, 2), utc(2026, 1, 1))
    with pytest.raises(CopernicaConfigError, match="must be a datetime"):
        Window("2026-01-01", utc(2026, 1, 2))  # type: ignore[arg-type]


def test_window_is_frozen() -> None:
    window = Window(utc(2026, 1, 1), utc(2026, 1, 2))
    with pytest.raises(AttributeError):
        window.start = utc(2025, 1, 1)  # type: ignore[misc]


def test_contains_is_half_open_and_timezone_agnostic() -> None:
    window = Window(utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))
    assert window.contains(utc(2026, 10, 24, 22))
    assert not window.contains(utc(2026, 10, 25, 23))
    assert window.contains(utc(2026, 10, 25, 23) - timedelta(microseconds=1))
    assert not window.contains(utc(2026, 10, 24, 22) - timedelta(microseconds=1))
    # The repeated local hour 02:30 exists twice that night (CEST then CET): both inside.
    assert window.contains(datetime(2026, 10, 25, 2, 30, fold=0, tzinfo=AMS))
    assert window.contains(datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=AMS))
    assert window.contains(pendulum.datetime(2026, 10, 25, 23, 59, tz="Europe/Amsterdam"))
    assert not window.contains(pendulum.datetime(2026, 10, 26, 0, 0, tz="Europe/Amsterdam"))


def test_label_iso_strings_and_dict() -> None:
    window = Window(utc(2026, 10, 25), utc(2026, 10, 26))
    assert window.label == "20261025T000000Z_20261026T000000Z"
    assert window.start_iso == "2026-10-25T00:00:00+00:00"
    assert window.end_iso == "2026-10-26T00:00:00+00:00"
    assert window.as_dict() == {
        "interval_start": "2026-10-25T00:00:00+00:00",
        "interval_end": "2026-10-26T00:00:00+00:00",
    }
    assert str(window) == "[2026-10-25T00:00:00+00:00, 2026-10-26T00:00:00+00:00)"
    fine = Window(utc(2026, 10, 25, 6, 30, 0, 250), utc(2026, 10, 25, 7))
    assert fine.label == "20261025T063000.000250Z_20261025T070000Z"


# --- parse_window ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date_from", "date_to", "start", "end"),
    [
        ("2026-10-25", "2026-10-26", utc(2026, 10, 25), utc(2026, 10, 26)),
        (
            "2026-10-25T06:30:00",
            "2026-10-25T07:30:00",
            utc(2026, 10, 25, 6, 30),
            utc(2026, 10, 25, 7, 30),
        ),
        ("2026-10-25T00:00:00Z", "2026-10-25 12:00", utc(2026, 10, 25), utc(2026, 10, 25, 12)),
        (
            "2026-10-25T00:00:00+02:00",
            "2026-10-26T00:00:00+01:00",
            utc(2026, 10, 24, 22),
            utc(2026, 10, 25, 23),
        ),
        (date(2026, 3, 29), date(2026, 3, 30), utc(2026, 3, 29), utc(2026, 3, 30)),
        (
            datetime(2026, 3, 29, 1),
            datetime(2026, 3, 29, 2),
            utc(2026, 3, 29, 1),
            utc(2026, 3, 29, 2),
        ),
        (
            pendulum.datetime(2026, 3, 29, tz="Europe/Amsterdam"),
            pendulum.datetime(2026, 3, 30, tz="Europe/Amsterdam"),
            utc(2026, 3, 28, 23),
            utc(2026, 3, 29, 22),
        ),
        (pendulum.date(2026, 3, 29), "2026-03-30", utc(2026, 3, 29), utc(2026, 3, 30)),
    ],
)
def test_parse_window_accepted_inputs(date_from: object, date_to: object, start, end) -> None:
    window = parse_window(date_from, date_to)
    assert (window.start, window.end) == (start, end)
    assert window.start.tzinfo is UTC and type(window.start) is datetime


@pytest.mark.parametrize("bad", ["25-10-2026", "yesterday", "2026-13-01", "", "  ", 20261025, None])
def test_parse_window_malformed_names_value_and_formats(bad: object) -> None:
    with pytest.raises(CopernicaConfigError) as err:
        parse_window(bad, "2026-10-26")
    message = str(err.value)
    assert f"date_from={bad!r}" in message
    assert "YYYY-MM-DD" in message and "ISO-8601" in message


def test_parse_window_rejects_reversed_or_empty_range_naming_both() -> None:
    with pytest.raises(CopernicaConfigError) as err:
        parse_window("2026-10-26", "2026-10-25")
    assert "date_from='2026-10-26'" in str(err.value)
    assert "date_to='2026-10-25'" in str(err.value)
    with pytest.raises(CopernicaConfigError, match="date_from must be before date_to"):
        parse_window("2026-10-25T02:00:00+02:00", "2026-10-25T00:00:00Z")


# --- window_from_context -----------------------------------------------------------------


def dag_run(run_type: str = "manual", conf: dict | None = None) -> SimpleNamespace:
    return SimpleNamespace(run_type=run_type, conf=conf)


def test_context_data_interval_is_used() -> None:
    context = {
        "data_interval_start": pendulum.datetime(2026, 10, 25, tz="UTC"),
        "data_interval_end": pendulum.datetime(2026, 10, 26, tz="UTC"),
        "params": {"date_from": "2020-01-01", "date_to": "2020-01-02"},
        "dag_run": dag_run("scheduled"),
    }
    window = window_from_context(context)
    assert (window.start, window.end) == (utc(2026, 10, 25), utc(2026, 10, 26))
    assert type(window.start) is datetime


def test_context_interval_in_local_timezone_is_converted() -> None:
    context = {
        "data_interval_start": pendulum.datetime(2026, 10, 25, tz="Europe/Amsterdam"),
        "data_interval_end": pendulum.datetime(2026, 10, 26, tz="Europe/Amsterdam"),
    }
    window = window_from_context(context)
    assert window.end - window.start == timedelta(hours=25)
    assert window.label == "20261024T220000Z_20261025T230000Z"


def test_zero_width_interval_explains_the_airflow3_trap() -> None:
    moment = pendulum.datetime(2026, 10, 25, tz="UTC")
    context = {
        "data_interval_start": moment,
        "data_interval_end": moment,
        # Default params must not silently replace a scheduled run's interval.
        "params": {"date_from": "2026-01-01", "date_to": "2026-01-02"},
        "dag_run": dag_run("scheduled"),
    }
    with pytest.raises(CopernicaConfigError) as err:
        window_from_context(context)
    message = str(err.value)
    for needle in (
        "2026-10-25T00:00:00+00:00",
        "schedule='@daily'",
        "CronTriggerTimetable",
        "data_interval_start == data_interval_end",
        "CronDataIntervalTimetable(",
        "from airflow.sdk",
        "interval=timedelta(days=1)",
        "schedule=timedelta(days=1)",
        "date_from",
        "date_to",
    ):
        assert needle in message


def test_zero_width_manual_run_uses_params() -> None:
    # schedule=None manual runs with a logical date get start == end (NullTimetable).
    moment = pendulum.datetime(2026, 11, 1, 9, tz="UTC")
    context = {
        "data_interval_start": moment,
        "data_interval_end": moment,
        "params": {"date_from": "2026-10-25", "date_to": "2026-10-26"},
        "dag_run": dag_run("manual"),
    }
    window = window_from_context(context)
    assert (window.start, window.end) == (utc(2026, 10, 25), utc(2026, 10, 26))


def test_manual_run_without_logical_date_uses_params() -> None:
    # Airflow 3.3's task runner leaves the data_interval_* keys out when there is no logical date.
    context = {
        "params": {"date_from": "2026-10-25T00:00:00+02:00", "date_to": date(2026, 10, 26)},
        "dag_run": dag_run("manual", conf={}),
    }
    window = window_from_context(context)
    assert (window.start, window.end) == (utc(2026, 10, 24, 22), utc(2026, 10, 26))


def test_none_interval_values_fall_back_to_dag_run_conf() -> None:
    context = {
        "data_interval_start": None,
        "data_interval_end": None,
        "params": {"date_from": None, "date_to": ""},
        "dag_run": dag_run("manual", conf={"date_from": "2026-10-25", "date_to": "2026-10-27"}),
    }
    window = window_from_context(context)
    assert (window.start, window.end) == (utc(2026, 10, 25), utc(2026, 10, 27))


def test_params_win_over_conf() -> None:
    context = {
        "params": {"date_from": "2026-10-25", "date_to": "2026-10-26"},
        "dag_run": dag_run("manual", conf={"date_from": "2020-01-01", "date_to": "2020-01-02"}),
    }
    assert window_from_context(context).start == utc(2026, 10, 25)


def test_only_one_param_names_the_missing_one() -> None:
    with pytest.raises(CopernicaConfigError, match="Param date_to is not set"):
        window_from_context({"params": {"date_from": "2026-10-25"}})


def test_bad_param_value_is_reported() -> None:
    with pytest.raises(CopernicaConfigError, match="date_to='tomorrow'"):
        window_from_context({"params": {"date_from": "2026-10-25", "date_to": "tomorrow"}})


@pytest.mark.parametrize("context", [{}, {"params": {}, "dag_run": dag_run("manual", conf=None)}])
def test_no_interval_and_no_params_says_what_to_set(context: dict) -> None:
    with pytest.raises(CopernicaConfigError) as err:
        window_from_context(context)
    message = str(err.value)
    assert "no data interval" in message and "logical date" in message
    assert "date_from" in message and "date_to" in message
