"""One compose-like CeleryExecutor Airflow for the module, on the session's sandbox."""

from __future__ import annotations

import atexit
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .harness import CeleryAirflow
from .services import missing_servers

DAGS = ["copernica_backfill", "copernica_partitioned_snapshot"]


@pytest.fixture(scope="module")
def cluster(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryAirflow]:
    """PostgreSQL + Redis + api-server, scheduler, dag-processor and two Celery workers."""
    missing = missing_servers()
    if missing:
        message = f"not installed: {', '.join(missing)} (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    started = time.monotonic()
    instance = CeleryAirflow(tmp_path_factory.mktemp("airflow-celery"), sandbox.url)
    atexit.register(instance.stop)  # also if pytest itself is interrupted
    try:
        instance.start()
        instance.wait_ready(DAGS, timeout=480)  # 13 DAG files, parsed one by one
        print(f"\nCelery cluster ready after {time.monotonic() - started:.1f}s in {instance.home}")
        yield instance
    finally:
        instance.stop()
        print(f"\nCelery module took {time.monotonic() - started:.1f}s (everything stopped)")
