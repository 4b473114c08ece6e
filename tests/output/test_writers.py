"""Writers: exact round trips per format, atomic commit/abort, storage URIs, stale cleanup."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_copernica.catalog.schema import Column
from airflow_provider_copernica.exceptions import CopernicaConfigError, CopernicaError
from airflow_provider_copernica.output.writers import (
    FILE_FORMATS,
    FORMATS,
    STORAGE_BACKENDS,
    FsspecStorage,
    LocalStorage,
    canonical_output_uri,
    check_file_format,
    check_output_uri,
    open_storage,
    open_writer,
    remove_stale_temporaries,
    require_file_format,
    temporary_name,
)

COLUMNS = [
    Column("id", "int"),
    Column("fields.name", "str"),
    Column("score", "float"),
    Column("active", "bool"),
    Column("modified", "timestamp"),
    Column("interests", "list"),
    Column("extra", "json"),
]
ROWS: list[dict[str, Any]] = [
    {
        "id": 1,
        "fields.name": 'Zoë Ångström 😀, "quoted"\nnext line',
        "score": 1.5,
        "active": True,
        "modified": "2026-10-25T01:30:00+00:00",
        "interests": ["cycling", "ünïcode"],
        "extra": {"a": [1, {"b": None}], "c": "d"},
    },
    {
        "id": 2,
        "fields.name": None,
        "score": None,
        "active": False,
        "modified": None,
        "interests": [],
        "extra": None,
    },
    # Missing keys are written as nulls; unknown keys are ignored.
    {"id": 3, "not_a_column": "dropped"},
]
NAMES = [c.name for c in COLUMNS]


def temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".tmp-" in p.name)


def write_file(uri: Any, file_format: str, pages: list[list[dict[str, Any]]], **kwargs: Any) -> str:
    with open_writer(uri, file_format, COLUMNS, **kwargs) as writer:
        for page in pages:
            writer.write(page)
        result = writer.commit()
    assert writer.rows_written == sum(len(page) for page in pages)
    return result


# --- formats ----------------------------------------------------------------------------


def test_jsonl_round_trip(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    assert write_file(str(target), "jsonl", [ROWS[:2], ROWS[2:]]) == f"file://{target}"
    lines = target.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    assert [list(r) for r in records] == [NAMES] * 3  # keys in column order
    assert records[0] == ROWS[0]
    assert records[1] == ROWS[1]
    assert records[2] == dict.fromkeys(NAMES) | {"id": 3}
    assert "Zoë Ångström 😀" in lines[0]  # real UTF-8, not \u escapes


def test_percent_encoded_file_uri_names_the_decoded_path(tmp_path: Path) -> None:
    target = tmp_path / "my exports" / "clicks 100%.jsonl"
    uri = target.as_uri()  # file:///.../my%20exports/clicks%20100%25.jsonl
    assert "%20" in uri
    assert write_file(uri, "jsonl", [ROWS]) == uri
    assert [p.name for p in tmp_path.iterdir()] == ["my exports"]
    assert [p.name for p in target.parent.iterdir()] == ["clicks 100%.jsonl"]
    assert [json.loads(line)["id"] for line in target.read_text().splitlines()] == [1, 2, 3]
    # a plain path is literal: its "%20" is part of the name
    literal = tmp_path / "a%20b.jsonl"
    assert write_file(str(literal), "jsonl", [ROWS]) == literal.as_uri()
    assert literal.exists()
    assert check_output_uri(literal.as_uri()) == literal.as_uri()
    # decoding must not let a templated name climb out of its directory
    for name in ("%2e%2e/%2e%2e/escaped.jsonl", "..%2F..%2Fescaped.jsonl"):
        with pytest.raises(CopernicaConfigError, match=r"'\.\.' path segment"):
            open_writer(f"{tmp_path.as_uri()}/{name}", "jsonl", COLUMNS)


def test_csv_round_trip(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    write_file(target.as_uri(), "csv", [ROWS])
    with target.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        body = list(reader)
    assert header == NAMES
    assert body == [
        [
            "1",
            'Zoë Ångström 😀, "quoted"\nnext line',
            "1.5",
            "true",
            "2026-10-25T01:30:00+00:00",
            '["cycling","ünïcode"]',
            '{"a":[1,{"b":null}],"c":"d"}',
        ],
        ["2", "", "", "false", "", "[]", ""],
        ["3", "", "", "", "", "", ""],
    ]
    assert json.loads(body[0][6]) == ROWS[0]["extra"]


def test_parquet_round_trip_with_types(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    write_file(str(target), "parquet", [ROWS[:1], ROWS[1:]])
    table = pq.read_table(target)
    assert table.schema == pa.schema(
        [
            ("id", pa.int64()),
            ("fields.name", pa.string()),
            ("score", pa.float64()),
            ("active", pa.bool_()),
            ("modified", pa.string()),
            ("interests", pa.list_(pa.string())),
            ("extra", pa.string()),
        ]
    )
    assert table.to_pylist() == [
        {**ROWS[0], "extra": '{"a":[1,{"b":null}],"c":"d"}'},
        ROWS[1],
        dict.fromkeys(NAMES) | {"id": 3},
    ]


def test_parquet_coerces_loose_values_and_rejects_impossible_ones(tmp_path: Path) -> None:
    rows = [
        {"id": "42", "fields.name": 7, "score": "2.25", "active": "true", "interests": [1, None]}
    ]
    write_file(str(tmp_path / "loose.parquet"), "parquet", [rows])
    (row,) = pq.read_table(tmp_path / "loose.parquet").to_pylist()
    assert (row["id"], row["fields.name"], row["score"], row["active"]) == (42, "7", 2.25, True)
    assert row["interests"] == ["1", None]

    with (
        pytest.raises(CopernicaError, match="Column 'id' has type int but a row holds 'abc'"),
        open_writer(str(tmp_path / "bad.parquet"), "parquet", COLUMNS) as writer,
    ):
        writer.write([{"id": "abc"}])
    assert list(tmp_path.iterdir()) == [tmp_path / "loose.parquet"]


def test_parquet_row_groups(tmp_path: Path) -> None:
    target = tmp_path / "groups.parquet"
    pages = [
        [{"id": n, "fields.name": f"p{n}"} for n in range(s, s + 300)] for s in range(0, 2500, 300)
    ]
    pages[-1] = pages[-1][:100]  # 2500 rows in pages of 300
    write_file(str(target), "parquet", pages, row_group_rows=1000)
    metadata = pq.ParquetFile(target).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [
        1000,
        1000,
        500,
    ]
    assert pq.read_table(target, columns=["id"]).column("id").to_pylist() == list(range(2500))


@pytest.mark.parametrize("file_format", FILE_FORMATS)
def test_empty_output(tmp_path: Path, file_format: str) -> None:
    target = tmp_path / f"empty.{file_format}"
    write_file(str(target), file_format, [[]])
    if file_format == "jsonl":
        assert target.read_bytes() == b""
    elif file_format == "csv":
        assert target.read_bytes() == (",".join(NAMES) + "\r\n").encode()
    else:
        table = pq.read_table(target)
        assert table.num_rows == 0
        assert table.schema.names == NAMES
        assert table.schema.field("interests").type == pa.list_(pa.string())


# --- atomicity --------------------------------------------------------------------------


def test_temporary_lives_beside_the_target_until_commit(tmp_path: Path) -> None:
    target = tmp_path / "day.jsonl"
    target.write_text("previous\n")
    with open_writer(str(target), "jsonl", COLUMNS) as writer:
        writer.write(ROWS)
        (temporary,) = temporaries(tmp_path)
        assert temporary.startswith(temporary_name("day.jsonl", ""))
        assert temporary.startswith(".day.jsonl.tmp-")
        assert writer.temporary_path == str(tmp_path / temporary)
        assert target.read_text() == "previous\n"
    assert temporaries(tmp_path) == []
    assert len(target.read_text().splitlines()) == 3


def test_commit_replaces_atomically_by_rename(tmp_path: Path) -> None:
    target = tmp_path / "day.csv"
    target.write_text("old content\n")
    with target.open() as reader_of_old:
        writer = open_writer(str(target), "csv", COLUMNS)
        writer.write(ROWS)
        assert writer.commit() == f"file://{target}"
        # A reader that opened the old file still sees all of it: the new file was renamed
        # over it, not written into it.
        assert reader_of_old.read() == "old content\n"
    assert target.read_text(encoding="utf-8").startswith(",".join(NAMES))
    assert temporaries(tmp_path) == []


def test_abort_keeps_previous_file_and_removes_temporary(tmp_path: Path) -> None:
    target = tmp_path / "day.parquet"
    write_file(str(target), "parquet", [ROWS])
    before = target.read_bytes()
    writer = open_writer(str(target), "parquet", COLUMNS)
    writer.write([{"id": 99}])
    writer.abort()
    writer.abort()  # idempotent
    assert target.read_bytes() == before
    assert temporaries(tmp_path) == []
    with pytest.raises(CopernicaError, match="aborted"):
        writer.write(ROWS)
    with pytest.raises(CopernicaError, match="aborted"):
        writer.commit()


@pytest.mark.parametrize("file_format", FILE_FORMATS)
def test_exception_inside_context_aborts(tmp_path: Path, file_format: str) -> None:
    target = tmp_path / f"day.{file_format}"
    target.write_bytes(b"previous complete result")
    with (
        pytest.raises(RuntimeError, match="API died"),
        open_writer(str(target), file_format, COLUMNS) as writer,
    ):
        writer.write(ROWS)
        raise RuntimeError("API died")
    assert target.read_bytes() == b"previous complete result"
    assert temporaries(tmp_path) == []


def test_failed_commit_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "day.jsonl"
    writer = open_writer(str(target), "jsonl", COLUMNS)
    writer.write(ROWS)
    (target / "blocker").mkdir(parents=True)  # something made the target a directory
    with pytest.raises(OSError):
        writer.commit()
    assert temporaries(tmp_path) == []
    assert (target / "blocker").is_dir()


def test_context_exit_commits_and_commit_is_once(tmp_path: Path) -> None:
    target = tmp_path / "auto.jsonl"
    with open_writer(str(target), "jsonl", COLUMNS) as writer:
        writer.write(ROWS[:1])
    assert json.loads(target.read_text())["id"] == 1
    with pytest.raises(CopernicaError, match="committed"):
        writer.commit()
    writer.abort()  # no-op after commit
    assert target.exists()


def test_parent_directories_are_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c" / "out.jsonl"
    write_file(f"file://{target}", "jsonl", [ROWS])
    assert len(target.read_text().splitlines()) == 3


def test_relative_path_resolves_against_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert check_output_uri("sub/out.csv") == f"file://{tmp_path}/sub/out.csv"
    assert write_file("sub/out.csv", "csv", [ROWS]) == f"file://{tmp_path}/sub/out.csv"
    assert (tmp_path / "sub" / "out.csv").exists()


def test_home_directory_paths_are_expanded_once_for_every_user_of_the_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    expected = (tmp_path / "x.jsonl").as_uri()
    assert canonical_output_uri("~/x.jsonl") == check_output_uri("~/x.jsonl") == expected
    assert write_file("~/x.jsonl", "jsonl", [ROWS]) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.jsonl"]  # not ./~/x.jsonl


@pytest.mark.parametrize(
    "uri", ["/data/../etc/x.jsonl", "rel/../x.jsonl", "memory://bucket/a/../b.jsonl"]
)
def test_parent_segments_are_refused_in_every_spelling(uri: str, memory_fs: Any) -> None:
    with pytest.raises(CopernicaConfigError, match=r"'\.\.' path segment"):
        canonical_output_uri(uri)
    with pytest.raises(CopernicaConfigError, match=r"'\.\.' path segment"):
        open_writer(uri, "jsonl", COLUMNS)


def test_one_table_of_formats_and_one_backend_per_scheme(tmp_path: Path, memory_fs: Any) -> None:
    assert FILE_FORMATS == tuple(FORMATS) == ("jsonl", "csv", "parquet")
    assert {f.extension for f in FORMATS.values()} == {".jsonl", ".csv", ".parquet"}
    assert set(STORAGE_BACKENDS) == {"", "file", "local"}
    assert isinstance(open_storage(str(tmp_path / "a.csv")), LocalStorage)
    assert isinstance(open_storage((tmp_path / "a.csv").as_uri()), LocalStorage)
    remote = open_storage("memory://bucket/a.csv")
    assert isinstance(remote, FsspecStorage) and remote.fs is memory_fs
    assert canonical_output_uri("s3://aws_conn@lake/k.parquet") == "s3://lake/k.parquet"


# --- non-local storage ------------------------------------------------------------------


@pytest.fixture(scope="module")
def memory_fs() -> Any:
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    # An fsspec filesystem Airflow has no provider for: attached the documented way.
    return attach("memory", fs=MemoryFileSystem()).fs


@pytest.mark.parametrize("file_format", FILE_FORMATS)
def test_memory_storage_through_object_storage_path(memory_fs: Any, file_format: str) -> None:
    from airflow.sdk import ObjectStoragePath

    bucket = f"bucket-{uuid.uuid4().hex[:8]}"
    uri = f"memory://{bucket}/copernica/day.{file_format}"
    assert check_output_uri(uri) == uri
    assert write_file(uri, file_format, [ROWS[:1], ROWS[1:]]) == uri
    assert write_file(ObjectStoragePath(uri), file_format, [ROWS]) == uri  # replace works
    data = memory_fs.cat(f"/{bucket}/copernica/day.{file_format}")
    if file_format == "jsonl":
        assert [json.loads(line)["id"] for line in data.splitlines()] == [1, 2, 3]
    elif file_format == "csv":
        assert [r["id"] for r in csv.DictReader(io.StringIO(data.decode()))] == ["1", "2", "3"]
    else:
        assert pq.read_table(io.BytesIO(data)).column("interests").to_pylist()[0] == [
            "cycling",
            "ünïcode",
        ]
    assert memory_fs.ls(f"/{bucket}/copernica", detail=False) == [
        f"/{bucket}/copernica/day.{file_format}"
    ]

    with pytest.raises(RuntimeError), open_writer(uri, file_format, COLUMNS) as writer:
        writer.write([{"id": 100}])
        raise RuntimeError("boom")
    assert memory_fs.cat(f"/{bucket}/copernica/day.{file_format}") == data
    assert len(memory_fs.ls(f"/{bucket}/copernica")) == 1


# --- validation -------------------------------------------------------------------------


def test_unknown_format_lists_formats_and_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "never" / "out.xlsx"
    with pytest.raises(CopernicaConfigError) as err:
        open_writer(str(target), "xlsx", COLUMNS)
    assert str(err.value) == "Unknown file_format 'xlsx'; valid formats: jsonl, csv, parquet"
    assert not (tmp_path / "never").exists()
    with pytest.raises(CopernicaConfigError, match="valid formats: jsonl, csv, parquet"):
        check_output_uri(str(target), file_format="JSON")


def test_parquet_without_pyarrow_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(CopernicaConfigError, match=r"airflow-provider-copernica\[parquet\]"):
        require_file_format("parquet")  # when the task runs
    assert check_file_format("parquet") == "parquet"  # at DAG parse: the value only
    assert require_file_format("csv") == "csv"


def test_duplicate_columns_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(CopernicaConfigError, match="Duplicate output columns: id"):
        open_writer(str(tmp_path / "x.csv"), "csv", [Column("id", "int"), Column("id", "str")])


def test_uri_under_a_file_is_rejected_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("a file")
    uri = str(tmp_path / "plain.txt" / "sub" / "out.jsonl")
    with pytest.raises(CopernicaConfigError) as err:
        check_output_uri(uri)
    assert f"{tmp_path / 'plain.txt'} is a file, not a directory" in str(err.value)
    with pytest.raises(CopernicaConfigError, match="is a file"):
        open_writer(uri, "jsonl", COLUMNS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.txt"]


def test_directory_targets_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(CopernicaConfigError, match="is a directory, not a file"):
        check_output_uri(str(tmp_path))
    with pytest.raises(CopernicaConfigError, match="names a directory; it must name a file"):
        check_output_uri(f"file://{tmp_path}/out/")
    with pytest.raises(CopernicaConfigError, match="output_uri is empty"):
        check_output_uri("  ")


def test_unknown_scheme_is_rejected() -> None:
    with pytest.raises(CopernicaConfigError, match="'nosuchfs://bucket/x.jsonl' is not usable"):
        check_output_uri("nosuchfs://bucket/x.jsonl")


def test_scheme_without_installed_provider_names_the_package() -> None:
    from airflow.sdk.io import has_fs

    if has_fs("gs"):
        pytest.skip("the Google provider is installed here")
    with pytest.raises(CopernicaConfigError) as err:
        check_output_uri("gs://bucket/copernica/x.parquet", conn_id="google_cloud_default")
    message = str(err.value)
    assert "No storage is available for scheme 'gs'" in message
    assert "apache-airflow-providers-google" in message


# --- stale temporaries ------------------------------------------------------------------


def test_remove_stale_temporaries_only_removes_old_ones_of_that_target(tmp_path: Path) -> None:
    target = tmp_path / "day.jsonl"
    old = tmp_path / temporary_name("day.jsonl")
    fresh = tmp_path / temporary_name("day.jsonl")
    other_target = tmp_path / temporary_name("other.jsonl")
    unrelated = tmp_path / ".day.jsonl.backup"
    for path in (old, fresh, other_target, unrelated, target):
        path.write_text("x")
    two_hours_ago = time.time() - 7200
    for path in (old, other_target, unrelated):
        os.utime(path, (two_hours_ago, two_hours_ago))

    assert remove_stale_temporaries(str(target), 3600) == [str(old)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [fresh.name, other_target.name, unrelated.name, "day.jsonl"]
    )
    assert remove_stale_temporaries(str(tmp_path / "missing-dir" / "x.csv"), 0) == []


def test_open_writer_cleans_stale_temporaries_first(tmp_path: Path) -> None:
    target = tmp_path / "day.csv"
    killed = tmp_path / temporary_name("day.csv")
    killed.write_text("partial")
    long_ago = time.time() - 86400
    os.utime(killed, (long_ago, long_ago))
    write_file(str(target), "csv", [ROWS])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.csv"]


def test_an_open_writer_makes_the_collector_run_less_often(tmp_path: Path) -> None:
    import gc

    from airflow_provider_copernica.output.collector import GEN0_THRESHOLD

    before = gc.get_threshold()
    assert before[0] < GEN0_THRESHOLD
    first = open_writer(str(tmp_path / "a.jsonl"), "jsonl", COLUMNS)
    second = open_writer(str(tmp_path / "b.jsonl"), "jsonl", COLUMNS)
    assert gc.get_threshold() == (GEN0_THRESHOLD, *before[1:])
    first.commit()
    assert gc.get_threshold()[0] == GEN0_THRESHOLD  # the second writer still streams
    second.abort()
    second.abort()
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), open_writer(str(tmp_path / "c.jsonl"), "jsonl", COLUMNS):
        assert gc.get_threshold()[0] == GEN0_THRESHOLD
        raise RuntimeError("boom")
    assert gc.get_threshold() == before


def test_the_collector_is_left_alone_when_switched_off(tmp_path: Path) -> None:
    import gc

    before = gc.get_threshold()
    gc.set_threshold(0)
    try:
        write_file(str(tmp_path / "out.jsonl"), "jsonl", [ROWS])
        with open_writer(str(tmp_path / "x.jsonl"), "jsonl", COLUMNS):
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)
