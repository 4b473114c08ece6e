"""Shared test setup: an isolated AIRFLOW_HOME, and the sandbox fixtures."""

from __future__ import annotations

import os
import tempfile

# Airflow reads its configuration at import time: isolate it before anything imports airflow.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="copernica-tests-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

import json  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from datetime import date  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN, SandboxServer  # noqa: E402

# Pinned so that tests see the same data every day: both 2026 DST changes lie inside the span.
SANDBOX_SEED = 7
SANDBOX_ANCHOR = date(2026, 11, 20)
# Small retry waits and timeouts keep fault tests fast.
TEST_CONN_EXTRA: dict[str, Any] = {"max_retries": 3, "timeout": 10, "max_retry_wait": 5}


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """A started sandbox shared by the whole session (seed 7, anchor 2026-11-20, 3000 profiles).

    Faults, data mutations, extra tokens, stats and the request log are reset after each test.
    """
    server = SandboxServer(profiles=3000, seed=SANDBOX_SEED, anchor=SANDBOX_ANCHOR).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset_sandbox(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").reset()


@pytest.fixture
def fresh_sandbox() -> Iterator[SandboxServer]:
    """A private sandbox for tests that mutate data heavily (same seed and anchor)."""
    server = SandboxServer(profiles=3000, seed=SANDBOX_SEED, anchor=SANDBOX_ANCHOR).start()
    yield server
    server.stop()


def sandbox_conn_json(
    server: SandboxServer, token: str = SANDBOX_ACCESS_TOKEN, **extra: Any
) -> str:
    """``AIRFLOW_CONN_*`` value (JSON) for a connection to ``server``."""
    return json.dumps(server.connection(token, **(TEST_CONN_EXTRA | extra)))


@pytest.fixture
def copernica_conn(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """Points ``copernica_default`` at the session sandbox; returns the conn id."""
    monkeypatch.setenv("AIRFLOW_CONN_COPERNICA_DEFAULT", sandbox_conn_json(sandbox))
    return "copernica_default"


@pytest.fixture
def hook(copernica_conn: str) -> Any:
    """A ``CopernicaHook`` on the sandbox connection."""
    from airflow_provider_copernica.hooks.copernica import CopernicaHook

    return CopernicaHook(copernica_conn)
