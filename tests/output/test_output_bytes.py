"""Exact output bytes of representative profile rows, pinned before the hot path was optimised.

``RowPlan`` (records.py) and the JSONL and CSV encoders (writers.py) are the per-record hot
loop; any change to make them cheaper must leave these bytes identical. The records cover
the DST changes (repeated autumn hour, spring gap), Copernica's empty dates, nulls and
missing keys, PHP's ``[]`` for an empty object, unicode and escapes, and numbers in every
shape the API sends them. The Parquet file is pinned by its decoded table (its bytes carry
the pyarrow version).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq

from airflow_provider_copernica.catalog.schema import Column
from airflow_provider_copernica.engine.extract import prepare
from airflow_provider_copernica.engine.paging import iter_pages
from airflow_provider_copernica.engine.records import (
    RowPlan,
    to_bool,
    to_float,
    to_int,
    to_list,
    to_str,
)
from airflow_provider_copernica.interval import Window, iso_utc, naive_to_utc
from airflow_provider_copernica.output.writers import open_writer

AMS = ZoneInfo("Europe/Amsterdam")
UTC = timezone.utc
COLUMNS = [
    Column("id", "int"),
    Column("database", "int"),
    Column("secret", "str"),
    Column("created", "timestamp"),
    Column("modified", "timestamp"),
    Column("removed", "timestamp"),
    Column("interests", "list"),
    Column("fields.email", "str"),
    Column("fields.age", "int"),
    Column("fields.score", "float"),
    Column("fields.birthdate", "str"),
    Column("fields.optin", "bool"),
    Column("fields.last_order", "timestamp"),
    Column("extra", "json"),
    Column("_run_id", "str"),
]
WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def _record(n: int, modified: str, **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "ID": str(1000 + n),
        "database": "7616",
        "secret": f"{n:032x}",
        "created": "2026-07-01 12:00:00",
        "modified": modified,
        "removed": False,
        "interests": ["soccer", "travel"],
        "fields": {
            "email": f"user{n}@example.com",
            "age": "41",
            "score": "25.05",
            "birthdate": "1964-08-16",
            "optin": "yes",
            "last_order": "2026-12-01 08:15:00",
        },
        "extra": {"a": [1, None], "b": "c"},
    }
    fields = overrides.pop("fields", {})
    record["fields"] = fields if not isinstance(fields, dict) else {**record["fields"], **fields}
    record.update(overrides)
    return record


RECORDS: list[dict[str, Any]] = [
    _record(1, "2026-07-01 12:00:00"),  # summer time, +02:00
    _record(2, "2026-12-01 12:00:00", created="2026-01-05 00:00:00"),  # winter, +01:00
    _record(3, "2026-10-25 02:30:00", created="2026-10-25 03:00:00"),  # repeated hour: first
    _record(4, "2026-03-29 02:30:00", created="2026-03-29 01:59:59"),  # spring gap: forward
    _record(  # Copernica's empty dates and other non-times
        5,
        "2026-06-18 05:59:59",
        created="0000-00-00 00:00:00",
        removed="2026-06-18 05:61:00",
        fields={"birthdate": "0000-00-00", "last_order": ""},
    ),
    _record(  # nulls, missing keys, PHP's [] for an empty object
        6,
        "2026-05-05 05:05:05",
        secret=None,
        created=None,
        interests=None,
        fields=[],
        extra=None,
    ),
    _record(  # unicode and everything JSON/CSV must escape
        7,
        "2026-08-08T08:08:08",
        secret='Zoë Ångström 😀, "quoted"\nnext\tline \\ back',
        fields={"email": "zoë@exämple.com", "birthdate": "\u0000\u001f\u2028"},
        interests={"soccer": True, "travel": False, "cooking": "1", "ünïcode": "yes"},
    ),
    _record(  # numbers in every shape the API sends them
        8,
        "2026-09-09 09:09:09+02:00",
        ID=1008,
        database="007",
        fields={"age": " 42 ", "score": "3.50", "optin": "0", "last_order": "2026-10-25 02:00:00"},
        extra=[1.5, 2**53, -0.0, True],
    ),
    _record(9, "2026-09-09 09:09:10", fields={"age": "12.0", "score": "", "optin": 1}),
    _record(10, "2026-09-09 09:09:11", fields={"age": "1e3", "score": "1,5", "optin": "maybe"}),
    _record(11, "2026-09-09 09:09:12", fields={"age": "٣", "score": 7, "optin": True}),
    _record(12, "2026-09-09 09:09:13", fields={"age": "x12", "score": "nan"}, database=""),
    _record(13, "2026-09-09 09:09:14", secret=12345, fields={"email": {"nested": ["x"]}}),
    _record(14, "2026-09-09 09:09:15", secret=True, interests="single", ID=" 0042"),
    # a non-finite number: null in every format (JSON has no NaN), and Parquet holds the row
    _record(20, "2026-09-09 09:09:16", fields={"score": "NaN", "age": "7"}),
    # outside the window (dropped): before it, after it, and not a time at all
    _record(15, "2025-12-31 23:59:59+00:00"),
    _record(16, "2027-01-01 01:00:00"),
    _record(17, "0000-00-00 00:00:00"),
    _record(18, "2026-01-01 00:59:59"),  # 23:59:59 UTC the day before: outside
    _record(19, "2026-01-01 01:00:00"),  # 00:00:00 UTC: the window's first second
]


def _plan() -> RowPlan:
    return RowPlan(
        COLUMNS,
        tz=AMS,
        window=WINDOW,
        timestamp_field="modified",
        constants={"_run_id": "manual__2026-12-02"},
    )


def _write(tmp_path: Path, file_format: str, pages: list[list[dict[str, Any]]]) -> Path:
    out = tmp_path / f"out.{file_format}"
    with open_writer(str(out), file_format, COLUMNS) as writer:
        for page in pages:
            writer.write(page)
    return out


def _pages(records: list[dict[str, Any]] = RECORDS) -> list[list[dict[str, Any]]]:
    plan = _plan()
    return [plan.rows(records[:7]), plan.rows(records[7:])]


# Parquet refuses values its column type cannot hold ("x12" in an int column); those rows
# are pinned in JSONL and CSV only.
PARQUET_RECORDS = [r for r in RECORDS if r["ID"] not in ("1010", "1012")]


EXPECTED_JSONL = (
    b'{"id":1001,"database":7616,"secret":"00000000000000000000000000000001","created":"2026-07-01T10:00:00+00:00","modified":"2026-07-01T10:00:00+00:00","removed":null,"interests":["soccer","travel"],"fields.email":"user1@example.com","fields.age":41,"fields.score":25.05,"fields.birthdate":"1964-08-16","fields.optin":true,"fields.last_order":"2026-12-01T07:15:00+00:00","extra":{"a":[1,null],"b":"c"},"_run_id":"manual__2026-12-02"}\n'
    b'{"id":1002,"database":7616,"secret":"00000000000000000000000000000002","created":"2026-01-04T23:00:00+00:00","modified":"2026-12-01T11:00:00+00:00","removed":null,"interests":["soccer","travel"],"fields.email":"user2@example.com","fields.age":41,"fields.score":25.05,"fields.birthdate":"1964-08-16","fields.optin":true,"fields.last_order":"2026-12-01T07:15:00+00:00","extra":{"a":[1,null],"b":"c"},"_run_id":"manual__2026-12-02"}\n'
    b'{"id":1003,"database":7616,"secret":"00000000000000000000000000000003","created":"2026-10-25T02:00:00+00:00","modified":"2026-10-25T00:30:00+00:00","removed":null,"interests":["soccer","travel"],"fields.email":"user3@example.com","fields.age":41,"fields.score":25.05,"fields.birthdate":"1964-08-16","fields.optin":true,"fields.last_order":"2026-12-01T07:15:00+00:00","extra":{"a":[1,null],"b":"c"},"_run_id":"manual__2026-12-02"}\n'
    b'{"id":1004,"database":7616,"secret":"00000000000000000000000000000004","created":"2026-03-29T00:59:59+00:00","modified":"2026-03-29T01:30:00+00:00","removed":null,"interests":["soccer","travel"],"fields.email":"user4@example.com","fields.age":41,"fields.score":25.05,"fields.birthdate":"1964-08-16","fields.optin":true,"fields.last_order":"2026-12-01T07:15:00+00:00","extra":{"a":[1,null],"b":"c"},"_run_id":"manual__2026-12-02"}\n'
    b'{"id":1005,"database":7616,"secret":"00000000000000000000000000000005","created":null,"modified":"2026-06-18T03:59:59+00:00","removed":null,"interests":["soccer","travel"],"fields.email":"user5@example.com","fields.age":41,"fields.score":25.05,"fields.birthdate":null,"fields.optin":true,"fields.last_order":null,"extra":{"a":[1,null],"b":"c"},"_run_id":"manual__2026-12-02"}\n'
    b'{"id":1006,"database":7616,"secret":null,"created":null,"modified":"2026-05-05T03:05:05+00:00","removed":null,"interests":null,"fields.email":null,"fields.age":null,"fields.score":null,"fields.birthdate":null,"fields.optin":null,"fields.last_order":null,"extra":null,"_run_id":"manual__2026-12-02"}\n'
    b'{"id":1007,"database":7616,"secret":"Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m \xf0\x9f\x98\x80, \\"quoted\\"\\nnext\\tline \\\\ back","created":"2026-07-01T10:00:00+00:00","modified":"2026-08-08T06:08:08+00:00","removed":null,"interests":["soccer","cooking","\xc3\xbcn\xc3\xafcode"],"fields.email":"zo\xc3\xab@ex\xc3\xa4mple.com","fields.age":41,"fields.score":25.05,"fields.birthdate":"\\u0000\\u001f\xe2\x80\xa8","fields.optin":true,"fields.last_order":"2026-12-01T07:15:00+00:00","extra":{"a":[1,null],"b":"c"},"_run_id":"manual__2026-12-02"}\n'
    b'{"id":1008,"database":7,"secret":"00000000000000000000000000000008","created":"2026-07-01T10:00:00+00:00","modified":"2026-09-09T07:09:09+00:00","removed":null,"interests":["soccer","travel"],"fields.email":"user8@example.com","fields.age":42,"fields.score":3.5,"fields.birthdate":"1964-08-16","fields.optin":false,"fields.last_order":"2026-10-25T00:00:00+00:00","extra":[1.5,9007199254740992,-0.0,true],"_run_id":"manual__2026-12-02"}\n'
    b'{"id":1009,"database":7616,"secret":"00000000000000000000000000000009","created":"2026-07-01T10:00:00+00:00","modified":"2026-09-09T07:09:10+00:00","removed":null,"interests":["soccer","travel"],"fields.email":"user9@example.com","fields.age":12,"fields.score":null,"fields.birthdate":"1964-08-16","fields.optin":true,"fields.last_order":"2026-12-01T07:15:00+00:00","extra":{"a":[1,null],"b":"c"},"_run_id":"manual__2026-12-02"}\n'
    b'{"id":1010,"database":7616,"secret":"0000000000000000000000000000000a","created":"2026-07-01T10:00:00+00:00","modified":"2026-09-09T07:09:11+00:00","removed":null,"interests":["soccer","travel"],"fields.email":"user10@example.com","fields.age":1000,"fields.score":"1,5","fields.birthdate":"1964-08-16","fields.optin":"maybe","fields.last_order":"2026-12-01T07:15:00+00:00","extra":{"a":[1,null],"b":"c"},"_run_id":"manual__2026-12-02"}\n'
    b'{"id":1011,"database":7616,"secret":"0000000000000000000000000000000b","created":"2026-07-01T10:00:00+00:00","modified":"2026-09-09T07:09:12+00:00","removed":null,"interests":["soccer","travel"],"fields.email":"user11@example.com","fields.age":3,"fields.score":7.0,"fields.birthdate":"1964-08-16","fields.optin":true,"fields.last_order":"2026-12-01T07:15:00+00:00","extra":{"a":[1,null],"b":"c"},"_run_id":"manual__2026-12-02"}\n'
    b'{"id":1012,"database":null,"secret":"0000000000000000000000000000000c","created":"2026-07-01T10:00:00+00:00","modified":"2026-09-09T07:09:13+00:00","removed":null,"interests":["soccer","travel"],"fields.email":"user12@example.com","fields.age":"x12","fields.score":null,"fields.birthdate":"1964-08-16","fields.optin":true,"fields.last_order":"2026-12-01T07:15:00+00:00","extra":{"a":[1,null],"b":"c"},"_run_id":"manual__2026-12-02"}\n'
    b'{"id":1013,"database":7616,"secret":"12345","created":"2026-07-01T10:00:00+00:00","modified":"2026-09-09T07:09:14+00:00","removed":null,"interests":["soccer","travel"],"fields.email":"{\\"nested\\":[\\"x\\"]}","fields.age":41,"fields.score":25.05,"fields.birthdate":"1964-08-16","fields.optin":true,"fields.last_order":"2026-12-01T07:15:00+00:00","extra":{"a":[1,null],"b":"c"},"_run_id":"manual__2026-12-02"}\n'
    b'{"id":42,"database":7616,"secret":"true","created":"2026-07-01T10:00:00+00:00","modified":"2026-09-09T07:09:15+00:00","removed":null,"interests":["single"],"fields.email":"user14@example.com","fields.age":41,"fields.score":25.05,"fields.birthdate":"1964-08-16","fields.optin":true,"fields.last_order":"2026-12-01T07:15:00+00:00","extra":{"a":[1,null],"b":"c"},"_run_id":"manual__2026-12-02"}\n'
    b'{"id":1020,"database":7616,"secret":"00000000000000000000000000000014","created":"2026-07-01T10:00:00+00:00","modified":"2026-09-09T07:09:16+00:00","removed":null,"interests":["soccer","travel"],"fields.email":"user20@example.com","fields.age":7,"fields.score":null,"fields.birthdate":"1964-08-16","fields.optin":true,"fields.last_order":"2026-12-01T07:15:00+00:00","extra":{"a":[1,null],"b":"c"},"_run_id":"manual__2026-12-02"}\n'
    b'{"id":1019,"database":7616,"secret":"00000000000000000000000000000013","created":"2026-07-01T10:00:00+00:00","modified":"2026-01-01T00:00:00+00:00","removed":null,"interests":["soccer","travel"],"fields.email":"user19@example.com","fields.age":41,"fields.score":25.05,"fields.birthdate":"1964-08-16","fields.optin":true,"fields.last_order":"2026-12-01T07:15:00+00:00","extra":{"a":[1,null],"b":"c"},"_run_id":"manual__2026-12-02"}\n'
)

EXPECTED_CSV = (
    b"id,database,secret,created,modified,removed,interests,fields.email,fields.age,fields.score,fields.birthdate,fields.optin,fields.last_order,extra,_run_id\r\n"
    b'1001,7616,00000000000000000000000000000001,2026-07-01T10:00:00+00:00,2026-07-01T10:00:00+00:00,,"[""soccer"",""travel""]",user1@example.com,41,25.05,1964-08-16,true,2026-12-01T07:15:00+00:00,"{""a"":[1,null],""b"":""c""}",manual__2026-12-02\r\n'
    b'1002,7616,00000000000000000000000000000002,2026-01-04T23:00:00+00:00,2026-12-01T11:00:00+00:00,,"[""soccer"",""travel""]",user2@example.com,41,25.05,1964-08-16,true,2026-12-01T07:15:00+00:00,"{""a"":[1,null],""b"":""c""}",manual__2026-12-02\r\n'
    b'1003,7616,00000000000000000000000000000003,2026-10-25T02:00:00+00:00,2026-10-25T00:30:00+00:00,,"[""soccer"",""travel""]",user3@example.com,41,25.05,1964-08-16,true,2026-12-01T07:15:00+00:00,"{""a"":[1,null],""b"":""c""}",manual__2026-12-02\r\n'
    b'1004,7616,00000000000000000000000000000004,2026-03-29T00:59:59+00:00,2026-03-29T01:30:00+00:00,,"[""soccer"",""travel""]",user4@example.com,41,25.05,1964-08-16,true,2026-12-01T07:15:00+00:00,"{""a"":[1,null],""b"":""c""}",manual__2026-12-02\r\n'
    b'1005,7616,00000000000000000000000000000005,,2026-06-18T03:59:59+00:00,,"[""soccer"",""travel""]",user5@example.com,41,25.05,,true,,"{""a"":[1,null],""b"":""c""}",manual__2026-12-02\r\n'
    b"1006,7616,,,2026-05-05T03:05:05+00:00,,,,,,,,,,manual__2026-12-02\r\n"
    b'1007,7616,"Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m \xf0\x9f\x98\x80, ""quoted""\n'
    b'next\tline \\ back",2026-07-01T10:00:00+00:00,2026-08-08T06:08:08+00:00,,"[""soccer"",""cooking"",""\xc3\xbcn\xc3\xafcode""]",zo\xc3\xab@ex\xc3\xa4mple.com,41,25.05,\x00\x1f\xe2\x80\xa8,true,2026-12-01T07:15:00+00:00,"{""a"":[1,null],""b"":""c""}",manual__2026-12-02\r\n'
    b'1008,7,00000000000000000000000000000008,2026-07-01T10:00:00+00:00,2026-09-09T07:09:09+00:00,,"[""soccer"",""travel""]",user8@example.com,42,3.5,1964-08-16,false,2026-10-25T00:00:00+00:00,"[1.5,9007199254740992,-0.0,true]",manual__2026-12-02\r\n'
    b'1009,7616,00000000000000000000000000000009,2026-07-01T10:00:00+00:00,2026-09-09T07:09:10+00:00,,"[""soccer"",""travel""]",user9@example.com,12,,1964-08-16,true,2026-12-01T07:15:00+00:00,"{""a"":[1,null],""b"":""c""}",manual__2026-12-02\r\n'
    b'1010,7616,0000000000000000000000000000000a,2026-07-01T10:00:00+00:00,2026-09-09T07:09:11+00:00,,"[""soccer"",""travel""]",user10@example.com,1000,"1,5",1964-08-16,maybe,2026-12-01T07:15:00+00:00,"{""a"":[1,null],""b"":""c""}",manual__2026-12-02\r\n'
    b'1011,7616,0000000000000000000000000000000b,2026-07-01T10:00:00+00:00,2026-09-09T07:09:12+00:00,,"[""soccer"",""travel""]",user11@example.com,3,7.0,1964-08-16,true,2026-12-01T07:15:00+00:00,"{""a"":[1,null],""b"":""c""}",manual__2026-12-02\r\n'
    b'1012,,0000000000000000000000000000000c,2026-07-01T10:00:00+00:00,2026-09-09T07:09:13+00:00,,"[""soccer"",""travel""]",user12@example.com,x12,,1964-08-16,true,2026-12-01T07:15:00+00:00,"{""a"":[1,null],""b"":""c""}",manual__2026-12-02\r\n'
    b'1013,7616,12345,2026-07-01T10:00:00+00:00,2026-09-09T07:09:14+00:00,,"[""soccer"",""travel""]","{""nested"":[""x""]}",41,25.05,1964-08-16,true,2026-12-01T07:15:00+00:00,"{""a"":[1,null],""b"":""c""}",manual__2026-12-02\r\n'
    b'42,7616,true,2026-07-01T10:00:00+00:00,2026-09-09T07:09:15+00:00,,"[""single""]",user14@example.com,41,25.05,1964-08-16,true,2026-12-01T07:15:00+00:00,"{""a"":[1,null],""b"":""c""}",manual__2026-12-02\r\n'
    b'1020,7616,00000000000000000000000000000014,2026-07-01T10:00:00+00:00,2026-09-09T07:09:16+00:00,,"[""soccer"",""travel""]",user20@example.com,7,,1964-08-16,true,2026-12-01T07:15:00+00:00,"{""a"":[1,null],""b"":""c""}",manual__2026-12-02\r\n'
    b'1019,7616,00000000000000000000000000000013,2026-07-01T10:00:00+00:00,2026-01-01T00:00:00+00:00,,"[""soccer"",""travel""]",user19@example.com,41,25.05,1964-08-16,true,2026-12-01T07:15:00+00:00,"{""a"":[1,null],""b"":""c""}",manual__2026-12-02\r\n'
)

EXPECTED_PARQUET_SCHEMA = "id: int64\ndatabase: int64\nsecret: string\ncreated: string\nmodified: string\nremoved: string\ninterests: list<element: string>\n  child 0, element: string\nfields.email: string\nfields.age: int64\nfields.score: double\nfields.birthdate: string\nfields.optin: bool\nfields.last_order: string\nextra: string\n_run_id: string"


def test_profile_rows_to_jsonl_bytes(tmp_path: Path) -> None:
    assert _write(tmp_path, "jsonl", _pages()).read_bytes() == EXPECTED_JSONL


def test_profile_rows_to_csv_bytes(tmp_path: Path) -> None:
    assert _write(tmp_path, "csv", _pages()).read_bytes() == EXPECTED_CSV


def test_profile_rows_to_parquet_table(tmp_path: Path) -> None:
    table = pq.read_table(_write(tmp_path, "parquet", _pages(PARQUET_RECORDS)))
    assert str(table.schema) == EXPECTED_PARQUET_SCHEMA
    ids = {int(r["ID"]) for r in PARQUET_RECORDS}
    expected = [row for row in map(json.loads, EXPECTED_JSONL.splitlines()) if row["id"] in ids]
    for row in expected:  # Parquet keeps a json column as its JSON text
        row["extra"] = (
            None if row["extra"] is None else json.dumps(row["extra"], separators=(",", ":"))
        )
    assert table.to_pylist() == expected


# -- the compiled plan against a plain reference, on the sandbox's own profiles -----------


def _reference_row(record: dict[str, Any], columns: list[Column], tz: ZoneInfo) -> dict | None:
    """The rules of records.py applied one value at a time, with no shortcuts."""
    convert = {"int": to_int, "float": to_float, "bool": to_bool, "str": to_str, "list": to_list}
    modified = record.get("modified")
    moment = naive_to_utc(modified, tz) if isinstance(modified, str) else None
    if moment is None or not (WINDOW[0] <= moment < WINDOW[1]):
        return None
    row: dict[str, Any] = {}
    for column in columns:
        *parents, leaf = column.name.split(".")
        source: Any = record
        for parent in parents:
            source = source.get(parent)
            source = source if isinstance(source, dict) else {}
        value = source.get("ID", source.get("id")) if column.name == "id" else source.get(leaf)
        if column.type == "timestamp":
            row[column.name] = iso_utc(naive_to_utc(value, tz)) if isinstance(value, str) else None
        elif column.type == "json":
            row[column.name] = value
        else:
            row[column.name] = convert[column.type](value)
    return row


def test_compiled_plan_equals_the_reference_on_sandbox_profiles(hook: Any) -> None:
    extraction = prepare(hook, "profiles", options={"database_id": 7616}, window=Window(*WINDOW))
    columns = extraction.columns
    records = [
        r for page in iter_pages(hook, "database/7616/profiles", paging="keyset") for r in page
    ]
    assert len(records) > 2000
    plan = RowPlan(columns, tz=AMS, window=WINDOW, timestamp_field="modified")
    expected = [row for r in records if (row := _reference_row(r, columns, AMS)) is not None]
    assert plan.rows(records) == expected


def test_a_non_finite_number_is_null_in_every_format(tmp_path: Path) -> None:
    # "nan"/"NaN" in a float field: JSONL null, CSV an empty field (as every null), and
    # Parquet null; record 1020 is in the Parquet check (1012 is not: "x12" in an int column)
    assert "1020" in {r["ID"] for r in PARQUET_RECORDS}
    lines = _write(tmp_path, "jsonl", _pages()).read_bytes().splitlines()
    jsonl = {row["id"]: row["fields.score"] for row in map(json.loads, lines)}
    text = _write(tmp_path, "csv", _pages()).read_bytes().decode()
    by_csv = {row["id"]: row["fields.score"] for row in csv.DictReader(io.StringIO(text))}
    table = pq.read_table(_write(tmp_path, "parquet", _pages(PARQUET_RECORDS))).to_pylist()
    parquet = {row["id"]: row["fields.score"] for row in table}
    assert jsonl[1012] is None and jsonl[1020] is None
    assert by_csv["1012"] == "" and by_csv["1020"] == ""
    assert parquet[1020] is None
