"""The example DAGs on a real Airflow 3 (standalone: scheduler, dag-processor, triggerer,
api-server; LocalExecutor; SQLite) against the sandbox, checked against its ground truth.

The tests share one Airflow (module fixture) and each uses its own days, so they do not
depend on each other's runs; they do run in file order (the second backfill re-runs the
first one's days).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from .harness import AirflowStandalone
from .runs import (
    assert_file_is_ground_truth,
    backfill,
    expected_profile_ids,
    file_name,
    output_dir,
    runs_for,
    sandbox_day,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

BACKFILL_DAG = "copernica_backfill"
PREVIEW_DAG = "copernica_preview"
SENSOR_DAG = "copernica_sensor_gated"


def test_backfill_of_three_days_lands_one_exact_file_per_interval(
    airflow: AirflowStandalone, sandbox: Any
) -> None:
    days = [sandbox_day(sandbox, 4), sandbox_day(sandbox, 3), sandbox_day(sandbox, 2)]
    airflow.cli("dags", "unpause", BACKFILL_DAG)
    backfill(airflow, BACKFILL_DAG, days[0], days[-1])
    airflow.wait_backfill_done(BACKFILL_DAG)

    runs = runs_for(airflow, BACKFILL_DAG, days)
    assert [r["state"] for r in runs] == ["success"] * 3, runs
    assert {r["run_type"] for r in runs} == {"backfill"}
    intervals = sorted((r["data_interval_start"], r["data_interval_end"]) for r in runs)
    assert [(s[:10], e[:10]) for s, e in intervals] == [
        (d.isoformat(), (d + timedelta(days=1)).isoformat()) for d in days
    ]
    out = output_dir(airflow, BACKFILL_DAG)
    assert sorted(p.name for p in out.iterdir()) == [file_name(d) for d in days]
    for day in days:
        rows = assert_file_is_ground_truth(out / file_name(day), sandbox, day)
        assert {row["_run_id"] for row in rows} <= {r["dag_run_id"] for r in runs}


def test_backfill_again_with_reprocess_completed_replaces_the_files_idempotently(
    airflow: AirflowStandalone, sandbox: Any
) -> None:
    days = [sandbox_day(sandbox, 4), sandbox_day(sandbox, 3), sandbox_day(sandbox, 2)]
    out = output_dir(airflow, BACKFILL_DAG)
    before = {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()
    }
    assert sorted(before) == [file_name(d) for d in days], "run the first backfill test first"
    tries_before = {
        run["dag_run_id"]: airflow.task_instances(BACKFILL_DAG, run["dag_run_id"])[0]["try_number"]
        for run in runs_for(airflow, BACKFILL_DAG, days)
    }

    backfill(airflow, BACKFILL_DAG, days[0], days[-1], "--reprocess-behavior", "completed")
    airflow.wait_backfill_done(BACKFILL_DAG)

    runs = runs_for(airflow, BACKFILL_DAG, days)
    assert len(runs) == 3 and {r["state"] for r in runs} == {"success"}, runs
    for run in runs:  # the same runs ran again: their task is on a later try
        [ti] = airflow.task_instances(BACKFILL_DAG, run["dag_run_id"])
        assert ti["state"] == "success", ti
        assert ti["try_number"] > tries_before[run["dag_run_id"]], ti
    assert sorted(p.name for p in out.iterdir()) == sorted(before), "leftover or extra files"
    for day in days:
        path = out / file_name(day)
        inode, mtime, content = before[path.name]
        assert (path.stat().st_ino, path.stat().st_mtime_ns) != (inode, mtime), "not rewritten"
        assert_file_is_ground_truth(path, sandbox, day)
        assert path.read_bytes() == content  # same records, same run: the very same file


def test_preview_dag_triggered_with_conf_logs_the_rows_and_writes_nothing(
    airflow: AirflowStandalone, sandbox: Any
) -> None:
    day = sandbox_day(sandbox, 3)
    expected = expected_profile_ids(sandbox, day)
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
    day = sandbox_day(sandbox, 1)  # data_after hides the last day before the anchor: this one
    sandbox.faults.set("data_after:900")
    airflow.cli("dags", "unpause", SENSOR_DAG)
    backfill(airflow, SENSOR_DAG, day, day)

    def deferred() -> dict[str, Any] | None:
        [run] = airflow.dag_runs(SENSOR_DAG)
        states = {t["task_id"]: t for t in airflow.task_instances(SENSOR_DAG, run["dag_run_id"])}
        sensor = states["wait_for_profiles"]
        assert sensor["state"] not in ("success", "failed"), sensor
        return sensor if sensor["state"] == "deferred" else None

    airflow.wait_until("the sensor to defer to the triggerer", deferred, timeout=180)
    assert not output_dir(airflow, SENSOR_DAG).exists()
    sandbox.faults.set("data_after:0")  # the day's data "arrives" now

    [run] = airflow.wait_runs_done(SENSOR_DAG, 1, timeout=180)
    assert run["state"] == "success", run
    tis = {t["task_id"]: t for t in airflow.task_instances(SENSOR_DAG, run["dag_run_id"])}
    assert tis["wait_for_profiles"]["try_number"] == 1  # resumed by the trigger, not retried
    assert tis["extract_profiles"]["state"] == "success"
    path = output_dir(airflow, SENSOR_DAG) / file_name(day)
    assert_file_is_ground_truth(path, sandbox, day, metadata=False)
    logs = airflow.home / "logs" / f"dag_id={SENSOR_DAG}" / f"run_id={run['dag_run_id']}"
    task_log = (logs / "task_id=wait_for_profiles" / "attempt=1.log").read_text()
    assert "0 record(s)" in task_log and "Pausing task as DEFERRED" in task_log, task_log[-2000:]
    trigger_logs = " ".join(p.read_text() for p in logs.glob("task_id=wait_for_profiles/*trigger*"))
    assert "Trigger fired event" in trigger_logs, trigger_logs[-2000:]


def test_run_against_a_faulty_api_still_lands_exact_data(
    airflow: AirflowStandalone, sandbox: Any
) -> None:
    day = sandbox_day(sandbox, 5)
    faults = ["429:2:0.5", "503:2"]
    reply = requests.post(f"{sandbox.url}/_sandbox/faults", json={"faults": faults}, timeout=10)
    reply.raise_for_status()
    backfill(airflow, BACKFILL_DAG, day, day)
    airflow.wait_backfill_done(BACKFILL_DAG)

    [run] = runs_for(airflow, BACKFILL_DAG, [day])
    assert run["state"] == "success", run
    [ti] = airflow.task_instances(BACKFILL_DAG, run["dag_run_id"])
    assert ti["try_number"] == 1, "the hook's retries should absorb the faults, not task retries"
    fired = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()["faults_fired"]
    assert fired.get("429", 0) >= 2 and fired.get("503", 0) >= 2, fired
    assert_file_is_ground_truth(output_dir(airflow, BACKFILL_DAG) / file_name(day), sandbox, day)


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
