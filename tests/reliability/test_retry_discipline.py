"""Retry discipline, counted in the sandbox's request log: at most ``max_retries + 1`` attempts
per request, a 400/404 is never retried, a ``Retry-After`` beyond ``max_retry_wait`` fails at
once instead of sleeping, and the hooks' call counters match what the server saw."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import data_requests, seen_requests

MAX_RETRIES = 2
RETRYABLE = ["429:{n}:0.01", "502:{n}", "503:{n}", "504:{n}", "reset:{n}", "truncate:{n}"]
RETRYABLE += ["timeout:{n}:1.5"]  # with a 0.6 s client timeout


def _hook(kind: str) -> Any:
    from airflow_provider_copernica.hooks.copernica import CopernicaAsyncHook, CopernicaHook

    return CopernicaHook("copernica_default") if kind == "sync" else CopernicaAsyncHook()


async def _get(kind: str, path: str, params: Any = None) -> Any:
    hook = _hook(kind)
    if kind == "sync":
        return hook.get(path, params)
    try:
        return await hook.get(path, params)
    finally:
        await hook.close()


def _calls_to(server: Any, path: str) -> int:
    return sum(1 for r in data_requests(server) if r.path == f"/v4/{path}")


@pytest.fixture
def budget_conn(connect: Callable[..., str]) -> str:
    return connect(max_retries=MAX_RETRIES, timeout=0.6)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("template", RETRYABLE)
async def test_attempts_stay_within_budget(
    template: str, kind: str, sandbox: Any, budget_conn: str
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaRetryError

    # As many faults as retries: the last allowed attempt succeeds.
    sandbox.faults.set(template.format(n=MAX_RETRIES))
    identity = await _get(kind, "identity")
    assert identity["name"]
    assert _calls_to(sandbox, "identity") == MAX_RETRIES + 1

    # One fault more than retries: exactly max_retries + 1 attempts, then a clear error.
    sandbox.faults.reset()
    before = _calls_to(sandbox, "identity")
    sandbox.faults.set(template.format(n=MAX_RETRIES + 1))
    with pytest.raises(CopernicaRetryError) as caught:
        await _get(kind, "identity")
    assert _calls_to(sandbox, "identity") - before == MAX_RETRIES + 1
    message = str(caught.value)
    assert "identity" in message and str(MAX_RETRIES + 1) in message, message


def test_api_calls_counter_matches_the_server(sandbox: Any, budget_conn: str) -> None:
    hook = _hook("sync")
    sandbox.faults.set("503:2")
    from airflow_provider_copernica.engine.paging import iter_pages

    pages = list(iter_pages(hook, "databases"))
    assert pages and hook.api_calls == len(data_requests(sandbox))
    assert hook.auth_calls == sum(1 for r in seen_requests(sandbox) if r.method == "POST")


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("html/clicks", [("begintime", "2026-01-01 00:00:00")], 400),
        ("database/7616/profiles", [("limit", "-5")], 400),
        ("database/987654321", None, 404),
    ],
    ids=["unsupported-parameter", "negative-limit", "unknown-database"],
)
async def test_client_errors_are_never_retried(
    kind: str, path: str, params: Any, status: int, sandbox: Any, budget_conn: str
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaAPIError

    with pytest.raises(CopernicaAPIError) as caught:
        await _get(kind, path, params)
    assert caught.value.status == status
    assert _calls_to(sandbox, path) == 1, "a client error was retried"


async def test_400_carries_copernicas_message(sandbox: Any, budget_conn: str) -> None:
    from airflow_provider_copernica.exceptions import CopernicaAPIError

    with pytest.raises(CopernicaAPIError) as caught:
        _hook("sync").get("html/clicks", [("begintime", "2026-01-01 00:00:00")])
    assert "begintime is not supported" in str(caught.value), str(caught.value)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_retry_after_beyond_the_maximum_fails_at_once(
    kind: str, sandbox: Any, connect: Callable[..., str]
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaRetryError

    connect(max_retries=5, max_retry_wait=2)
    sandbox.faults.set("429:1:36000")  # ten hours
    with pytest.raises(CopernicaRetryError) as caught:
        await _get(kind, "identity")
    message = str(caught.value)
    assert "Retry-After" in message and "max_retry_wait" in message, message
    assert _calls_to(sandbox, "identity") == 1


def test_operator_gives_up_on_a_long_retry_after_and_keeps_nothing(
    sandbox: Any, connect: Callable[..., str], tmp_path: Any
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaRetryError

    from .conftest import find_window, make_context, run_operator

    connect(max_retry_wait=1)
    start, end, _ = find_window(sandbox, "clicks", {"product": "draganddrop"}, 1, 10_000, days=30)
    sandbox.faults.set("429:1:7200")
    with pytest.raises(CopernicaRetryError, match="Retry-After"):
        run_operator(
            make_context(start, end),
            dataset="clicks",
            output_uri=f"file://{tmp_path}/out/clicks.jsonl",
        )
    assert len(data_requests(sandbox)) == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_refused_jwt_reauthenticates_once_then_fails(
    kind: str, sandbox: Any, budget_conn: str
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaAuthError

    sandbox.faults.set("401:10")
    with pytest.raises(CopernicaAuthError):
        await _get(kind, "identity")
    assert _calls_to(sandbox, "identity") == 2, "re-authenticated more (or less) than once"
    assert 1 <= sum(1 for r in seen_requests(sandbox) if r.method == "POST") <= 2
