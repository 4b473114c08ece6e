"""Reliability suite helpers: fast-retry connections, the sandbox request log, ground truth,
running the real operator, and the fault-matrix table printed at the end of the run."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from airflow_provider_copernica.testing import make_context  # noqa: F401  (shared with benchmarks/)

CONN_ID = "copernica_default"
CONN_ENV = "AIRFLOW_CONN_COPERNICA_DEFAULT"

# Small budgets so a fault costs milliseconds: every fault in the matrix fits in this budget.
FAST_EXTRA: dict[str, Any] = {
    "max_retries": 3,
    "timeout": 1.0,
    "backoff_base": 0.01,
    "backoff_max": 0.05,
    "max_retry_wait": 2.0,
    "page_size": 25,
}

# fault label -> dataset -> outcome ("exact" / "failed cleanly" / anything else = defect)
MATRIX: dict[str, dict[str, str]] = {}


def record_matrix(fault: str, dataset: str, outcome: str) -> None:
    MATRIX.setdefault(fault, {})[dataset] = outcome


def merge_matrix(rows: Mapping[str, Mapping[str, str]]) -> None:
    """Add the rows a pytest-xdist worker recorded (see ``pytest_testnodedown`` in tests/)."""
    for fault, row in rows.items():
        MATRIX.setdefault(fault, {}).update(row)


def pytest_sessionfinish(session: pytest.Session) -> None:
    output = getattr(session.config, "workeroutput", None)  # a pytest-xdist worker
    if output is not None and MATRIX:
        output["fault_matrix"] = MATRIX


def write_matrix(terminalreporter: Any) -> None:
    """The table, at the end of the run (called by tests/conftest.py, also under xdist)."""
    if not MATRIX:
        return
    datasets = sorted({d for row in MATRIX.values() for d in row})
    width = max(len(f) for f in MATRIX) + 2
    terminalreporter.section("Copernica fault matrix (fault x dataset -> outcome)")
    terminalreporter.write_line("fault".ljust(width) + "".join(d.ljust(18) for d in datasets))
    for fault, row in MATRIX.items():
        cells = "".join(row.get(d, "-").ljust(18) for d in datasets)
        terminalreporter.write_line(fault.ljust(width) + cells)


# --------------------------------------------------------------------------- request log


@dataclass(frozen=True)
class Seen:
    """One request as the sandbox saw it (its log entry, plus `url` and `is_data`)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: str

    @property
    def url(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def is_data(self) -> bool:
        """A /v4 request other than the OAuth code exchange."""
        return self.path.startswith("/v4/") and self.path.rstrip("/") != "/v4/token"


def seen_requests(server: Any) -> list[Seen]:
    return [Seen(r.method, r.path, r.query, r.headers, r.body) for r in list(server.requests)]


def clear_log(server: Any) -> None:
    server.requests.clear()


def data_requests(server: Any) -> list[Seen]:
    return [r for r in seen_requests(server) if r.is_data]


def issued_jwts(server: Any) -> set[str]:
    """The JWTs the client presented (read from the Authorization headers the sandbox saw)."""
    found = set()
    for req in seen_requests(server):
        for key, value in req.headers.items():
            if key.lower() == "authorization" and str(value).lower().startswith("bearer "):
                found.add(str(value)[7:].strip())
    return found


def everything_sandbox_saw_in_urls(server: Any) -> list[str]:
    return [unquote(r.url) for r in seen_requests(server)]


# --------------------------------------------------------------------------- connections


@pytest.fixture
def connect(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``connect(password=..., **extra)`` points copernica_default at the sandbox with fast
    retries (FAST_EXTRA, overridable) and returns the conn id."""
    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN

    def _connect(password: str = SANDBOX_ACCESS_TOKEN, **extra: Any) -> str:
        merged = {**sandbox.connection_extra(), **FAST_EXTRA, **extra}
        merged = {k: v for k, v in merged.items() if v is not None}
        conn = {"conn_type": "copernica", "host": sandbox.url, "password": password}
        conn["extra"] = merged
        monkeypatch.setenv(CONN_ENV, json.dumps(conn))
        return CONN_ID

    return _connect


@pytest.fixture(autouse=True)
def _clean_log(sandbox: Any) -> Iterator[None]:
    clear_log(sandbox)
    yield
    sandbox.faults.reset()


# --------------------------------------------------------------------------- ground truth


def anchor_of(server: Any) -> datetime:
    anchor = getattr(server.data, "anchor", None) or getattr(server, "anchor", None)
    if anchor is None:
        return datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    if not isinstance(anchor, datetime):
        anchor = datetime(anchor.year, anchor.month, anchor.day, tzinfo=timezone.utc)
    return anchor if anchor.tzinfo else anchor.replace(tzinfo=timezone.utc)


def expected_ids(server: Any, dataset: str, start: datetime, end: datetime, **opts: Any) -> list:
    return sorted(server.data.expected_ids(dataset, start, end, **opts))


def find_window(
    server: Any,
    dataset: str,
    options: Mapping[str, Any],
    low: int,
    high: int,
    days: int = 1,
) -> tuple[datetime, datetime, list]:
    """A window of ``days`` days (UTC midnights) whose ground truth has low..high records."""
    end = anchor_of(server).replace(hour=0, minute=0, second=0, microsecond=0)
    for _ in range(240):
        start = end - timedelta(days=days)
        ids = expected_ids(server, dataset, start, end, **options)
        if low <= len(ids) <= high:
            return start, end, ids
        end = start
    raise AssertionError(f"no {days}-day window with {low}..{high} {dataset} records")


# --------------------------------------------------------------------------- operator


def run_operator(context: Mapping[str, Any], **kwargs: Any) -> Any:
    """Build the real operator, render its templates like a worker would, execute it."""
    from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator

    kwargs.setdefault("task_id", "extract")
    op = CopernicaToStorageOperator(**kwargs)
    op.render_template_fields(dict(context))
    return op.execute(dict(context))


def read_ids(path: Path) -> list:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [row["id"] for row in rows]


def directory_listing(directory: Path) -> list[str]:
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir())
