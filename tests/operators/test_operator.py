"""CopernicaToStorageOperator run as a DAG would run it, against the sandbox over HTTP."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest
from sandbox_requests import task_context

from airflow_provider_copernica.exceptions import (
    CopernicaConfigError,
    CopernicaEmptyResultError,
    CopernicaRetryError,
)
from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator

START = pendulum.datetime(2026, 10, 25, tz="Europe/Amsterdam")  # the 25-hour DST day
END = pendulum.datetime(2026, 10, 26, tz="Europe/Amsterdam")
XCOM_KEYS = {"uri", "rows", "dataset", "interval_start", "interval_end", "api_calls"}


def context(
    start: Any = START, end: Any = END, params: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return task_context(start, end, "scheduled__2026-10-25", params, **extra)


def manual_context(params: dict[str, Any]) -> dict[str, Any]:
    run = SimpleNamespace(run_id="manual__1", run_type="manual", conf={})
    return {"run_id": "manual__1", "dag_run": run, "params": params}


def expected_ids(
    sandbox: Any, dataset: str, start: Any = START, end: Any = END, **opts: Any
) -> list[int]:
    return sorted(int(i) for i in sandbox.data.expected_ids(dataset, start, end, **opts))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if ".tmp-" in p.name]


def test_extracts_the_interval_to_jsonl_and_returns_a_small_xcom(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    target = tmp_path / "clicks.jsonl"
    op = CopernicaToStorageOperator(
        task_id="clicks",
        dataset="clicks",
        dataset_options={"product": "html"},
        metadata=("_interval_start", "_dataset"),
        output_uri=str(target),
    )
    result = op.execute(context())
    assert set(result) == XCOM_KEYS
    rows = read_jsonl(target)
    assert sorted(r["id"] for r in rows) == expected_ids(sandbox, "clicks", product="html")
    assert result["rows"] == len(rows) > 0
    assert result["uri"] == f"file://{target}"
    assert result["interval_start"] == "2026-10-24T22:00:00+00:00"
    assert result["interval_end"] == "2026-10-25T23:00:00+00:00"
    assert result["api_calls"] == sandbox.stats.api_calls == 1
    assert rows[0]["_interval_start"] == "2026-10-24T22:00:00+00:00"
    assert rows[0]["_dataset"] == "clicks"
    assert list(rows[0])[:2] == ["id", "timestamp"]
    assert [a.uri for a in op.outlets] == [f"file://{target}"]


@pytest.mark.parametrize("file_format", ["jsonl", "csv", "parquet"])
def test_all_formats_read_back_with_columns_and_types(
    sandbox: Any, copernica_conn: str, tmp_path: Path, file_format: str
) -> None:
    target = tmp_path / f"profiles.{file_format}"
    CopernicaToStorageOperator(
        task_id="p",
        dataset="profiles",
        dataset_options={"database_id": "7616"},
        fields=["fields.email", "fields.age", "interests", "modified"],
        output_uri=f"file://{target}",
        file_format=file_format,
    ).execute(context())
    names = ["id", "fields.email", "fields.age", "interests", "modified"]
    truth = expected_ids(sandbox, "profiles", database_id=7616)
    if file_format == "jsonl":
        rows = read_jsonl(target)
        assert [list(r) for r in rows[:1]] == [names]
        assert isinstance(rows[0]["id"], int) and isinstance(rows[0]["interests"], list)
        ids = [r["id"] for r in rows]
    elif file_format == "csv":
        with target.open(newline="") as handle:
            reader = csv.reader(handle)
            assert next(reader) == names
            rows = list(reader)
        assert isinstance(json.loads(rows[0][3]), list)  # lists are JSON-encoded in CSV
        ids = [int(r[0]) for r in rows]
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(target)
        assert table.column_names == names
        assert table.schema.field("id").type == pa.int64()
        assert table.schema.field("fields.age").type == pa.int64()
        assert table.schema.field("interests").type == pa.list_(pa.string())
        ids = table.column("id").to_pylist()
    assert sorted(ids) == truth


def test_failure_mid_extraction_keeps_the_previous_file(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    target = tmp_path / "profiles.jsonl"
    target.write_text('{"id": 1}\n')
    window = {"start": pendulum.datetime(2026, 1, 1), "end": pendulum.datetime(2026, 11, 21)}
    sandbox.faults.set("outage_after:2")  # the field list and one page succeed
    op = CopernicaToStorageOperator(
        task_id="p",
        dataset="profiles",
        dataset_options={"database_id": 7616},
        output_uri=str(target),
    )
    with pytest.raises(CopernicaRetryError, match="503"):
        op.execute(context(window["start"], window["end"]))
    assert target.read_text() == '{"id": 1}\n'
    assert leftovers(tmp_path) == []


def test_rerun_is_idempotent_without_extracted_at(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    target = tmp_path / "deliveries.csv"
    op = CopernicaToStorageOperator(
        task_id="d",
        dataset="deliveries",
        metadata=["_interval_start", "_interval_end", "_run_id"],
        output_uri=str(target),
        file_format="csv",
    )
    op.execute(context())
    first = target.read_bytes()
    op.execute(context())
    assert target.read_bytes() == first
    assert len(first.splitlines()) == len(expected_ids(sandbox, "deliveries")) + 1
    assert leftovers(tmp_path) == []


def test_allow_empty_false_fails_and_writes_nothing(copernica_conn: str, tmp_path: Path) -> None:
    target = tmp_path / "abuses.jsonl"
    empty = (pendulum.datetime(2020, 1, 1), pendulum.datetime(2020, 1, 2))  # before the data
    op = CopernicaToStorageOperator(task_id="a", dataset="abuses", output_uri=str(target))
    with pytest.raises(CopernicaEmptyResultError, match="allow_empty=True"):
        op.execute(context(*empty))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("file_format", "content"), [("csv", b"id,"), ("parquet", b"PAR1")])
def test_allow_empty_true_writes_an_empty_file(
    copernica_conn: str, tmp_path: Path, file_format: str, content: bytes
) -> None:
    target = tmp_path / f"abuses.{file_format}"
    empty = (pendulum.datetime(2020, 1, 1), pendulum.datetime(2020, 1, 2))
    result = CopernicaToStorageOperator(
        task_id="a",
        dataset="abuses",
        output_uri=str(target),
        file_format=file_format,
        allow_empty=True,
    ).execute(context(*empty))
    assert result["rows"] == 0
    assert target.read_bytes().startswith(content)
    if file_format == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(target)
        assert table.num_rows == 0 and table.column_names[:2] == ["id", "mailing"]


def test_default_output_uri_under_airflow_home(sandbox: Any, copernica_conn: str) -> None:
    op = CopernicaToStorageOperator(task_id="e", dataset="emailings")
    assert op.outlets == []  # no static uri, no asset
    result = op.execute(context(dag=SimpleNamespace(dag_id="my_dag")))
    path = Path(os.environ["AIRFLOW_HOME"]) / (
        "data/copernica/my_dag/emailings/20261024T220000Z_20261025T230000Z.jsonl"
    )
    assert result["uri"] == f"file://{path}"
    assert sorted(r["id"] for r in read_jsonl(path)) == expected_ids(sandbox, "emailings")


def test_manual_run_uses_params_and_snapshot_ignores_the_window(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    op = CopernicaToStorageOperator(
        task_id="c", dataset="consumption", output_uri=str(tmp_path / "c.jsonl")
    )
    result = op.execute(manual_context({"date_from": "2026-10-01", "date_to": "2026-10-08"}))
    rows = read_jsonl(tmp_path / "c.jsonl")
    assert [r["date"] for r in rows] == sandbox.data.expected_ids(
        "consumption", "2026-10-01", "2026-10-08"
    )
    assert result["interval_start"] == "2026-10-01T00:00:00+00:00"
    snap = CopernicaToStorageOperator(
        task_id="s", dataset="databases", output_uri=str(tmp_path / "db.jsonl")
    )
    snap.execute(manual_context({}))
    assert sorted(r["id"] for r in read_jsonl(tmp_path / "db.jsonl")) == [7616, 7617, 7618]


def test_templates_are_rendered(sandbox: Any, copernica_conn: str, tmp_path: Path) -> None:
    op = CopernicaToStorageOperator(
        task_id="t",
        dataset="subprofiles",
        dataset_options={"collection_id": "{{ params.collection }}"},
        fields=["{{ params.field }}"],
        output_uri=str(tmp_path) + "/{{ ds_nodash }}.jsonl",
    )
    ctx = context(params={"collection": 6312, "field": "fields.product"}, ds_nodash="20261025")
    op.render_template_fields(ctx)
    assert op.dataset_options == {"collection_id": "6312"}
    result = op.execute(ctx)
    rows = read_jsonl(tmp_path / "20261025.jsonl")
    assert list(rows[0]) == ["id", "fields.product"]
    assert result["rows"] == len(expected_ids(sandbox, "subprofiles", collection_id=6312))


# -- bad input: clear errors, no data request, nothing written ------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dataset": "click"}, "valid datasets: abuses, clicks"),
        ({"dataset": "clicks", "file_format": "xlsx"}, "valid formats: jsonl, csv, parquet"),
        ({"dataset": "clicks", "metadata": ["_foo"]}, "valid metadata columns"),
        ({"dataset": "profiles"}, "needs option 'database_id'"),
        ({"dataset": "profiles", "dataset_options": {"database_id": "x"}}, "positive integer"),
        ({"dataset": "clicks", "dataset_options": {"product": "ms"}}, "valid products"),
        ({"dataset": "clicks", "fields": ["nope"]}, "available columns: id, mailing"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(CopernicaConfigError, match=message):
        CopernicaToStorageOperator(task_id="bad", **kwargs)


@pytest.mark.parametrize(
    ("ctx", "message"),
    [
        (manual_context({"date_from": "2026-10-26", "date_to": "2026-10-25"}), "before date_to"),
        (manual_context({"date_from": "25/10/2026", "date_to": "2026-10-26"}), "not a valid date"),
        (manual_context({}), "no data interval"),
        (context(START, START), "CronDataIntervalTimetable"),
    ],
)
def test_bad_windows_fail_before_any_request(
    sandbox: Any, copernica_conn: str, tmp_path: Path, ctx: dict[str, Any], message: str
) -> None:
    op = CopernicaToStorageOperator(
        task_id="w", dataset="clicks", output_uri=str(tmp_path / "x.jsonl")
    )
    with pytest.raises(CopernicaConfigError, match=message):
        op.execute(ctx)
    assert list(sandbox.iter_requests("/v4/")) == []
    assert list(tmp_path.iterdir()) == []


def test_templated_bad_options_fail_before_any_request(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    op = CopernicaToStorageOperator(
        task_id="o",
        dataset="profiles",
        dataset_options={"database_id": "{{ params.db }}"},
        output_uri=str(tmp_path / "x.jsonl"),
    )
    ctx = context(params={"db": "1&limit=5"})
    op.render_template_fields(ctx)
    with pytest.raises(CopernicaConfigError, match="positive integer, got '1&limit=5'"):
        op.execute(ctx)
    assert list(sandbox.iter_requests("/v4/")) == []


def test_unwritable_output_uri_fails_before_any_request(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    op = CopernicaToStorageOperator(
        task_id="u", dataset="clicks", output_uri=str(blocker / "clicks.jsonl")
    )
    with pytest.raises(CopernicaConfigError, match="is a file, not a directory"):
        op.execute(context())
    assert list(sandbox.iter_requests("/v4/")) == []
    assert blocker.read_text() == "not a directory"


def test_parent_segments_in_a_rendered_output_uri_are_refused(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    op = CopernicaToStorageOperator(
        task_id="p", dataset="clicks", output_uri=str(tmp_path) + "/{{ params.name }}.jsonl"
    )
    ctx = context(params={"name": "../escaped"})
    op.render_template_fields(ctx)
    with pytest.raises(CopernicaConfigError, match="'..' path segment"):
        op.execute(ctx)
    assert list(sandbox.iter_requests("/v4/")) == []
    assert not (tmp_path.parent / "escaped.jsonl").exists()


def test_comma_separated_fields_are_checked_at_parse_time_like_the_engine_reads_them() -> None:
    from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator

    op = CopernicaToStorageOperator(task_id="ok", dataset="clicks", fields="id, timestamp")
    assert op.fields == "id, timestamp"
    with pytest.raises(CopernicaConfigError, match="nope"):
        CopernicaToStorageOperator(task_id="bad", dataset="clicks", fields="id,nope")


# -- assets: one stable asset per dataset and location, an event with the file's facts ----


@pytest.mark.parametrize(
    ("output_uri", "expected"),
    [
        ("/data/out.jsonl", "file:///data/out.jsonl"),
        ("s3://lake/copernica/{{ ds }}/p.jsonl", "s3://lake/copernica?dataset=profiles"),
        ("s3://lake/copernica/p_{{ ds }}.jsonl", "s3://lake/copernica?dataset=profiles"),
        ("s3://lake/{{ ds }}.jsonl", "s3://lake/?dataset=profiles"),
        ("/data/{{ ds }}/p.jsonl", "file:///data?dataset=profiles"),
        ("/{{ ds }}.jsonl", "file:///?dataset=profiles"),
        ("s3://{{ var.value.bucket }}/p.jsonl", "x-copernica://sync/t?dataset=profiles"),
        ("{{ params.uri }}", "x-copernica://sync/t?dataset=profiles"),
        (None, "{home}/data/copernica/sync/profiles?dataset=profiles"),
    ],
)
def test_the_asset_is_named_at_parse_time_by_the_documented_rule(
    output_uri: str | None, expected: str
) -> None:
    from airflow.sdk import DAG

    home = Path(os.environ["AIRFLOW_HOME"]).absolute().as_uri()
    with DAG("sync", schedule=None):
        op = CopernicaToStorageOperator(
            task_id="t",
            dataset="profiles",
            dataset_options={"database_id": 7616},
            output_uri=output_uri,
        )
    [asset] = op.outlets
    assert asset is op.output_asset
    assert asset.uri == asset.name == expected.format(home=home)


def test_asset_event_extra_carries_the_file_rows_and_interval(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    from airflow.sdk import DAG
    from airflow.sdk.execution_time.context import OutletEventAccessors

    with DAG("sync", schedule=None):
        op = CopernicaToStorageOperator(
            task_id="t",
            dataset="clicks",
            dataset_options={"product": "html"},
            output_uri=str(tmp_path) + "/{{ ds_nodash }}/clicks.jsonl",
            outlets=[],
        )
    assert [a.uri for a in op.outlets] == [f"{tmp_path.as_uri()}?dataset=clicks"]
    events = OutletEventAccessors()
    ctx = context(outlet_events=events, ds_nodash="20261025")
    op.render_template_fields(ctx)
    result = op.execute(ctx)
    written = tmp_path / "20261025" / "clicks.jsonl"
    assert events[op.outlets[0]].extra == {
        "uri": written.as_uri(),
        "rows": len(read_jsonl(written)),
        "dataset": "clicks",
        "interval_start": "2026-10-24T22:00:00+00:00",
        "interval_end": "2026-10-25T23:00:00+00:00",
    }
    assert result["rows"] == len(expected_ids(sandbox, "clicks", product="html")) > 0


@pytest.mark.parametrize("spelling", ["~/exports/x.jsonl", "exports/x.jsonl"])
def test_home_and_relative_paths_give_one_uri_for_the_asset_and_the_file(
    sandbox: Any,
    copernica_conn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spelling: str,
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    op = CopernicaToStorageOperator(task_id="x", dataset="abuses", output_uri=spelling)
    result = op.execute(context())
    written = tmp_path / "exports" / "x.jsonl"
    assert [a.uri for a in op.outlets] == [result["uri"]] == [written.as_uri()]
    assert written.exists()
    assert not (tmp_path / "~").exists()


@pytest.mark.parametrize("output_uri", ["/data/../etc/x.jsonl", "/data/../{{ ds }}.jsonl"])
def test_parent_segments_in_the_fixed_output_uri_fail_when_the_dag_is_parsed(
    output_uri: str,
) -> None:
    with pytest.raises(CopernicaConfigError, match="'..' path segment"):
        CopernicaToStorageOperator(task_id="p", dataset="clicks", output_uri=output_uri)


def test_own_outlets_are_kept_beside_the_output_asset(tmp_path: Path) -> None:
    from airflow.sdk import Asset

    mine = Asset("s3://warehouse/profiles_table")
    op = CopernicaToStorageOperator(
        task_id="o", dataset="clicks", output_uri=str(tmp_path / "c.jsonl"), outlets=[mine]
    )
    assert op.outlets == [mine, op.output_asset]
    assert op.output_asset is not None and op.output_asset.uri == (tmp_path / "c.jsonl").as_uri()


def test_a_dataset_windowed_by_its_options_asks_for_the_interval_like_the_planner() -> None:
    # templates is a snapshot unless created_in_interval=true: then a run without an interval
    # is told what every windowed dataset is told (the task-context rule both operators share)
    op = CopernicaToStorageOperator(
        task_id="t",
        dataset="templates",
        dataset_options={"created_in_interval": True},
        output_uri="/tmp/never-written.jsonl",
    )
    with pytest.raises(CopernicaConfigError, match="no data interval"):
        op.execute(manual_context({}))
