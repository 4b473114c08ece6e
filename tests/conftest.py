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


_SHARED_SCOPES = ("class", "module", "package")
# Suites that mostly wait on processes (a real Airflow, a Celery cluster) for minutes.
_WAITING_MARKS = ("e2e", "browser", "celery")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the marks (--dist loadgroup)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group and order the tests for pytest-xdist's ``--dist loadgroup`` (``make test``).

    A module whose tests share a class/module/package fixture (an ``airflow standalone``, a
    Celery cluster, a migrated AIRFLOW_HOME, a moto server) becomes one ``xdist_group``: it
    stays on one worker, so that fixture starts once. Every other test goes to whichever
    worker is free. An explicit ``@pytest.mark.xdist_group(name)`` wins (e.g. to keep two
    modules that share a port or a file on one worker). Session fixtures (``sandbox``) start
    once per worker, and each worker has its own.

    Under xdist (run it with ``--no-loadscope-reorder``) the suites marked e2e/browser/celery
    are sent out first: they wait on processes for minutes while the other workers run the
    CPU-bound tests; then the larger groups, then the single tests in their usual order.
    """
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        info = getattr(item, "_fixtureinfo", None)
        definitions = info.name2fixturedefs.values() if info else ()
        if any(defs and defs[-1].scope in _SHARED_SCOPES for defs in definitions):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
    sizes = Counter(_group(item) for item in items)
    if hasattr(config, "workerinput"):  # an xdist worker: its order is the controller's queue
        items.sort(key=lambda item: (not _waits(item), -sizes[_group(item)]))


def _group(item: pytest.Item) -> str:
    mark = item.get_closest_marker("xdist_group")
    return str(mark.args[0]) if mark else item.nodeid


def _waits(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in _WAITING_MARKS)


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
