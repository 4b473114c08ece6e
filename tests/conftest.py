"""Shared test setup: an isolated AIRFLOW_HOME, and the sandbox fixtures."""

from __future__ import annotations

import os
import sys
import tempfile

# Airflow reads its configuration at import time: isolate it before anything imports airflow.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="copernica-tests-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

import json  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable, Iterator, Mapping  # noqa: E402
from datetime import date  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN, SandboxServer  # noqa: E402

# Pinned so that tests see the same data every day: both 2026 DST changes lie inside the span.
SANDBOX_SEED = 7
SANDBOX_ANCHOR = date(2026, 11, 20)
# Small retry waits and timeouts keep fault tests fast.
TEST_CONN_EXTRA: dict[str, Any] = {"max_retries": 3, "timeout": 10, "max_retry_wait": 5}


# Suites that mostly wait on processes (a real Airflow, a Celery cluster) for minutes.
_WAITING_MARKS = ("e2e", "browser", "celery")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a pytest-xdist worker (``make test``: ``--dist loadscope --no-loadscope-reorder``),
    order the modules as the workers should get them.

    ``--dist loadscope`` hands out whole modules, so a module's fixtures (an ``airflow
    standalone``, a Celery cluster, a migrated AIRFLOW_HOME, a moto server) start once, and
    the session ones (``sandbox``) once per worker. The modules marked e2e/browser/celery go
    out first: they wait on processes for minutes while the other workers run the CPU-bound
    modules, largest first.
    """
    if not hasattr(config, "workerinput"):  # the order the workers report is the queue's
        return
    sizes = Counter(_module(item) for item in items)
    items.sort(key=lambda item: (not _waits(item), -sizes[_module(item)]))


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def _waits(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in _WAITING_MARKS)


def pytest_sessionstart(session: pytest.Session) -> None:
    """pytest-xdist's controller runs no test, so what Airflow logged while this file was
    imported would be printed after pytest's closing line, which CI reads: show it first."""
    capture = session.config.pluginmanager.getplugin("capturemanager")
    if capture is not None and session.config.getoption("numprocesses", None):
        out, err = capture.read_global_capture()
        reporter = session.config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None and (out or err):
            reporter.write((out + err).rstrip() + "\n")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist's controller: a worker's rows of the fault matrix join the table."""
    rows = getattr(node, "workeroutput", {}).get("fault_matrix")
    if rows:
        from reliability.conftest import merge_matrix

        merge_matrix(rows)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    reliability = sys.modules.get("reliability.conftest")  # loaded once its tests ran
    if reliability is not None:
        reliability.write_matrix(terminalreporter)


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


# --------------------------------------------------------------------------- shared fixtures
# `connect`/`conn` for the hook, async-hook, sensor and trigger tests. A module picks its
# retry profile by overriding `fast_extra` (see tests/sandbox_requests.py: FAST, FAST_POLL).


@pytest.fixture
def fast_extra() -> Mapping[str, Any]:
    """Connection extra of `connect` (fast retries); override per module."""
    from sandbox_requests import FAST

    return FAST


@pytest.fixture
def connect(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, fast_extra: Mapping[str, Any]
) -> Callable[..., str]:
    """``connect(password=..., **extra)``: copernica_default -> the sandbox, fast retries."""
    from sandbox_requests import connector

    return connector(sandbox, monkeypatch, fast_extra)


@pytest.fixture
def conn(connect: Callable[..., str], sandbox: SandboxServer) -> str:
    """copernica_default -> the sandbox (fast retries), with an empty request log."""
    conn_id = connect()
    sandbox.requests.clear()
    return conn_id


@pytest.fixture
def fresh_log(sandbox: SandboxServer) -> None:
    """Start the test with an empty sandbox request log."""
    sandbox.requests.clear()
