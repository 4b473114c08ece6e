"""``CopernicaToSqlOperator`` against the sandbox and real databases (PostgreSQL, DuckDB,
SQLite): per write mode, the table equals the sandbox's ground truth over a multi-day
backfill; re-runs, out-of-order backfills, two intervals at once, and every bad input.

Ground truth: the files ``CopernicaToStorageOperator`` lands for the same intervals (whose
own tests compare them with the sandbox's data), and the sandbox's live ids."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from sandbox_requests import DATABASE, data_calls, profile_ids, task_context, truth
from sql_databases import DATABASES, Database, bool_of, make_database, postgres_server  # noqa: F401

from airflow_provider_copernica.exceptions import CopernicaConfigError, CopernicaEmptyResultError
from airflow_provider_copernica.operators.copernica import (
    CopernicaToSqlOperator,
    CopernicaToStorageOperator,
)

DAYS = [datetime(2026, 11, d, tzinfo=timezone.utc) for d in (17, 18, 19, 20)]
ALL_TIME = (datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))
PROFILES = {"database_id": DATABASE}


def context(start: datetime | None = None, end: datetime | None = None) -> dict[str, Any]:
    start = start or DAYS[0]
    end = end or start + timedelta(days=1)
    dag = SimpleNamespace(dag_id="sql_tests")
    return task_context(start, end, f"scheduled__{start.date()}", dag=dag)


@pytest.fixture(params=DATABASES)
def database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Database:
    return make_database(request.param, tmp_path, monkeypatch, request)


def to_sql(database: Database, dataset: str, window: tuple[datetime, datetime], **kw: Any) -> dict:
    options = PROFILES if "profile" in dataset else None
    op = CopernicaToSqlOperator(
        task_id=f"load_{dataset}",
        dataset=dataset,
        sql_conn_id=database.conn_id,
        dataset_options=kw.pop("dataset_options", options),
        **kw,
    )
    return op.execute(context(*window))


def landed(tmp_path: Path, dataset: str, window: tuple[datetime, datetime]) -> list[dict]:
    """The ground truth: what the storage operator lands for ``window``."""
    out = tmp_path / "truth" / f"{dataset}_{window[0]:%Y%m%d}_{window[1]:%Y%m%d}.jsonl"
    CopernicaToStorageOperator(
        task_id=f"truth_{dataset}",
        dataset=dataset,
        dataset_options=PROFILES if "profile" in dataset else None,
        output_uri=str(out),
        allow_empty=True,
    ).execute(context(*window))
    return [json.loads(line) for line in out.read_text().splitlines()]


def day(n: int) -> tuple[datetime, datetime]:
    return DAYS[n], DAYS[n + 1]


def plain_rows(database: Database, table: str, drop: tuple[str, ...] = ()) -> list[dict]:
    rows = database.rows(table)
    for row in rows:
        for name in drop:
            row.pop(name, None)
        for name in ("_is_current",):
            if name in row:
                row[name] = bool_of(row[name])
    return rows


# -- per write mode, the table equals the ground truth ----------------------------------


@pytest.mark.parametrize("mode", ["replace_interval", "insert", "insert_ignore"])
def test_events_over_a_backfill_equal_the_ground_truth(
    database: Database, conn: str, sandbox: Any, tmp_path: Path, mode: str
) -> None:
    expected: list[dict] = []
    for n in range(3):
        result = to_sql(database, "clicks", day(n), write_mode=mode)
        assert result["rows"] == truth(sandbox, "clicks", day(n))
        expected += landed(tmp_path, "clicks", day(n))
    assert expected, "the sandbox has clicks on those days"
    assert plain_rows(database, "copernica_clicks") == sorted(expected, key=lambda r: r["id"])
    if mode == "insert":
        return
    # a re-run of the middle day leaves the same table (checksum), no key twice
    checksum = database.checksum("copernica_clicks")
    again = to_sql(database, "clicks", day(1), write_mode=mode)
    assert again["rows"] == truth(sandbox, "clicks", day(1))
    assert database.checksum("copernica_clicks") == checksum
    (dupes,) = database.query('SELECT COUNT(*) - COUNT(DISTINCT "id") FROM "copernica_clicks"')
    assert dupes == (0,)


def test_upsert_over_an_out_of_order_backfill_equals_the_ground_truth(
    database: Database, conn: str, tmp_path: Path
) -> None:
    for n in (2, 0, 1):  # the newest interval first
        to_sql(database, "profiles", day(n))
    expected = landed(tmp_path, "profiles", (DAYS[0], DAYS[3]))
    assert expected
    assert plain_rows(database, "copernica_profiles") == expected
    checksum = database.checksum("copernica_profiles")
    to_sql(database, "profiles", day(0))
    assert database.checksum("copernica_profiles") == checksum


def test_truncate_insert_of_a_snapshot_is_the_live_state(
    database: Database, conn: str, sandbox: Any, tmp_path: Path
) -> None:
    first = to_sql(database, "profiles_snapshot", ALL_TIME)
    assert first["write_mode"] == "truncate_insert" and first["rows"] == len(profile_ids(sandbox))
    gone = profile_ids(sandbox)[3:6]
    requests.post(f"{sandbox.url}/_sandbox/remove", json={"profiles": gone}, timeout=10)
    to_sql(database, "profiles_snapshot", ALL_TIME)
    expected = landed(tmp_path, "profiles_snapshot", ALL_TIME)
    assert [r["id"] for r in expected] == profile_ids(sandbox)
    assert plain_rows(database, "copernica_profiles_snapshot") == expected


@pytest.mark.parametrize("mode", ["delete", "soft_delete"])
def test_deletions_applied_to_the_profiles_table(
    database: Database, conn: str, sandbox: Any, tmp_path: Path, mode: str
) -> None:
    state = str(tmp_path / "state")
    to_sql(database, "profiles", ALL_TIME)
    everyone = profile_ids(sandbox)
    baseline = to_sql(database, "profile_deletions", day(0), write_mode=mode, state_uri=state)
    assert baseline["rows"] == 0 and baseline["table"] == "copernica_profiles"
    gone = [everyone[5], everyone[700], everyone[-1]]
    requests.post(f"{sandbox.url}/_sandbox/remove", json={"profiles": gone}, timeout=10)
    result = to_sql(database, "profile_deletions", day(1), write_mode=mode, state_uri=state)
    assert result["rows"] == 3
    rows = database.rows("copernica_profiles")
    if mode == "delete":
        assert [r["id"] for r in rows] == profile_ids(sandbox)
    else:
        assert [r["id"] for r in rows] == everyone
        assert sorted(r["id"] for r in rows if r["_deleted_at"] is not None) == sorted(gone)
    checksum = database.checksum("copernica_profiles")
    to_sql(database, "profile_deletions", day(1), write_mode=mode, state_uri=state)  # re-run
    assert database.checksum("copernica_profiles") == checksum


def test_history_keeps_versions_and_closes_removed_profiles(
    database: Database, conn: str, sandbox: Any, tmp_path: Path
) -> None:
    for n in (1, 0, 2):
        to_sql(database, "profiles", day(n), write_mode="history", table="profile_history")
    expected = landed(tmp_path, "profiles", (DAYS[0], DAYS[3]))
    drop = ("_valid_from", "_valid_to", "_is_current")
    rows = plain_rows(database, "profile_history")
    assert [{k: v for k, v in r.items() if k not in drop} for r in rows] == expected
    assert all(r["_is_current"] and r["_valid_to"] is None for r in rows)
    assert all(r["_valid_from"] == r["modified"] for r in rows)
    # snapshots into a history table: a removed profile gets its version closed
    to_sql(database, "profiles_snapshot", ALL_TIME, write_mode="history", table="snap_history")
    gone = profile_ids(sandbox)[:2]
    requests.post(f"{sandbox.url}/_sandbox/remove", json={"profiles": gone}, timeout=10)
    checksum = None
    for _ in range(2):  # the second run changes nothing
        to_sql(database, "profiles_snapshot", ALL_TIME, write_mode="history", table="snap_history")
        if checksum is not None:
            assert database.checksum("snap_history", order=("id", "_valid_from")) == checksum
        checksum = database.checksum("snap_history", order=("id", "_valid_from"))
    history = plain_rows(database, "snap_history")
    closed = [r for r in history if not r["_is_current"]]
    assert sorted(r["id"] for r in closed) == sorted(gone)
    assert all(r["_valid_to"] is not None for r in closed)
    assert sorted(r["id"] for r in history if r["_is_current"]) == profile_ids(sandbox)


def test_two_intervals_loading_at_once_lose_no_rows(
    database: Database, conn: str, tmp_path: Path
) -> None:
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            to_sql(database, "clicks", day(n))
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    expected = landed(tmp_path, "clicks", day(0)) + landed(tmp_path, "clicks", day(1))
    assert plain_rows(database, "copernica_clicks") == sorted(expected, key=lambda r: r["id"])


def test_partitions_of_a_snapshot_each_replace_their_own_id_range(
    database: Database, conn: str, sandbox: Any, tmp_path: Path
) -> None:
    ids = profile_ids(sandbox)
    cuts = [0, ids[len(ids) // 3], ids[2 * len(ids) // 3], None]
    ranges = [{"after": cuts[k], "upto": cuts[k + 1]} for k in range(3)]
    errors: list[BaseException] = []

    def run(id_range: dict[str, Any]) -> None:
        try:
            to_sql(database, "profiles_snapshot", ALL_TIME, id_range=id_range)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(r,)) for r in ranges]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert plain_rows(database, "copernica_profiles_snapshot") == landed(
        tmp_path, "profiles_snapshot", ALL_TIME
    )
    # a profile removed from the middle range: only that partition's re-run drops it
    gone = ids[len(ids) // 2]
    requests.post(f"{sandbox.url}/_sandbox/remove", json={"profiles": [gone]}, timeout=10)
    result = to_sql(database, "profiles_snapshot", ALL_TIME, id_range=ranges[1])
    assert result["id_range"] == ranges[1]
    assert [r["id"] for r in database.rows("copernica_profiles_snapshot")] == profile_ids(sandbox)


# -- Airflow integration ------------------------------------------------------------------


def test_xcom_asset_event_and_openlineage_name_the_table(database: Database, conn: str) -> None:
    from airflow.sdk import Asset

    class Events(dict):
        def __missing__(self, key: Any) -> Any:
            self[key] = SimpleNamespace(
                added=[], add=lambda a, extra: self[key].added.append((a, extra))
            )
            return self[key]

    op = CopernicaToSqlOperator(task_id="t", dataset="clicks", sql_conn_id=database.conn_id)
    assert op.table_alias in op.outlets
    events = Events()
    result = op.execute(context() | {"outlet_events": events})
    ((asset, extra),) = events[op.table_alias].added
    assert asset == Asset(result["uri"]) and extra["rows"] == result["rows"] > 0
    lineage = op.get_openlineage_facets_on_complete(None)
    (output,) = lineage.outputs
    if database.kind == "postgres":
        port = database.conn["port"]
        assert result["uri"] == (
            f"postgres://127.0.0.1:{port}/{database.conn['schema']}/public/copernica_clicks"
        )
        assert output.namespace == f"postgres://127.0.0.1:{port}"
        assert output.name == f"{database.conn['schema']}.public.copernica_clicks"
    else:
        path = database.conn["host"]
        suffix = "main/copernica_clicks" if database.kind == "duckdb" else "copernica_clicks"
        assert result["uri"] == f"{database.kind}://{path}/{suffix}"
        assert output.namespace == f"{database.kind}://{path}"
    assert output.name.endswith("copernica_clicks")
    assert {f.name for f in output.facets["schema"].fields} >= {"id", "timestamp"}


# -- bad input: refused at parse time or before any request -----------------------------


def test_an_unknown_write_mode_is_refused_listing_the_valid_ones() -> None:
    with pytest.raises(
        CopernicaConfigError, match="Unknown write_mode 'merge'.*replace_interval, upsert"
    ):
        CopernicaToSqlOperator(task_id="t", dataset="clicks", sql_conn_id="db", write_mode="merge")


@pytest.mark.parametrize(
    ("dataset", "mode", "fitting"),
    [
        ("profiles_snapshot", "replace_interval", "upsert, truncate_insert"),
        ("clicks", "history", "replace_interval, upsert, truncate_insert, insert, insert_ignore"),
        ("clicks", "soft_delete", "replace_interval"),
        ("profile_deletions", "upsert", "delete, soft_delete, history"),
        ("profile_ids", "history", "upsert, truncate_insert"),
    ],
)
def test_a_write_mode_that_does_not_fit_the_dataset_is_refused_at_parse_time(
    dataset: str, mode: str, fitting: str
) -> None:
    with pytest.raises(CopernicaConfigError, match=f"does not fit '{dataset}'.*{fitting}"):
        CopernicaToSqlOperator(
            task_id="t",
            dataset=dataset,
            sql_conn_id="db",
            write_mode=mode,
            dataset_options=PROFILES if "profile" in dataset else None,
        )


@pytest.mark.parametrize("table", ["1abc", "a.b.c", "x; DROP TABLE y", '"open'])
def test_a_bad_table_name_is_refused_at_parse_time(table: str) -> None:
    with pytest.raises(CopernicaConfigError, match="not a table name"):
        CopernicaToSqlOperator(task_id="t", dataset="clicks", sql_conn_id="db", table=table)


def test_a_connection_whose_hook_is_not_a_db_api_hook_is_refused_before_any_request(
    sandbox: Any, conn: str
) -> None:
    op = CopernicaToSqlOperator(task_id="t", dataset="clicks", sql_conn_id=conn)
    with pytest.raises(CopernicaConfigError, match=r"CopernicaHook, which is not a SQL hook"):
        op.execute(context())
    assert not list(sandbox.requests)


def test_schema_policy_fail_refuses_before_any_data_request(
    database: Database, conn: str, sandbox: Any
) -> None:
    to_sql(database, "clicks", day(0), fields=["timestamp", "link"])
    sandbox.requests.clear()
    with pytest.raises(Exception, match=r"lacks column\(s\).*useragent"):
        to_sql(database, "clicks", day(1), schema_policy="fail")
    assert not data_calls(sandbox)


def test_fields_without_the_column_the_mode_needs_are_refused_before_any_data_request(
    database: Database, conn: str, sandbox: Any
) -> None:
    with pytest.raises(CopernicaConfigError, match="needs the column.*timestamp.*fields"):
        to_sql(database, "clicks", day(0), fields=["link"])
    assert not data_calls(sandbox)
    with pytest.raises(CopernicaConfigError, match="needs the column.*modified"):
        to_sql(database, "profiles", day(0), fields=["secret"], write_mode="history")


def test_an_empty_interval_leaves_the_table_as_it_was(database: Database, conn: str) -> None:
    to_sql(database, "clicks", day(0))
    before = database.checksum("copernica_clicks")
    late = (datetime(2030, 1, 1, tzinfo=timezone.utc), datetime(2030, 1, 2, tzinfo=timezone.utc))
    with pytest.raises(CopernicaEmptyResultError, match="left as it was"):
        to_sql(database, "clicks", late, write_mode="truncate_insert")
    assert database.checksum("copernica_clicks") == before


def test_deletions_need_the_records_table(database: Database, conn: str, tmp_path: Path) -> None:
    with pytest.raises(CopernicaConfigError, match="does not exist: load the records"):
        to_sql(database, "profile_deletions", day(0), state_uri=str(tmp_path / "s"))
