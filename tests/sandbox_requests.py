"""Test helpers over the session sandbox: point ``copernica_default`` at it, read its log."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import pytest

CONN_ENV = "AIRFLOW_CONN_COPERNICA_DEFAULT"

# Fast retries so a fault costs a fraction of a second: the hook tests' default ...
FAST = {"backoff_base": 0.05, "backoff_max": 0.2, "max_retries": 3}
# ... and the sensor/trigger tests' (polling: fewer, shorter retries).
FAST_POLL = {"backoff_base": 0.01, "backoff_max": 0.05, "max_retries": 2, "max_retry_wait": 1}


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
