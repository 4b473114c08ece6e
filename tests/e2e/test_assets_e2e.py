"""Asset events on a real Airflow: a backfill of ``copernica_daily_sync`` emits one event per
interval on the stable asset of each dataset, and ``copernica_profiles_landed`` (scheduled on
the profiles asset) runs after it, reading the files from the events' extra.

Its own Airflow (``scheduling_airflow``): asset-triggered runs need the scheduler's run
creation, which the other e2e module turns off.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from .harness import AirflowStandalone

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

UPSTREAM = "copernica_daily_sync"
DOWNSTREAM = "copernica_profiles_landed"
DATABASE_ID = 7616


def _asset_uri(airflow: AirflowStandalone, dataset: str) -> str:
    directory = airflow.home / "data" / "copernica" / UPSTREAM / dataset
    return f"{directory.as_uri()}?dataset={dataset}"


def _events(airflow: AirflowStandalone, asset_id: int) -> list[dict[str, Any]]:
    params = {"asset_id": asset_id, "limit": 100}
    return airflow.api("GET", "assets/events", params=params)["asset_events"]


def test_backfill_emits_asset_events_and_the_asset_scheduled_dag_runs_after_it(
    scheduling_airflow: AirflowStandalone, sandbox: Any
) -> None:
    airflow = scheduling_airflow
    days = [sandbox.data.anchor - timedelta(days=n) for n in (3, 2)]
    airflow.cli("dags", "unpause", DOWNSTREAM)
    # The backfill's runs are written while the upstream DAG is still paused: the scheduler
    # creates no run of its own meanwhile (a concurrent write of dag_run rows can crash
    # Airflow 3.3.2's scheduler on SQLite with a StaleDataError). Unpausing then starts them
    # (catchup=False: the scheduler adds at most one run, for the latest interval).
    airflow.cli(
        "backfill",
        "create",
        "--dag-id",
        UPSTREAM,
        "--from-date",
        days[0].isoformat(),
        "--to-date",
        days[-1].isoformat(),
        "--max-active-runs",
        "1",  # one day after the other: usually one downstream run per day
    )
    airflow.cli("dags", "unpause", UPSTREAM)
    airflow.wait_backfill_done(UPSTREAM, timeout=600)
    wanted = {d.isoformat() for d in days}
    runs = airflow.wait_runs_done(
        UPSTREAM,
        len(days),
        timeout=300,
        select=lambda r: r["run_type"] == "backfill" and r["data_interval_start"][:10] in wanted,
    )
    assert [r["state"] for r in runs] == ["success"] * len(days), runs

    # Airflow lists both assets, named by the rule, with one event per backfill interval.
    assets = {a["uri"]: a for a in airflow.api("GET", "assets", params={"limit": 100})["assets"]}
    profiles_uri, clicks_uri = _asset_uri(airflow, "profiles"), _asset_uri(airflow, "clicks")
    assert {profiles_uri, clicks_uri} <= set(assets), sorted(assets)
    backfill_runs = {r["dag_run_id"] for r in runs}
    profile_events: list[dict[str, Any]] = []
    for uri, dataset in ((profiles_uri, "profiles"), (clicks_uri, "clicks")):
        events = [
            e for e in _events(airflow, assets[uri]["id"]) if e["source_run_id"] in backfill_runs
        ]
        if dataset == "profiles":
            profile_events = events
        assert len(events) == len(days), events
        for event in events:
            extra = event["extra"]
            assert event["source_dag_id"] == UPSTREAM
            assert extra["dataset"] == dataset
            day = extra["interval_start"][:10]
            assert day in wanted
            start = date.fromisoformat(day)
            assert extra["interval_end"][:10] == (start + timedelta(days=1)).isoformat()
            path = Path(extra["uri"].removeprefix("file://"))
            assert path.parent == airflow.home / "data" / "copernica" / UPSTREAM / dataset
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            assert extra["rows"] == len(rows)
            if dataset == "profiles":
                truth = sandbox.data.expected_ids(
                    "profiles", start, start + timedelta(days=1), database_id=DATABASE_ID
                )
                assert sorted(r["id"] for r in rows) == sorted(truth) and truth

    # The asset-scheduled DAG ran after the backfill, on exactly those events.
    def consumed() -> list[dict[str, Any]] | None:
        queued = airflow.api("GET", f"dags/{DOWNSTREAM}/assets/queuedEvents")["queued_events"]
        runs = airflow.dag_runs(DOWNSTREAM)
        if queued or not runs or any(r["state"] not in ("success", "failed") for r in runs):
            return None
        return runs

    downstream = airflow.wait_until(f"the runs of {DOWNSTREAM}", consumed, timeout=300)
    assert {r["run_type"] for r in downstream} == {"asset_triggered"}
    assert {r["state"] for r in downstream} == {"success"}, downstream
    seen: dict[str, Any] = {}
    logs = ""
    for run in downstream:
        upstream_events = airflow.api(
            "GET", f"dags/{DOWNSTREAM}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents"
        )["asset_events"]
        for event in upstream_events:
            assert event["uri"] == profiles_uri
            assert run["run_after"] >= event["timestamp"]  # ran after the file landed
            seen[event["source_run_id"]] = event["extra"]
        logs += airflow.task_log(DOWNSTREAM, run["dag_run_id"], "summarise_new_files")
    # Every run logs the files of the events it consumed, read from their extra. Not every
    # event need trigger a run: events that arrive together make one run, and Airflow 3.3.2
    # drops the queue entry of an event committed while the scheduler creates a run (seen
    # here: it deletes the DAG's whole queue after reading it), so the assertions are about
    # the events that were consumed.
    assert seen and set(seen) & backfill_runs, seen
    for extra in seen.values():
        assert f"{extra['rows']} rows in {extra['uri']}" in logs, logs[-3000:]
    assert "(MISSING)" not in logs
    assert {
        e["source_run_id"]: e["extra"] for e in profile_events if e["source_run_id"] in seen
    } == {run_id: extra for run_id, extra in seen.items() if run_id in backfill_runs}
