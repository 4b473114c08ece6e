"""The faithful-copy example DAGs on a real Airflow 3 (standalone) against the sandbox:
restatement of late events, snapshots and deletions under backfills. A module of its own so
that it runs beside the other e2e modules (each module gets its own Airflow)."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from .harness import AirflowStandalone
from .runs import (
    DATABASE_ID,
    backfill,
    file_name,
    output_dir,
    read_jsonl,
    runs_for,
    sandbox_day,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

BACKFILL_DAG = "copernica_backfill"
RESTATE_DAG = "copernica_restatement"


def test_restatement_converges_a_late_event_into_its_days_file_and_no_other(
    airflow: AirflowStandalone, sandbox: Any
) -> None:
    first, second = sandbox_day(sandbox, 9), sandbox_day(sandbox, 8)
    days = [first - timedelta(days=2), first - timedelta(days=1), first, second]
    out = airflow.home / "data" / "copernica" / RESTATE_DAG / "clicks"

    def ids(day: date) -> list[int]:
        return sorted(row["id"] for row in read_jsonl(out / f"{day.isoformat()}.jsonl"))

    def truth(day: date) -> list[int]:
        end = day + timedelta(days=1)
        return sorted(sandbox.data.expected_ids("clicks", day, end, product="draganddrop"))

    airflow.cli("dags", "unpause", RESTATE_DAG)
    backfill(airflow, RESTATE_DAG, first, first)  # restate_intervals=2: writes 3 days
    airflow.wait_backfill_done(RESTATE_DAG)
    assert sorted(p.name for p in out.iterdir()) == [f"{d.isoformat()}.jsonl" for d in days[:3]]
    untouched = (out / f"{days[0].isoformat()}.jsonl").stat().st_mtime_ns

    late_day = days[1]  # a click on a day already extracted arrives late
    late_at = datetime(late_day.year, late_day.month, late_day.day, 15, 30, tzinfo=timezone.utc)
    [late] = sandbox.data.add_records("clicks", [late_at])
    assert late not in ids(late_day)

    backfill(airflow, RESTATE_DAG, second, second)  # the next day's run restates two days
    airflow.wait_backfill_done(RESTATE_DAG)
    runs = runs_for(airflow, RESTATE_DAG, [first, second])
    assert [r["state"] for r in runs] == ["success"] * 2, runs
    assert sorted(p.name for p in out.iterdir()) == [f"{d.isoformat()}.jsonl" for d in days]
    for day in days:
        assert ids(day) == truth(day), day
        assert (late in ids(day)) is (day == late_day), day
    assert (out / f"{days[0].isoformat()}.jsonl").stat().st_mtime_ns == untouched


# -- faithful copy: snapshots and deletions under backfills -------------------------------

SNAPSHOT_DAG = "copernica_snapshots"
DELETIONS_DAG = "copernica_deletions"


def _one_run(airflow: AirflowStandalone, dag_id: str, day: date) -> dict[str, Any]:
    backfill(airflow, dag_id, day, day)
    airflow.wait_backfill_done(dag_id)
    [run] = runs_for(airflow, dag_id, [day])
    assert run["state"] == "success", run
    return run


def test_backfilled_snapshots_hold_the_state_as_of_the_run(
    airflow: AirflowStandalone, sandbox: Any
) -> None:
    """Documented: a snapshot's interval only names its file; a backfilled past week holds
    the live records as of the backfill."""
    import pyarrow.parquet as pq

    days = [sandbox_day(sandbox, 14), sandbox_day(sandbox, 7)]
    airflow.cli("dags", "unpause", SNAPSHOT_DAG)
    backfill(airflow, SNAPSHOT_DAG, days[0], days[-1])
    airflow.wait_backfill_done(SNAPSHOT_DAG)
    runs = airflow.wait_runs_done(SNAPSHOT_DAG, 1)
    assert runs and {r["state"] for r in runs} == {"success"}, runs
    live = sorted(int(r["ID"]) for r in sandbox.data.records("profiles", database_id=DATABASE_ID))
    files = sorted(output_dir(airflow, SNAPSHOT_DAG, "profiles_snapshot").glob("*.parquet"))
    assert len(files) == len(runs)
    for path in files:
        assert pq.read_table(path, columns=["id"]).column("id").to_pylist() == live


def test_deletions_backfills_observe_forward_only(airflow: AirflowStandalone, sandbox: Any) -> None:
    d1, d2, d3 = sandbox_day(sandbox, 12), sandbox_day(sandbox, 11), sandbox_day(sandbox, 10)
    out = output_dir(airflow, DELETIONS_DAG, "profile_deletions")
    airflow.cli("dags", "unpause", DELETIONS_DAG)

    first = _one_run(airflow, DELETIONS_DAG, d2)  # the baseline
    baseline_taken = time.time()
    assert read_jsonl(out / file_name(d2)) == []
    log = airflow.task_log(DELETIONS_DAG, first["dag_run_id"], "profile_deletions")
    assert "first run has nothing to compare with" in log

    ids = sorted(int(r["ID"]) for r in sandbox.data.records("profiles", database_id=DATABASE_ID))
    gone = [ids[3], ids[300]]
    for ident in gone:
        sandbox.data.remove_record("profiles", ident, database_id=DATABASE_ID)
    _one_run(airflow, DELETIONS_DAG, d3)
    rows = read_jsonl(out / file_name(d3))
    assert [r["id"] for r in rows] == gone
    truth = sandbox.data.expected_ids(
        "profile_deletions", baseline_taken, time.time(), database_id=DATABASE_ID
    )
    assert [r["id"] for r in rows] == truth
    assert {r["interval_start"][:10] for r in rows} == {d3.isoformat()}

    past = _one_run(airflow, DELETIONS_DAG, d1)  # before an observed interval
    assert read_jsonl(out / file_name(d1)) == []
    log = airflow.task_log(DELETIONS_DAG, past["dag_run_id"], "profile_deletions")
    assert "can only be observed forward in time" in log
    state = out / "_copernica_state" / "profile_ids" / f"database_id={DATABASE_ID}"
    assert sorted(p.name[:8] for p in state.glob("*.json")) == [f"{d:%Y%m%d}" for d in (d2, d3)]
