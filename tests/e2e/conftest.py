"""One real Airflow for the end-to-end tests, wired to the session's sandbox."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import AirflowStandalone, airflow_env, free_port

EXAMPLE_DAGS = [
    "copernica_backfill",
    "copernica_preview",
    "copernica_sensor_gated",
    "copernica_restatement",
    "copernica_snapshots",
    "copernica_deletions",
]
ASSET_DAGS = ["copernica_daily_sync", "copernica_profiles_landed"]


def _standalone(
    sandbox: Any,
    tmp_path_factory: pytest.TempPathFactory,
    overrides: dict[str, str],
    dag_ids: list[str],
) -> Iterator[AirflowStandalone]:
    started = time.monotonic()
    home: Path = tmp_path_factory.mktemp("airflow-e2e")
    port = free_port()
    env = airflow_env(
        home,
        port,
        {"AIRFLOW_CONN_COPERNICA_DEFAULT": json.dumps(sandbox.connection()), **overrides},
    )
    instance = AirflowStandalone(home, env, port)
    try:
        instance.migrate()
        instance.start()
        instance.wait_ready(dag_ids)
        print(f"\nAirflow ready after {time.monotonic() - started:.1f}s in {home}")
        yield instance
    finally:
        instance.stop()
        print(f"\nend-to-end module took {time.monotonic() - started:.1f}s (Airflow stopped)")


@pytest.fixture(scope="module")
def airflow(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowStandalone]:
    """``airflow standalone`` (scheduler, dag-processor, triggerer, api-server), stopped at the end.

    Scheduled runs are off (``use_job_schedule=False``): the tests create every run
    themselves (backfills and triggers), so unpausing a catchup DAG adds nothing else.
    """
    overrides = {
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        # Not shorter: Airflow 3.3.2 marks a resumed sensor failed when its trigger fires
        # before the executor has reported the deferring attempt's process as finished.
        "COPERNICA_EXAMPLE_POKE_INTERVAL": "15",
    }
    yield from _standalone(sandbox, tmp_path_factory, overrides, EXAMPLE_DAGS)


@pytest.fixture(scope="module")
def scheduling_airflow(
    sandbox: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowStandalone]:
    """Like ``airflow`` but with the scheduler's own run creation on, which asset-triggered
    runs need (Airflow gates them behind ``use_job_schedule``). Only DAGs without catchup
    may be unpaused here."""
    yield from _standalone(sandbox, tmp_path_factory, {}, ASSET_DAGS)
