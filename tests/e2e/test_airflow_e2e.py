"""The example DAGs on a real Airflow 3 (standalone: scheduler, dag-processor, triggerer,
api-server; LocalExecutor; SQLite) against the sandbox, checked against its ground truth.

The tests share one Airflow (module fixture) and each uses its own days, so they do not
depend on each other's runs; they do run in file order (the second backfill re-runs the
first one's days).
"""

from __future__ import annotations

import json
import os
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from .harness import AirflowStandalone

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

BACKFILL_DAG = "copernica_backfill"
PREVIEW_DAG = "copernica_preview"
SENSOR_DAG = "copernica_sensor_gated"
RESTATE_DAG = "copernica_restatement"
DATABASE_ID = 7616


def _day(sandbox: Any, days_before_anchor: int) -> date:
    """A UTC day inside the sandbox's data (its anchor is the exclusive end of the data)."""
    return sandbox.data.anchor - timedelta(days=days_before_anchor)


def _file_name(day: date) -> str:
    following = day + timedelta(days=1)
    return f"{day:%Y%m%d}T000000Z_{following:%Y%m%d}T000000Z.jsonl"


def _output_dir(airflow: AirflowStandalone, dag_id: str, dataset: str = "profiles") -> Path:
    return airflow.home / "data" / "copernica" / dag_id / dataset


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _expected(sandbox: Any, day: date) -> list[int]:
    ids = sandbox.data.expected_ids(
        "profiles", day, day + timedelta(days=1), database_id=DATABASE_ID
    )
    assert ids, f"the sandbox has no profile changes on {day}: pick another day"
    return ids


def _assert_file_is_ground_truth(
    path: Path, sandbox: Any, day: date, metadata: bool = True
) -> list[dict[str, Any]]:
    rows = _read_jsonl(path)
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), f"{path.name}: duplicated records"
    assert sorted(ids) == _expected(sandbox, day), path.name
    if metadata:  # copernica_backfill adds _interval_start/_interval_end/_run_id
        assert {row["_interval_start"] for row in rows} == {f"{day.isoformat()}T00:00:00+00:00"}
    return rows


def _backfill(
    airflow: AirflowStandalone, dag_id: str, first: date, last: date, *extra: str
) -> None:
    airflow.cli(
        "backfill",
        "create",
        "--dag-id",
        dag_id,
        "--from-date",
        first.isoformat(),
        "--to-date",
        last.isoformat(),
        *extra,
    )


def _runs_for(airflow: AirflowStandalone, dag_id: str, days: list[date]) -> list[dict[str, Any]]:
    wanted = {d.isoformat() for d in days}
    return airflow.wait_runs_done(
        dag_id, len(days), select=lambda run: run["data_interval_start"][:10] in wanted
    )


def test_backfill_of_three_days_lands_one_exact_file_per_interval(
    airflow: AirflowStandalone, sandbox: Any
) -> None:
    days = [_day(sandbox, 4), _day(sandbox, 3), _day(sandbox, 2)]
    airflow.cli("dags", "unpause", BACKFILL_DAG)
    _backfill(airflow, BACKFILL_DAG, days[0], days[-1])
    airflow.wait_backfill_done(BACKFILL_DAG)

    runs = _runs_for(airflow, BACKFILL_DAG, days)
    assert [r["state"] for r in runs] == ["success"] * 3, runs
    assert {r["run_type"] for r in runs} == {"backfill"}
    intervals = sorted((r["data_interval_start"], r["data_interval_end"]) for r in runs)
    assert [(s[:10], e[:10]) for s, e in intervals] == [
        (d.isoformat(), (d + timedelta(days=1)).isoformat()) for d in days
    ]
    out = _output_dir(airflow, BACKFILL_DAG)
    assert sorted(p.name for p in out.iterdir()) == [_file_name(d) for d in days]
    for day in days:
        rows = _assert_file_is_ground_truth(out / _file_name(day), sandbox, day)
        assert {row["_run_id"] for row in rows} <= {r["dag_run_id"] for r in runs}


def test_backfill_again_with_reprocess_completed_replaces_the_files_idempotently(
    airflow: AirflowStandalone, sandbox: Any
) -> None:
    days = [_day(sandbox, 4), _day(sandbox, 3), _day(sandbox, 2)]
    out = _output_dir(airflow, BACKFILL_DAG)
    before = {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()
    }
    assert sorted(before) == [_file_name(d) for d in days], "run the first backfill test first"
    tries_before = {
        run["dag_run_id"]: airflow.task_instances(BACKFILL_DAG, run["dag_run_id"])[0]["try_number"]
        for run in _runs_for(airflow, BACKFILL_DAG, days)
    }

    _backfill(airflow, BACKFILL_DAG, days[0], days[-1], "--reprocess-behavior", "completed")
    airflow.wait_backfill_done(BACKFILL_DAG)

    runs = _runs_for(airflow, BACKFILL_DAG, days)
    assert len(runs) == 3 and {r["state"] for r in runs} == {"success"}, runs
    for run in runs:  # the same runs ran again: their task is on a later try
        [ti] = airflow.task_instances(BACKFILL_DAG, run["dag_run_id"])
        assert ti["state"] == "success", ti
        assert ti["try_number"] > tries_before[run["dag_run_id"]], ti
    assert sorted(p.name for p in out.iterdir()) == sorted(before), "leftover or extra files"
    for day in days:
        path = out / _file_name(day)
        inode, mtime, content = before[path.name]
        assert (path.stat().st_ino, path.stat().st_mtime_ns) != (inode, mtime), "not rewritten"
        _assert_file_is_ground_truth(path, sandbox, day)
        assert path.read_bytes() == content  # same records, same run: the very same file


def test_preview_dag_triggered_with_conf_logs_the_rows_and_writes_nothing(
    airflow: AirflowStandalone, sandbox: Any
) -> None:
    day = _day(sandbox, 3)
    expected = _expected(sandbox, day)
    data_root = airflow.home / "data"
    files_before = sorted(p for p in data_root.rglob("*") if p.is_file())
    conf = {
        "dataset": "profiles",
        "database_id": 7616,  # the form prefills nothing: a dataset's own options are given
        "date_from": day.isoformat(),
        "date_to": (day + timedelta(days=1)).isoformat(),
        "limit": 3,
        "fields": ["id", "modified"],
    }
    airflow.cli("dags", "unpause", PREVIEW_DAG)  # runs of a paused DAG stay queued
    airflow.cli("dags", "trigger", PREVIEW_DAG, "--conf", json.dumps(conf))

    [run] = airflow.wait_runs_done(PREVIEW_DAG, 1)
    assert run["state"] == "success", run
    assert run["conf"] == conf
    [ti] = airflow.task_instances(PREVIEW_DAG, run["dag_run_id"])
    log = airflow.task_log(PREVIEW_DAG, run["dag_run_id"], ti["task_id"])
    summary = f"{len(expected)} row(s) of profiles in the window (showing 3)"
    assert summary in log, log[-3000:]
    # The table is in the log's default view: outside the collapsed ::group:: sections.
    shown = _ungrouped_lines(log)
    assert any(line.endswith(summary) for line in shown), shown
    assert any(
        line.endswith(f"left out: {len(expected) - 3} row(s) (raise limit)") for line in shown
    )
    assert ["id", "modified"] in [line.split() for line in shown]
    rows = [
        line.split()[0]
        for line in shown
        if line.split()[:1] and line.split()[0].isdigit() and "row(s)" not in line
    ]
    assert rows == [str(ident) for ident in sorted(expected)[:3]], shown
    assert sorted(p for p in data_root.rglob("*") if p.is_file()) == files_before
    assert not (data_root / "copernica" / PREVIEW_DAG).exists()


def _ungrouped_lines(log: str) -> list[str]:
    """The log lines outside ``::group::``/``::endgroup::`` (what the UI shows unfolded)."""
    shown, depth = [], 0
    for line in log.splitlines():
        if line.startswith("::group::"):
            depth += 1
        elif line.startswith("::endgroup::"):
            depth = max(depth - 1, 0)
        elif depth == 0:
            shown.append(line)
    return shown


def test_preview_dag_runs_with_the_trigger_forms_defaults(airflow: AirflowStandalone) -> None:
    """Triggered without conf, as the form's "Trigger" with untouched fields: the last full
    day of clicks."""
    before = {r["dag_run_id"] for r in airflow.dag_runs(PREVIEW_DAG)}
    airflow.cli("dags", "unpause", PREVIEW_DAG)
    airflow.cli("dags", "trigger", PREVIEW_DAG)
    [run] = airflow.wait_runs_done(PREVIEW_DAG, 1, select=lambda r: r["dag_run_id"] not in before)
    assert run["state"] == "success", run
    [ti] = airflow.task_instances(PREVIEW_DAG, run["dag_run_id"])
    shown = _ungrouped_lines(airflow.task_log(PREVIEW_DAG, run["dag_run_id"], ti["task_id"]))
    today = datetime.now(timezone.utc).date()
    window = f"clicks [{today - timedelta(days=1)}, {today})"
    assert any(window in line for line in shown), shown


def test_sensor_defers_until_the_data_arrives_then_extracts(
    airflow: AirflowStandalone, sandbox: Any
) -> None:
    day = _day(sandbox, 1)  # data_after hides the last day before the anchor: this one
    sandbox.faults.set("data_after:900")
    airflow.cli("dags", "unpause", SENSOR_DAG)
    _backfill(airflow, SENSOR_DAG, day, day)

    def deferred() -> dict[str, Any] | None:
        [run] = airflow.dag_runs(SENSOR_DAG)
        states = {t["task_id"]: t for t in airflow.task_instances(SENSOR_DAG, run["dag_run_id"])}
        sensor = states["wait_for_profiles"]
        assert sensor["state"] not in ("success", "failed"), sensor
        return sensor if sensor["state"] == "deferred" else None

    airflow.wait_until("the sensor to defer to the triggerer", deferred, timeout=180)
    assert not _output_dir(airflow, SENSOR_DAG).exists()
    sandbox.faults.set("data_after:0")  # the day's data "arrives" now

    [run] = airflow.wait_runs_done(SENSOR_DAG, 1, timeout=180)
    assert run["state"] == "success", run
    tis = {t["task_id"]: t for t in airflow.task_instances(SENSOR_DAG, run["dag_run_id"])}
    assert tis["wait_for_profiles"]["try_number"] == 1  # resumed by the trigger, not retried
    assert tis["extract_profiles"]["state"] == "success"
    path = _output_dir(airflow, SENSOR_DAG) / _file_name(day)
    _assert_file_is_ground_truth(path, sandbox, day, metadata=False)
    logs = airflow.home / "logs" / f"dag_id={SENSOR_DAG}" / f"run_id={run['dag_run_id']}"
    task_log = (logs / "task_id=wait_for_profiles" / "attempt=1.log").read_text()
    assert "0 record(s)" in task_log and "Pausing task as DEFERRED" in task_log, task_log[-2000:]
    trigger_logs = " ".join(p.read_text() for p in logs.glob("task_id=wait_for_profiles/*trigger*"))
    assert "Trigger fired event" in trigger_logs, trigger_logs[-2000:]


def test_run_against_a_faulty_api_still_lands_exact_data(
    airflow: AirflowStandalone, sandbox: Any
) -> None:
    day = _day(sandbox, 5)
    faults = ["429:2:0.5", "503:2"]
    reply = requests.post(f"{sandbox.url}/_sandbox/faults", json={"faults": faults}, timeout=10)
    reply.raise_for_status()
    _backfill(airflow, BACKFILL_DAG, day, day)
    airflow.wait_backfill_done(BACKFILL_DAG)

    [run] = _runs_for(airflow, BACKFILL_DAG, [day])
    assert run["state"] == "success", run
    [ti] = airflow.task_instances(BACKFILL_DAG, run["dag_run_id"])
    assert ti["try_number"] == 1, "the hook's retries should absorb the faults, not task retries"
    fired = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()["faults_fired"]
    assert fired.get("429", 0) >= 2 and fired.get("503", 0) >= 2, fired
    _assert_file_is_ground_truth(_output_dir(airflow, BACKFILL_DAG) / _file_name(day), sandbox, day)


def test_restatement_converges_a_late_event_into_its_days_file_and_no_other(
    airflow: AirflowStandalone, sandbox: Any
) -> None:
    first, second = _day(sandbox, 9), _day(sandbox, 8)
    days = [first - timedelta(days=2), first - timedelta(days=1), first, second]
    out = airflow.home / "data" / "copernica" / RESTATE_DAG / "clicks"

    def ids(day: date) -> list[int]:
        return sorted(row["id"] for row in _read_jsonl(out / f"{day.isoformat()}.jsonl"))

    def truth(day: date) -> list[int]:
        end = day + timedelta(days=1)
        return sorted(sandbox.data.expected_ids("clicks", day, end, product="draganddrop"))

    airflow.cli("dags", "unpause", RESTATE_DAG)
    _backfill(airflow, RESTATE_DAG, first, first)  # restate_intervals=2: writes 3 days
    airflow.wait_backfill_done(RESTATE_DAG)
    assert sorted(p.name for p in out.iterdir()) == [f"{d.isoformat()}.jsonl" for d in days[:3]]
    untouched = (out / f"{days[0].isoformat()}.jsonl").stat().st_mtime_ns

    late_day = days[1]  # a click on a day already extracted arrives late
    late_at = datetime(late_day.year, late_day.month, late_day.day, 15, 30, tzinfo=timezone.utc)
    [late] = sandbox.data.add_records("clicks", [late_at])
    assert late not in ids(late_day)

    _backfill(airflow, RESTATE_DAG, second, second)  # the next day's run restates two days
    airflow.wait_backfill_done(RESTATE_DAG)
    runs = _runs_for(airflow, RESTATE_DAG, [first, second])
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
    _backfill(airflow, dag_id, day, day)
    airflow.wait_backfill_done(dag_id)
    [run] = _runs_for(airflow, dag_id, [day])
    assert run["state"] == "success", run
    return run


def test_backfilled_snapshots_hold_the_state_as_of_the_run(
    airflow: AirflowStandalone, sandbox: Any
) -> None:
    """Documented: a snapshot's interval only names its file; a backfilled past week holds
    the live records as of the backfill."""
    import pyarrow.parquet as pq

    days = [_day(sandbox, 14), _day(sandbox, 7)]
    airflow.cli("dags", "unpause", SNAPSHOT_DAG)
    _backfill(airflow, SNAPSHOT_DAG, days[0], days[-1])
    airflow.wait_backfill_done(SNAPSHOT_DAG)
    runs = airflow.wait_runs_done(SNAPSHOT_DAG, 1)
    assert runs and {r["state"] for r in runs} == {"success"}, runs
    live = sorted(int(r["ID"]) for r in sandbox.data.records("profiles", database_id=DATABASE_ID))
    files = sorted(_output_dir(airflow, SNAPSHOT_DAG, "profiles_snapshot").glob("*.parquet"))
    assert len(files) == len(runs)
    for path in files:
        assert pq.read_table(path, columns=["id"]).column("id").to_pylist() == live


def test_deletions_backfills_observe_forward_only(airflow: AirflowStandalone, sandbox: Any) -> None:
    d1, d2, d3 = _day(sandbox, 12), _day(sandbox, 11), _day(sandbox, 10)
    out = _output_dir(airflow, DELETIONS_DAG, "profile_deletions")
    airflow.cli("dags", "unpause", DELETIONS_DAG)

    first = _one_run(airflow, DELETIONS_DAG, d2)  # the baseline
    baseline_taken = time.time()
    assert _read_jsonl(out / _file_name(d2)) == []
    log = airflow.task_log(DELETIONS_DAG, first["dag_run_id"], "profile_deletions")
    assert "first run has nothing to compare with" in log

    ids = sorted(int(r["ID"]) for r in sandbox.data.records("profiles", database_id=DATABASE_ID))
    gone = [ids[3], ids[300]]
    for ident in gone:
        sandbox.data.remove_record("profiles", ident, database_id=DATABASE_ID)
    _one_run(airflow, DELETIONS_DAG, d3)
    rows = _read_jsonl(out / _file_name(d3))
    assert [r["id"] for r in rows] == gone
    truth = sandbox.data.expected_ids(
        "profile_deletions", baseline_taken, time.time(), database_id=DATABASE_ID
    )
    assert [r["id"] for r in rows] == truth
    assert {r["interval_start"][:10] for r in rows} == {d3.isoformat()}

    past = _one_run(airflow, DELETIONS_DAG, d1)  # before an observed interval
    assert _read_jsonl(out / _file_name(d1)) == []
    log = airflow.task_log(DELETIONS_DAG, past["dag_run_id"], "profile_deletions")
    assert "can only be observed forward in time" in log
    state = out / "_copernica_state" / "profile_ids" / f"database_id={DATABASE_ID}"
    assert sorted(p.name[:8] for p in state.glob("*.json")) == [f"{d:%Y%m%d}" for d in (d2, d3)]


def test_every_process_is_ours_to_stop(airflow: AirflowStandalone) -> None:
    """The fixture's process group holds the whole Airflow (checked before teardown)."""
    import psutil

    assert airflow.process is not None
    commands, groups = [], set()
    for child in psutil.Process(airflow.process.pid).children(recursive=True):
        try:
            commands.append(" ".join(child.cmdline()))
            groups.add(os.getpgid(child.pid))
        except (psutil.Error, ProcessLookupError):
            continue  # a task process that just ended (zombie or gone)
    names = " ".join(commands)
    for component in ("scheduler", "dag-processor", "triggerer", "api_server"):
        assert component in names, names
    assert groups == {airflow.process.pid}
