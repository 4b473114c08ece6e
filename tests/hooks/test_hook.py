"""CopernicaHook over real HTTP against the sandbox: JWT reuse and re-auth, both paging styles
against the sandbox's ground truth, retries, client errors, and no secret in any output."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest
from sandbox_requests import (
    CONN_ENV,
    PROFILES,
    bearer_tokens,
    calls_to,
    profile_ids,
)

from airflow_provider_copernica.client.retry import parse_retry_after
from airflow_provider_copernica.engine.paging import iter_pages, iter_records
from airflow_provider_copernica.exceptions import (
    CopernicaAPIError,
    CopernicaAuthError,
    CopernicaRetryError,
)
from airflow_provider_copernica.hooks.copernica import CopernicaHook

# The live API ignores unknown fields[] conditions; this parameter it refuses (400).
UNSUPPORTED = ("html/clicks", [("begintime", "2026-01-01 00:00:00")])

pytestmark = pytest.mark.usefixtures("fresh_log")


# --------------------------------------------------------------------------- auth


def test_one_jwt_exchange_serves_many_calls(sandbox: Any, connect: Callable[..., str]) -> None:
    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN

    hook = CopernicaHook(connect())
    for _ in range(5):
        assert hook.get("identity")["name"]
    assert hook.auth_calls == 1 and hook.api_calls == 5
    posts = [r for r in list(sandbox.requests) if r.method == "POST"]
    assert len(posts) == 1 and posts[0].body == f"access_token={SANDBOX_ACCESS_TOKEN}"
    assert len(bearer_tokens(sandbox)) == 1
    for request in calls_to(sandbox, "identity"):
        assert SANDBOX_ACCESS_TOKEN not in json.dumps(request.headers)


def test_expired_jwt_is_fetched_again(sandbox: Any, connect: Callable[..., str]) -> None:
    hook = CopernicaHook(connect())
    sandbox.faults.set("jwt_ttl:5")
    assert hook.get("identity")["name"]
    time.sleep(5.1)
    assert hook.get("identity")["name"]
    assert hook.auth_calls == 2
    assert len(bearer_tokens(sandbox)) == 2
    assert len(calls_to(sandbox, "identity")) == 2  # refreshed before use, not after a 401


def test_a_refused_jwt_is_replaced_once(sandbox: Any, connect: Callable[..., str]) -> None:
    hook = CopernicaHook(connect())
    sandbox.faults.set("401:1")
    assert hook.get("identity")["name"]
    assert hook.auth_calls == 2 and len(calls_to(sandbox, "identity")) == 2


def test_401_twice_fails_clearly(sandbox: Any, connect: Callable[..., str]) -> None:
    hook = CopernicaHook(connect())
    sandbox.faults.set("401:10")
    with pytest.raises(CopernicaAuthError, match="refused a freshly fetched JWT"):
        hook.get("identity")
    assert len(calls_to(sandbox, "identity")) == 2
    assert hook.auth_calls == 2


def test_jwt_exchange_is_retried(sandbox: Any, connect: Callable[..., str]) -> None:
    hook = CopernicaHook(connect())
    sandbox.faults.set("auth:503:2")
    assert hook.get("identity")["name"]
    assert hook.auth_calls == 3 and hook.api_calls == 1


def test_wrong_access_token(sandbox: Any, connect: Callable[..., str]) -> None:
    hook = CopernicaHook(connect(password="not-a-valid-token-123"))
    ok, message = hook.test_connection()
    assert not ok
    assert "access token" in message and "not-a-valid-token-123" not in message
    assert calls_to(sandbox, "identity") == []  # never reached the API


def test_test_connection_names_the_account(sandbox: Any, connect: Callable[..., str]) -> None:
    hook = CopernicaHook(connect())
    identity = hook.get("identity")
    assert hook.test_connection() == (
        True,
        f"Connected to account {identity['name']} ({identity['company']})",
    )


def test_ui_test_button_path(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the API server does for the Test button: export the form as a URI, then test."""
    from airflow.models import Connection

    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN

    conn = Connection(
        conn_id="copernica_ui_test",
        conn_type="copernica",
        host=sandbox.url,
        password=SANDBOX_ACCESS_TOKEN,
        extra=json.dumps(sandbox.connection_extra()),
    )
    monkeypatch.setenv("AIRFLOW_CONN_COPERNICA_UI_TEST", conn.get_uri())
    ok, message = conn.test_connection()
    assert ok, message
    assert message.startswith("Connected to account ")


def test_test_connection_command(
    sandbox: Any, connect: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow_provider_copernica.cli.arguments import main

    connect()
    assert main(["test-connection", "--conn-id", "copernica_default"]) == 0
    assert capsys.readouterr().out.startswith("Connected to account ")
    connect(password="wrong")
    assert main(["test-connection"]) == 1
    assert "access token" in capsys.readouterr().out


def test_missing_token_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONN_ENV, json.dumps({"conn_type": "copernica", "host": "127.0.0.1"}))
    ok, message = CopernicaHook().test_connection()
    assert not ok and "password field" in message


def test_params_as_mapping_or_pairs(sandbox: Any, connect: Callable[..., str]) -> None:
    hook = CopernicaHook(connect())
    as_pairs = hook.get(PROFILES, [("fields[]", "id>5"), ("fields[]", "id<9"), ("limit", 10)])
    as_mapping = hook.get(PROFILES, {"fields[]": "id<9", "limit": 10})
    assert [int(r["ID"]) for r in as_pairs["data"]] == [
        i for i in profile_ids(sandbox) if 5 < i < 9
    ]
    assert len(as_mapping["data"]) == len([i for i in profile_ids(sandbox) if i < 9])
    first = parse_qsl(calls_to(sandbox, PROFILES)[0].query)
    assert [v for k, v in first if k == "fields[]"] == ["id>5", "id<9"]


# --------------------------------------------------------------------------- retries


def test_429_waits_for_retry_after(sandbox: Any, connect: Callable[..., str]) -> None:
    hook = CopernicaHook(connect())
    sandbox.faults.set("429:1:1.5")
    started = time.monotonic()
    assert hook.get("identity")["name"]
    assert time.monotonic() - started >= 1.5
    assert len(calls_to(sandbox, "identity")) == 2 and hook.api_calls == 2


def test_503_burst_then_success(sandbox: Any, connect: Callable[..., str]) -> None:
    hook = CopernicaHook(connect(max_retries=5))
    sandbox.faults.set("503:4")
    assert hook.get("identity")["name"]
    assert hook.api_calls == 5 == len(calls_to(sandbox, "identity"))


@pytest.mark.parametrize("fault", ["502:2", "504:2", "reset:2", "truncate:2"])
def test_transient_failures_are_retried(
    fault: str, sandbox: Any, connect: Callable[..., str]
) -> None:
    hook = CopernicaHook(connect())
    sandbox.faults.set(fault)
    assert [int(r["ID"]) for r in iter_records(hook, PROFILES, paging="keyset")] == profile_ids(
        sandbox
    )


def test_400_is_not_retried_and_carries_copernicas_message(
    sandbox: Any, connect: Callable[..., str]
) -> None:
    hook = CopernicaHook(connect())
    with pytest.raises(CopernicaAPIError) as caught:
        hook.get(*UNSUPPORTED)
    assert caught.value.status == 400
    assert "begintime is not supported" in str(caught.value) and "HTTP 400" in str(caught.value)
    assert len(calls_to(sandbox, UNSUPPORTED[0])) == 1


def test_spent_retry_budget_names_path_status_and_attempts(
    sandbox: Any, connect: Callable[..., str]
) -> None:
    hook = CopernicaHook(connect(max_retries=2))
    sandbox.faults.set("503:10")
    with pytest.raises(CopernicaRetryError) as caught:
        hook.get(PROFILES, [("fields[]", "email==someone@example.com")])
    message = str(caught.value)
    assert f"/v4/{PROFILES}" in message and "HTTP 503" in message and "3 attempt" in message
    assert "someone@example.com" not in message  # query values can carry data
    assert len(calls_to(sandbox, PROFILES)) == 3


def test_too_long_retry_after_fails_at_once(sandbox: Any, connect: Callable[..., str]) -> None:
    hook = CopernicaHook(connect(max_retry_wait=10))
    sandbox.faults.set("429:1:36000")
    started = time.monotonic()
    with pytest.raises(CopernicaRetryError, match="Retry-After 36000 s.*max_retry_wait"):
        hook.get("identity")
    assert time.monotonic() - started < 30  # not slept through (a loose, non-timing bound)
    assert len(calls_to(sandbox, "identity")) == 1


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), ("0.25", 0.25), ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0), ("soon", None)],
)
def test_parse_retry_after(header: str, seconds: float | None) -> None:
    now = 1445412480.0  # 2015-10-21 07:28:00 UTC
    assert parse_retry_after(header, now=now) == seconds


# --------------------------------------------------------------------------- secrets


def test_secrets_are_registered_with_airflows_masker(
    sandbox: Any, connect: Callable[..., str]
) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN, SANDBOX_CLIENT_SECRET

    hook = CopernicaHook(connect())
    hook.get("identity")
    (jwt,) = bearer_tokens(sandbox)
    line = f"token {SANDBOX_ACCESS_TOKEN} jwt {jwt} secret {SANDBOX_CLIENT_SECRET}"
    assert redact(line) == "token *** jwt *** secret ***"


def test_no_secret_in_logs_errors_or_urls(
    sandbox: Any, connect: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN

    caplog.set_level(logging.DEBUG)
    hook = CopernicaHook(connect())
    errors: list[str] = []
    hook.get("identity")
    list(iter_pages(hook, "databases"))
    for fault, path in [("503:10", "identity"), ("401:10", "identity"), (None, "nope/x")]:
        sandbox.faults.reset()
        if fault:
            sandbox.faults.set(fault)
        try:
            hook.get(path, [("fields[]", "id>1")])
        except Exception as exc:  # every error the hook raises, with its chain
            errors.append(repr(exc) + str(exc) + repr(exc.__cause__) + repr(exc.__context__))
    sandbox.faults.reset()
    errors.append(CopernicaHook(connect(password=SANDBOX_ACCESS_TOKEN + "x")).test_connection()[1])
    assert len(errors) == 4
    jwts = bearer_tokens(sandbox)
    assert len(jwts) >= 2
    urls = [unquote(f"{r.path}?{r.query}") for r in list(sandbox.requests)]
    for secret in [SANDBOX_ACCESS_TOKEN, *jwts]:
        assert secret not in caplog.text
        assert not any(secret in text for text in errors)
        assert not any(secret in url for url in urls)
    assert any("identity" in record.getMessage() for record in caplog.records)  # debug logged
    assert "authorization" not in caplog.text.lower()
