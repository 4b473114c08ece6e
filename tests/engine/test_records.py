"""records.py: flattening, typing, timestamp conversion (DST days) and the half-open window."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_copernica.catalog.schema import Column
from airflow_provider_copernica.engine.records import (
    RowPlan,
    timestamp_converter,
    to_int,
    to_list,
)
from airflow_provider_copernica.interval import iso_utc, local_days, naive_bounds, naive_to_utc

AMS = ZoneInfo("Europe/Amsterdam")
UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("naive", "expected"),
    [
        ("2026-07-01 12:00:00", "2026-07-01T10:00:00+00:00"),  # summer, +02:00
        ("2026-12-01 12:00:00", "2026-12-01T11:00:00+00:00"),  # winter, +01:00
        ("2026-10-25 01:59:59", "2026-10-24T23:59:59+00:00"),
        ("2026-10-25 02:30:00", "2026-10-25T00:30:00+00:00"),  # repeated hour: first occurrence
        ("2026-10-25 03:00:00", "2026-10-25T02:00:00+00:00"),
        ("2026-03-29 01:59:59", "2026-03-29T00:59:59+00:00"),
        ("2026-03-29 02:30:00", "2026-03-29T01:30:00+00:00"),  # spring gap: shifted forward
        ("2026-03-29 03:00:00", "2026-03-29T01:00:00+00:00"),
    ],
)
def test_naive_local_times_become_utc_on_dst_days(naive: str, expected: str) -> None:
    assert naive_to_utc(naive, AMS).isoformat() == expected


@pytest.mark.parametrize(
    "value", ["", "0000-00-00 00:00:00", "not a time", "0001-01-01 00:10:00", "2026-06-18 05:61:00"]
)
def test_empty_or_invalid_timestamps_are_none(value: str) -> None:
    assert naive_to_utc(value, AMS) is None
    assert timestamp_converter(AMS)(value) is None


# DST changes at 02:00/03:00 (Amsterdam), at midnight (Santiago), by half an hour (Lord Howe),
# with a half-hour offset (St John's, Kolkata); Apia skipped 2011-12-30 altogether.
@pytest.mark.parametrize(
    ("zone", "year"),
    [
        ("Europe/Amsterdam", 2026),
        ("America/Santiago", 2026),
        ("Australia/Lord_Howe", 2026),
        ("America/St_Johns", 2026),
        ("Asia/Kolkata", 2026),
        ("Pacific/Apia", 2011),
    ],
)
def test_fast_timestamp_conversion_matches_naive_to_utc(zone: str, year: int) -> None:
    tz = ZoneInfo(zone)
    convert = timestamp_converter(tz)
    moment, end, step = datetime(year, 1, 1), datetime(year + 1, 1, 1), timedelta(seconds=1037)
    checked = 0
    while moment < end:
        text = moment.isoformat(sep=" ")
        assert convert(text) == iso_utc(naive_to_utc(text, tz)), text
        moment += step
        checked += 1
    assert checked > 30_000
    for text in (
        "2026-10-25T02:30:00",
        "2026-10-25",
        "2026-10-25 02:30:00.250000",
        "2026-10-25 02:30:00+05:00",
    ):
        assert convert(text) == iso_utc(naive_to_utc(text, tz)), text


def test_row_plan_flattens_types_and_keeps_lists() -> None:
    columns = [
        Column("id", "int"),
        Column("fields.email", "str"),
        Column("fields.age", "int"),
        Column("from_address.name", "str"),
        Column("clicks.unique", "int"),
        Column("score", "float"),
        Column("removed", "timestamp"),
        Column("archived", "bool"),
        Column("interests", "list"),
        Column("target.sources", "json"),
        Column("missing.deep", "str"),
        Column("_dataset", "str"),
    ]
    plan = RowPlan(
        columns,
        tz=AMS,
        paths={"fields.email": ("fields", "email"), "fields.age": ("fields", "age")},
        constants={"_dataset": "profiles"},
    )
    record = {
        "ID": "18381",
        "fields": {"email": "test@example.com", "age": "42"},
        "from_address": {"name": "Shop", "email": "x@example.com"},
        "clicks": {"total": "3", "unique": "2"},
        "score": "9.5",
        "removed": False,
        "archived": "true",
        "interests": ["soccer", "tennis"],
        "target": {"sources": [{"id": "7616", "type": "database"}]},
    }
    assert plan(record) == {
        "id": 18381,
        "fields.email": "test@example.com",
        "fields.age": 42,
        "from_address.name": "Shop",
        "clicks.unique": 2,
        "score": 9.5,
        "removed": None,
        "archived": True,
        "interests": ["soccer", "tennis"],
        "target.sources": [{"id": "7616", "type": "database"}],
        "missing.deep": None,
        "_dataset": "profiles",
    }
    # lower-case `id`, PHP's [] for an empty object, a removal date
    other = plan({"id": 7, "fields": [], "removed": "2026-10-25 02:30:00"})
    assert other["id"] == 7
    assert other["fields.email"] is None
    assert other["removed"] == "2026-10-25T00:30:00+00:00"


def test_row_plan_checks_the_half_open_window() -> None:
    window = (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))  # the local day 2026-10-25
    plan = RowPlan(
        [Column("id", "int"), Column("modified", "timestamp")],
        tz=AMS,
        window=window,
        timestamp_field="modified",
    )
    records = [
        {"ID": "1", "modified": "2026-10-24 23:59:59"},  # before
        {"ID": "2", "modified": "2026-10-25 00:00:00"},  # start: inside
        {"ID": "3", "modified": "2026-10-25 02:30:00"},  # repeated hour
        {"ID": "4", "modified": "2026-10-25 23:59:59"},  # last second: inside
        {"ID": "5", "modified": "2026-10-26 00:00:00"},  # end: outside
        {"ID": "6", "modified": None},  # no timestamp: cannot be placed
    ]
    rows = plan.rows(records)
    assert [r["id"] for r in rows] == [2, 3, 4]
    assert rows[0]["modified"] == "2026-10-24T22:00:00+00:00"


def test_window_bounds_with_fractions_of_a_second() -> None:
    window = (utc(2026, 7, 1, 10, 0, 0, 500000), utc(2026, 7, 1, 10, 0, 2, 500000))
    plan = RowPlan([Column("id", "int")], tz=AMS, window=window, timestamp_field="ts")
    records = [
        {"ID": 1, "ts": "2026-07-01 12:00:00"},  # 10:00:00Z: before the start
        {"ID": 2, "ts": "2026-07-01 12:00:00.500000"},  # exactly the start
        {"ID": 3, "ts": "2026-07-01 12:00:01"},
        {"ID": 4, "ts": "2026-07-01 12:00:02"},
        {"ID": 5, "ts": "2026-07-01T10:00:02.5+00:00"},  # exactly the end
        {"ID": 6, "ts": "2026-07-01 12:00:03"},
    ]
    assert [r["id"] for r in plan.rows(records)] == [2, 3, 4]


def test_naive_bounds_widen_the_repeated_hour() -> None:
    # [00:00Z, 01:00Z) is 02:00-03:00 summer time; naive 02:xx all belong to it (fold=0)
    lo, hi = naive_bounds(utc(2026, 10, 25, 0), utc(2026, 10, 25, 1), AMS)
    assert (lo, hi) == (datetime(2026, 10, 25, 2), datetime(2026, 10, 25, 3))
    lo, hi = naive_bounds(utc(2026, 10, 24, 22), utc(2026, 10, 25, 23), AMS)
    assert (lo, hi) == (datetime(2026, 10, 25), datetime(2026, 10, 26))


def test_consecutive_hourly_windows_over_the_autumn_change_partition_naive_times() -> None:
    start = utc(2026, 10, 24, 20)
    windows = [(start + timedelta(hours=h), start + timedelta(hours=h + 1)) for h in range(10)]
    plans = [
        RowPlan([Column("id", "int")], tz=AMS, window=w, timestamp_field="ts") for w in windows
    ]
    naive = datetime(2026, 10, 24, 22)
    records = []
    for n in range(0, 6 * 3600, 600):
        records.append({"ID": n, "ts": (naive + timedelta(seconds=n)).isoformat(sep=" ")})
    seen = [row["id"] for plan in plans for row in plan.rows(records)]
    assert sorted(seen) == [r["ID"] for r in records]  # each exactly once


def test_local_days_are_the_days_ending_in_the_window() -> None:
    day = (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))
    assert local_days(*day, AMS) == [date(2026, 10, 25)]
    assert local_days(utc(2026, 10, 25, 10), utc(2026, 10, 25, 11), AMS) == []
    assert local_days(utc(2026, 10, 24, 22), utc(2026, 10, 27, 23), AMS) == [
        date(2026, 10, 25),
        date(2026, 10, 26),
        date(2026, 10, 27),
    ]


def test_to_int_and_to_list() -> None:
    assert to_int("18381") == 18381
    assert to_int("") is None
    assert to_int("3.0") == 3
    assert to_int("5f3a") == "5f3a"  # a hash id is kept, never lost
    assert to_list({"soccer": True, "tennis": False}) == ["soccer"]
    assert to_list(None) is None


def test_empty_dates_become_null() -> None:
    columns = [
        Column("fields.birthdate", "str"),
        Column("fields.closed", "timestamp"),
        Column("fields.note", "str"),
        Column("fields.seen", "timestamp"),
    ]
    paths = {c.name: ("fields", c.name.split(".")[1]) for c in columns}
    plan = RowPlan(columns, tz=AMS, paths=paths)
    empty = {"birthdate": "0000-00-00", "closed": "0000-00-00 00:00:00"}
    empty |= {"note": "0000-00-00 00:00:00", "seen": "0000-00-00"}
    assert plan({"ID": "1", "fields": empty}) == dict.fromkeys(paths)
    full = {"birthdate": "1980-02-29", "closed": "2026-03-29 03:00:00", "note": "0000"}
    assert plan({"ID": "2", "fields": full | {"seen": ""}}) == {
        "fields.birthdate": "1980-02-29",
        "fields.closed": "2026-03-29T01:00:00+00:00",
        "fields.note": "0000",
        "fields.seen": None,
    }


def _near_misses(count: int) -> list[str]:
    """Texts around the fast path's shape: valid times with one character replaced."""
    rng = random.Random(14)
    alphabet = "0123456789:- T.Z+٣²x"
    texts = ["2026-10-25 02:30:00", "2026-03-29 02:30:00", "2026-06-18 05:59:59"]
    texts += ["2026-10-25T023000.5", "20261025T02:30:00", "2026-W43-7 02:30:00", "2026-10-25 02:30"]
    texts += ["2026-10-25 02:30:00+02:00", "2026-10-25 02:30:00.5", "2026-10-25 24:00:00"]
    for _ in range(count):
        base = list(rng.choice(texts[:3]))
        base[rng.randrange(len(base))] = rng.choice(alphabet)
        texts.append("".join(base))
    return texts


def test_inlined_timestamps_equal_naive_to_utc_on_near_misses() -> None:
    texts = _near_misses(5000)
    expected = [iso_utc(naive_to_utc(text, AMS)) for text in texts]
    assert any(e is None for e in expected) and any(e is not None for e in expected)
    for _ in range(2):  # a cold converter, then one that knows every hour already
        plan = RowPlan([Column("ts", "timestamp")], tz=AMS)
        assert [plan({"ts": text})["ts"] for text in texts] == expected
        assert [plan({"ts": text})["ts"] for text in texts] == expected
        assert [plan.convert_time(text) for text in texts] == expected
