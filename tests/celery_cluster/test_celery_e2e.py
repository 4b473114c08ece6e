"""The example backfill and partitioned-snapshot DAGs on CeleryExecutor (PostgreSQL metadata
DB, Redis broker, two Celery workers) with docker-compose.yaml's settings, against the
sandbox's ground truth.

The tests share one cluster (module fixture) and each uses its own days.
"""

from __future__ import annotations

import os
import re
import time
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
from e2e.runs import (
    assert_file_is_ground_truth as _assert_file_is_ground_truth,
)
from e2e.runs import backfill as _backfill
from e2e.runs import file_name as _file_name
from e2e.runs import output_dir as _output_dir
from e2e.runs import read_jsonl as _read_jsonl
from e2e.runs import runs_for as _runs_for
from e2e.runs import sandbox_day as _day
from sandbox_requests import data_calls, profile_ids

from airflow_provider_copernica.output.manifest import MANIFEST_NAME, read_manifest

from .harness import WORKERS, CeleryAirflow

pytestmark = [pytest.mark.e2e, pytest.mark.celery, pytest.mark.timeout(900)]

DAG = "copernica_backfill"
TASK = "extract_profiles"
TWO_HOURS = 2 * 3600
PARTITIONED = "copernica_partitioned_snapshot"
LATENCY = 1.0  # seconds added to each data request in the partitioned runs
PAGE = 1000  # the connection's default page size


def test_the_cluster_runs_the_compose_settings(cluster: CeleryAirflow) -> None:
    """What the running Airflow reports is the compose file's configuration."""
    assert cluster.compose_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    values = {
        key: cluster.cli("config", "get-value", *key.split(".")).stdout.strip()
        for key in ("core.executor", "database.sql_alchemy_conn", "celery.broker_url")
    }
    assert values["core.executor"] == "CeleryExecutor"
    assert values["database.sql_alchemy_conn"] == (
        f"postgresql+psycopg2://airflow:airflow@127.0.0.1:{cluster.postgres.port}/airflow"
    )
    assert values["celery.broker_url"] == f"redis://:@127.0.0.1:{cluster.redis.port}/0"
    assert cluster.postgres.query("select count(*) from dag where dag_id = %s", DAG) == [(1,)]


def test_backfill_of_six_days_runs_on_both_workers_and_lands_exact_files(
    cluster: CeleryAirflow, sandbox: Any
) -> None:
    days = [_day(sandbox, n) for n in range(9, 3, -1)]
    cluster.cli("dags", "unpause", DAG)
    _backfill(cluster, DAG, days[0], days[-1])
    cluster.wait_backfill_done(DAG, timeout=400)

    runs = _runs_for(cluster, DAG, days)
    assert [r["state"] for r in runs] == ["success"] * 6, runs
    ran_on: dict[str, str] = {}
    for run in sorted(runs, key=lambda r: r["data_interval_start"]):
        [ti] = cluster.task_instances(DAG, run["dag_run_id"])
        assert ti["state"] == "success" and ti["try_number"] == 1, ti
        ran_on[run["data_interval_start"][:10]] = ti["hostname"]
        # The worker's own log shows it executed this run's task.
        assert run["dag_run_id"] in cluster.log_of(ti["hostname"]), ti
    print(f"\nworker per interval: {ran_on}")
    assert set(ran_on.values()) == set(WORKERS), ran_on

    out = _output_dir(cluster, DAG)
    assert sorted(p.name for p in out.iterdir()) == [_file_name(d) for d in days]
    for day in days:
        _assert_file_is_ground_truth(out / _file_name(day), sandbox, day)

    # Each task's OpenLineage COMPLETE event (emitted by the worker): Copernica in, file out.
    landed = {}
    for event in cluster.lineage_events():
        if event["job"]["name"] == f"{DAG}.{TASK}":
            [source], [output] = event["inputs"], event["outputs"]
            assert source["namespace"] == f"copernica://{sandbox.url.removeprefix('http://')}"
            assert source["name"] == "/v4/database/7616/profiles"
            assert output["namespace"] == "file"
            landed[output["name"]] = output["outputFacets"]["outputStatistics"]["rowCount"]
    assert landed == {
        str(out / _file_name(d)): len((out / _file_name(d)).read_text().splitlines()) for d in days
    }


def _trigger(cluster: CeleryAirflow, dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
    """A manual run without logical date (as the UI's Trigger button), finished."""
    run = cluster.api("POST", f"dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
    [done] = cluster.wait_runs_done(
        dag_id, 1, timeout=300, select=lambda r: r["dag_run_id"] == run["dag_run_id"]
    )
    return done


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def test_partitioned_snapshot_spreads_its_parts_over_both_workers_and_lists_them_last(
    cluster: CeleryAirflow, sandbox: Any
) -> None:
    """The partitioned example with 4 parts, 2 parts (one per worker) and a single part (the
    baseline of benchmarks/RESULTS.md; a first single-part run warms the cluster up): each
    exact, calls = 1 probe + per part its field list and its pages, and the 4 mapped tasks
    ran on both workers."""
    expected = profile_ids(sandbox)
    cluster.cli("dags", "unpause", PARTITIONED)
    sandbox.faults.set(f"latency:{LATENCY}")  # a live API page takes hundreds of ms
    figures = {}
    for label, partitions in (("warm-up", 1), (4, 4), (2, 2), (1, 1)):
        sandbox.requests.clear()
        run = _trigger(cluster, PARTITIONED, {"partitions": partitions})
        assert run["state"] == "success", run
        calls = data_calls(sandbox)
        tis = cluster.task_instances(PARTITIONED, run["dag_run_id"])
        parts = sorted(
            (t for t in tis if t["task_id"] == "extract_part"), key=lambda t: t["map_index"]
        )
        assert [t["map_index"] for t in parts] == list(range(partitions)), tis
        assert all(t["state"] == "success" for t in tis), tis

        directory = _output_dir(cluster, PARTITIONED, "profiles_snapshot") / re.sub(
            r"[^\w.-]", "_", run["dag_run_id"]
        )
        manifest = read_manifest(directory.as_uri())
        assert manifest["run_id"] == run["dag_run_id"]
        assert sorted(p.name for p in directory.iterdir()) == sorted(
            [MANIFEST_NAME, *(f"part-{k:05d}-of-{partitions:05d}.jsonl" for k in range(partitions))]
        )
        union = [
            row["id"]
            for p in manifest["parts"]
            for row in _read_jsonl(directory / p["uri"].rsplit("/", 1)[1])
        ]
        assert sorted(union) == expected and len(set(union)) == len(union)
        assert [p["rows"] for p in manifest["parts"]] == [
            len(_read_jsonl(directory / p["uri"].rsplit("/", 1)[1])) for p in manifest["parts"]
        ]

        probes = [c for c in calls if ("order", "desc") in parse_qsl(c.query)]
        fields = [c for c in calls if c.path.endswith("/fields")]
        pages = [c for c in calls if c not in probes and c not in fields]
        assert len(probes) == 1 and len(fields) == partitions, calls
        assert len(pages) == sum(p["rows"] // PAGE + 1 for p in manifest["parts"])
        ran_on = {t["map_index"]: t["hostname"] for t in parts}
        timeline = [
            f"{t['task_id']}[{t['map_index']}] {t['hostname']} "
            f"{_seconds(run['start_date'], t['start_date']):.1f}-"
            f"{_seconds(run['start_date'], t['end_date']):.1f}s"
            for t in sorted(tis, key=lambda t: t["start_date"])
        ]
        figures[label] = {
            "run_seconds": _seconds(run["start_date"], run["end_date"]),
            "extract_seconds": _seconds(
                min(t["start_date"] for t in parts), max(t["end_date"] for t in parts)
            ),
            "calls": len(calls),
            "rows": len(union),
            "workers": ran_on,
        }
        print(f"\n{label}: {figures[label]}; timeline: {', '.join(timeline)}")
    sandbox.faults.reset()
    assert set(figures[4]["workers"].values()) == set(WORKERS), figures[4]
    for label, figure in figures.items():
        print(
            f"\nbenchmark: {label} part(s), {LATENCY}s per request: run "
            f"{figure['run_seconds']:.1f}s wall, parts {figure['extract_seconds']:.1f}s, "
            f"{figure['calls']} calls, {figure['rows']} rows, workers {figure['workers']}"
        )


def test_worker_killed_mid_extraction_the_task_retries_and_the_file_is_exact(
    cluster: CeleryAirflow, sandbox: Any
) -> None:
    day = _day(sandbox, 11)
    out = _output_dir(cluster, DAG)
    final = out / _file_name(day)
    sandbox.faults.set("latency:6")  # every data request takes 6 s: the kill lands mid-way
    cluster.cli("dags", "unpause", DAG)
    _backfill(cluster, DAG, day, day)

    def extracting() -> dict[str, Any] | None:
        runs = [r for r in cluster.dag_runs(DAG) if r["data_interval_start"][:10] == str(day)]
        if not runs:
            return None
        [ti] = cluster.task_instances(DAG, runs[0]["dag_run_id"])
        temporaries = list(out.glob(f".{final.name}.tmp-*"))
        requests = [r for r in sandbox.requests if r.path.endswith("/profiles")]
        if ti["state"] == "running" and ti["hostname"] and temporaries and requests:
            return ti | {"dag_run_id": runs[0]["dag_run_id"]}
        return None

    running = cluster.wait_until("the extraction to be in flight", extracting, timeout=180)
    victim = running["hostname"]
    killed = cluster.kill_worker(victim)
    killed_at = time.monotonic()
    assert not final.exists(), "the file was published before the kill"
    sandbox.faults.set("latency:0")

    [run] = cluster.wait_runs_done(
        DAG, 1, timeout=240, select=lambda r: r["dag_run_id"] == running["dag_run_id"]
    )
    assert run["state"] == "success", run
    tries = cluster.task_instance_try(DAG, run["dag_run_id"], TASK)
    print(
        f"\nkilled {victim} (pids {killed}) during {day}; tries: "
        + ", ".join(f"#{t['try_number']} {t['hostname']} {t['state']}" for t in tries)
        + f"; recovered {time.monotonic() - killed_at:.0f}s after the kill"
    )
    assert [t["try_number"] for t in tries] == [1, 2], tries
    assert tries[0]["hostname"] == victim and tries[0]["state"] == "failed", tries
    [survivor] = set(WORKERS) - {victim}
    assert tries[1]["hostname"] == survivor and tries[1]["state"] == "success", tries
    _assert_file_is_ground_truth(final, sandbox, day)

    # No partial file: besides the exact file, only the killed try's hidden temporary.
    leftovers = [p for p in out.iterdir() if p.name.startswith(f".{final.name}")]
    assert len(leftovers) == 1 and re.fullmatch(
        rf"\.{re.escape(final.name)}\.tmp-[0-9a-f]+", leftovers[0].name
    ), leftovers
    # A temporary untouched for an hour belongs to a dead writer: the next write of this
    # interval removes it.
    os.utime(leftovers[0], (time.time() - TWO_HOURS, time.time() - TWO_HOURS))
    cluster.wait_backfill_done(DAG)  # one active backfill per DAG
    _backfill(cluster, DAG, day, day, "--reprocess-behavior", "completed")
    cluster.wait_backfill_done(DAG, timeout=240)
    assert not leftovers[0].exists(), "the stale temporary was not removed"
    assert [p.name for p in out.iterdir() if final.name in p.name] == [final.name]
    _assert_file_is_ground_truth(final, sandbox, day)
