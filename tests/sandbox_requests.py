"""Test helpers over the session sandbox: point ``copernica_default`` at it, read its log,
and the task context an operator's ``execute`` gets."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

CONN_ENV = "AIRFLOW_CONN_COPERNICA_DEFAULT"

# Fast retries so a fault costs a fraction of a second: the hook tests' default ...
FAST = {"backoff_base": 0.05, "backoff_max": 0.2, "max_retries": 3}
# ... and the sensor/trigger tests' (polling: fewer, shorter retries).
FAST_POLL = {"backoff_base": 0.01, "backoff_max": 0.05, "max_retries": 2, "max_retry_wait": 1}


def task_context(
    start: Any, end: Any, run_id: str, params: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A scheduled run's task context: the interval, the run (``run_id``), ``params`` and
    ``extra`` (e.g. ``dag=...``)."""
    run = SimpleNamespace(run_id=run_id, run_type="scheduled", conf={})
    return {
        "data_interval_start": start,
        "data_interval_end": end,
        "run_id": run_id,
        "dag_run": run,
        "params": params or {},
        **extra,
    }


def refused_before_any_request(sandbox: Any, needle: str, call: Callable[[], Any]) -> None:
    """``call()`` raises a ``CopernicaConfigError`` naming ``needle``, and the sandbox saw no
    API request."""
    from airflow_provider_copernica.exceptions import CopernicaConfigError

    with pytest.raises(CopernicaConfigError) as caught:
        call()
    assert needle in str(caught.value)
    assert list(sandbox.iter_requests("/v4/")) == []


def connector(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, defaults: Mapping[str, Any]
) -> Callable[..., str]:
    """``connect(password=..., **extra)``: ``copernica_default`` -> ``sandbox``, with the
    connection extra ``defaults | extra``; returns the conn id."""
    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN

    def connect(password: str = SANDBOX_ACCESS_TOKEN, **extra: Any) -> str:
        conn = sandbox.connection(password, **(dict(defaults) | extra))
        monkeypatch.setenv(CONN_ENV, json.dumps(conn))
        return "copernica_default"

    return connect


def calls_to(sandbox: Any, path: str) -> list[Any]:
    """Logged requests to ``/v4/{path}``."""
    return [r for r in sandbox.requests if r.path == f"/v4/{path}"]


def data_calls(sandbox: Any) -> list[Any]:
    """Logged API requests (``/v4/...``; the JWT exchange is not one)."""
    return [r for r in sandbox.requests if r.path.startswith("/v4/")]


def bearer_tokens(sandbox: Any) -> set[str]:
    """The JWTs the sandbox was sent as ``Authorization: Bearer ...``."""
    return {
        value[7:]
        for request in sandbox.requests
        for name, value in request.headers.items()
        if name.lower() == "authorization" and value.startswith("Bearer ")
    }


def truth(sandbox: Any, dataset: str, window: tuple[datetime, datetime], **options: Any) -> int:
    """How many ``dataset`` records the ground truth has in ``window``."""
    return len(sandbox.data.expected_ids(dataset, window[0], window[1], **options))


DATABASE = 7616
PROFILES = f"database/{DATABASE}/profiles"


def profile_ids(server: Any) -> list[int]:
    """Ground truth: every profile id of database 7616, sorted."""
    return sorted(int(r["ID"]) for r in server.data.records("profiles", database_id=DATABASE))
