"""CopernicaAsyncHook (httpx) against the sandbox: get, retries, re-auth, the same errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from sandbox_requests import PROFILES, bearer_tokens, calls_to, profile_ids

from airflow_provider_copernica.exceptions import (
    CopernicaAPIError,
    CopernicaAuthError,
    CopernicaRetryError,
)
from airflow_provider_copernica.hooks.copernica import CopernicaAsyncHook

# The live API ignores unknown fields[] conditions; this parameter it refuses (400).
UNSUPPORTED = ("html/clicks", [("begintime", "2026-01-01 00:00:00")])

pytestmark = pytest.mark.usefixtures("fresh_log")


async def test_get_reuses_one_jwt(sandbox: Any, connect: Callable[..., str]) -> None:
    hook = CopernicaAsyncHook(connect())
    try:
        identity, page = await asyncio.gather(
            hook.get("identity"), hook.get(PROFILES, [("fields[]", "id<50"), ("limit", 1000)])
        )
        assert identity["name"]
        assert [int(r["ID"]) for r in page["data"]] == [i for i in profile_ids(sandbox) if i < 50]
        assert hook.auth_calls == 1 and hook.api_calls == 2
        assert len(bearer_tokens(sandbox)) == 1
    finally:
        await hook.close()


async def test_retries_a_503_burst_and_a_429(sandbox: Any, connect: Callable[..., str]) -> None:
    hook = CopernicaAsyncHook(connect(max_retries=4))
    try:
        sandbox.faults.set("503:2")
        assert (await hook.get("identity"))["name"]
        sandbox.faults.reset()
        sandbox.faults.set("429:1:0.2")
        assert (await hook.get("identity"))["name"]
        assert hook.api_calls == 5 == len(calls_to(sandbox, "identity"))
    finally:
        await hook.close()


async def test_reauthenticates_after_401_and_after_expiry(
    sandbox: Any, connect: Callable[..., str]
) -> None:
    hook = CopernicaAsyncHook(connect())
    try:
        sandbox.faults.set("jwt_ttl:10", "401:1")
        assert (await hook.get("identity"))["name"]  # 401 -> a new JWT, once
        assert hook.auth_calls == 2 and len(calls_to(sandbox, "identity")) == 2
        await asyncio.sleep(10.1)
        assert (await hook.get("identity"))["name"]  # expired -> fetched again before use
        assert hook.auth_calls == 3 and len(calls_to(sandbox, "identity")) == 3
        assert len(bearer_tokens(sandbox)) == 3
    finally:
        await hook.close()


async def test_errors_match_the_sync_hook(
    sandbox: Any, connect: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN

    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    hook = CopernicaAsyncHook(connect(max_retries=1))
    try:
        sandbox.faults.set("401:10")
        with pytest.raises(CopernicaAuthError) as refused:
            await hook.get("identity")
        errors.append(repr(refused.value))
        sandbox.faults.reset()
        sandbox.faults.set("503:10")
        with pytest.raises(CopernicaRetryError, match="2 attempt") as spent:
            await hook.get("identity")
        errors.append(repr(spent.value))
        sandbox.faults.reset()
        with pytest.raises(CopernicaAPIError) as caught:
            await hook.get(*UNSUPPORTED)
        assert caught.value.status == 400 and "begintime is not supported" in str(caught.value)
    finally:
        await hook.close()
    posts = [r for r in list(sandbox.requests) if r.method == "POST"]
    assert len(posts) == hook.auth_calls
    jwts = bearer_tokens(sandbox)
    assert len(jwts) >= 2
    for secret in [SANDBOX_ACCESS_TOKEN, *jwts]:
        assert secret not in caplog.text
        assert not any(secret in text for text in errors)


async def test_logs_every_reply_with_its_timing_like_the_sync_hook(
    sandbox: Any, connect: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    from airflow_provider_copernica.hooks.copernica import CopernicaHook

    caplog.set_level(logging.DEBUG, logger="airflow_provider_copernica.hooks.copernica")
    conn_id = connect()
    replies: dict[str, list[str]] = {}
    for kind in ("sync", "async"):
        caplog.clear()
        if kind == "sync":
            with CopernicaHook(conn_id) as sync_hook:
                assert sync_hook.get("identity")["name"]
        else:
            hook = CopernicaAsyncHook(conn_id)
            try:
                assert (await hook.get("identity"))["name"]
            finally:
                await hook.close()
        lines = [r.getMessage() for r in caplog.records if " ms" in r.getMessage()]
        # "<method> <path> -> <status> in N ms", with the timing dropped for comparison
        replies[kind] = [line.rsplit(" in ", 1)[0] for line in lines]
    assert replies["async"] == replies["sync"]
    assert [line.split(" -> ")[1] for line in replies["sync"]] == ["200", "200"]
    assert replies["sync"][0].startswith("POST ") and "/v4/identity" in replies["sync"][1]
