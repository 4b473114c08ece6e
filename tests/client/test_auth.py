"""JWT helpers, and the OAuth authorization-code handshake end to end against the sandbox
(its ``/authorize`` page consents at once and redirects to our callback)."""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from airflow_provider_copernica.cli.commands import (
    CALLBACK_HOST,
    CallbackServer,
    OAuthCallbackError,
    authorize_command,
    wait_for_callback,
)
from airflow_provider_copernica.client.oauth import build_authorize_url, exchange_code
from airflow_provider_copernica.client.settings import CopernicaSettings
from airflow_provider_copernica.client.tokens import CachedJwt, jwt_expiry, parse_jwt_response
from airflow_provider_copernica.exceptions import CopernicaAPIError, CopernicaAuthError
from airflow_provider_copernica.hooks.copernica import CopernicaHook

CONN_ENV = "AIRFLOW_CONN_COPERNICA_DEFAULT"


def _jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


# --------------------------------------------------------------------------- JWT helpers


@pytest.mark.parametrize(
    "body",
    [
        "{jwt}",
        "  {jwt}\n",
        '"{jwt}"',
        '{{"token": "{jwt}"}}',
        '{{"access_token": "{jwt}"}}',
        '{{"jwt": "{jwt}", "other": 1}}',
    ],
)
def test_parse_jwt_response_accepts_every_shape(body: str) -> None:
    token = _jwt({"exp": 2_000_000_000})
    assert parse_jwt_response(body.format(jwt=token)) == token


@pytest.mark.parametrize("body", ["", "   ", "{}", '{"error": "x"}', "<html>Bad gateway</html>"])
def test_parse_jwt_response_refuses_bodies_without_a_token(body: str) -> None:
    with pytest.raises(CopernicaAuthError, match="without a token"):
        parse_jwt_response(body)


def test_jwt_expiry_and_cache_lifetime() -> None:
    now = 1_700_000_000.0
    day = _jwt({"exp": int(now) + 86400})
    assert jwt_expiry(day) == now + 86400
    assert CachedJwt.from_token(day, now).refresh_at == now + 86400 - 300
    short = CachedJwt.from_token(_jwt({"exp": int(now) + 10}), now)
    assert short.fresh(now + 8.9) and not short.fresh(now + 9.1)
    # No exp (or not a JWT at all): fall back to six hours.
    for token in (_jwt({"sub": "x"}), "opaque-token"):
        assert jwt_expiry(token) is None
        assert CachedJwt.from_token(token, now).refresh_at == now + 6 * 3600


# --------------------------------------------------------------------------- OAuth pieces


@pytest.fixture
def settings(sandbox: Any) -> CopernicaSettings:
    return CopernicaSettings.from_fields(
        host=sandbox.url, password=None, extra=sandbox.connection_extra(), require_token=False
    )


@pytest.fixture(autouse=True)
def _fresh_log(sandbox: Any) -> None:
    sandbox.requests.clear()


def _consent(url: str) -> httpx.Response:
    """The browser step: open the authorize URL and follow its redirect to our callback."""
    return httpx.get(url, follow_redirects=True, timeout=10)


def test_build_authorize_url() -> None:
    url = build_authorize_url(
        "https://www.copernica.com/en/authorize", "app1", "http://127.0.0.1:8765/callback", "s t"
    )
    parts = urlsplit(url)
    assert parts.netloc == "www.copernica.com" and parts.path == "/en/authorize"
    assert parse_qs(parts.query) == {
        "client_id": ["app1"],
        "redirect_uri": ["http://127.0.0.1:8765/callback"],
        "state": ["s t"],
        "response_type": ["code"],
    }


def test_handshake_pieces_yield_a_working_access_token(
    sandbox: Any, settings: CopernicaSettings
) -> None:
    from airflow_provider_copernica.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

    state = "a-state-value-that-is-long-enough-0123456789"
    answers: list[httpx.Response] = []

    def browser(redirect_uri: str) -> None:
        assert redirect_uri.startswith(f"http://{CALLBACK_HOST}:")
        url = build_authorize_url(settings.authorize_url, SANDBOX_CLIENT_ID, redirect_uri, state)
        thread = threading.Thread(target=lambda: answers.append(_consent(url)), daemon=True)
        thread.start()
        uris.append(redirect_uri)

    uris: list[str] = []
    code = wait_for_callback(state, port=0, timeout=20, on_ready=browser)
    assert code
    token = exchange_code(
        settings,
        client_id=SANDBOX_CLIENT_ID,
        client_secret=SANDBOX_CLIENT_SECRET,
        redirect_uri=uris[0],
        code=code,
    )
    for _ in range(50):  # the browser thread reads the callback's answer page
        if answers:
            break
        time.sleep(0.1)
    assert answers and answers[0].status_code == 200 and "access granted" in answers[0].text
    # The token is a real Copernica access token: it gets a JWT and reads the account.
    hook = CopernicaHook(settings=dataclasses.replace(settings, access_token=token))
    assert hook.get("identity")["name"]
    (exchange,) = [r for r in list(sandbox.requests) if r.path == "/v4/token"]
    assert exchange.method == "GET"


def test_callback_server_listens_on_loopback_only() -> None:
    with CallbackServer("state", port=0) as server:
        assert server._server.server_address[0] == "127.0.0.1"
        assert server.redirect_uri == f"http://127.0.0.1:{server.port}/callback"


def test_state_mismatch_is_refused_without_a_token_exchange(sandbox: Any) -> None:
    server = CallbackServer("the-expected-state", port=0)
    answers: list[httpx.Response] = []
    callback = f"{server.redirect_uri}?code=abc&state=forged-state"
    thread = threading.Thread(target=lambda: answers.append(httpx.get(callback)), daemon=True)
    thread.start()
    with pytest.raises(OAuthCallbackError, match="state does not match"):
        server.wait(timeout=10)
    thread.join(10)
    assert answers[0].status_code == 400
    assert not [r for r in list(sandbox.requests) if r.path == "/v4/token"]


def test_callback_times_out_clearly() -> None:
    with pytest.raises(OAuthCallbackError, match="No OAuth callback"):
        wait_for_callback("s", port=0, timeout=0.3)


def test_exchange_code_refusal_hides_the_client_secret(
    sandbox: Any, settings: CopernicaSettings, caplog: pytest.LogCaptureFixture
) -> None:
    from airflow_provider_copernica.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

    caplog.set_level("DEBUG")
    with pytest.raises(CopernicaAPIError) as caught:
        exchange_code(
            settings,
            client_id=SANDBOX_CLIENT_ID,
            client_secret=SANDBOX_CLIENT_SECRET,
            redirect_uri="http://127.0.0.1:1/callback",
            code="not-a-code",
        )
    text = repr(caught.value) + str(caught.value) + repr(caught.value.__context__)
    assert SANDBOX_CLIENT_SECRET not in text and SANDBOX_CLIENT_SECRET not in caplog.text
    assert "/v4/token" in str(caught.value)


# --------------------------------------------------------------------------- the command


@pytest.fixture
def sandbox_conn(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """copernica_default -> the sandbox, without an access token yet (as before authorizing)."""
    conn = {"conn_type": "copernica", "host": sandbox.url, "extra": sandbox.connection_extra()}
    monkeypatch.setenv(CONN_ENV, json.dumps(conn))
    return conn


def _args(**overrides: Any) -> argparse.Namespace:
    from airflow_provider_copernica.cli.arguments import build_parser
    from airflow_provider_copernica.sandbox import SANDBOX_CLIENT_ID

    argv = ["authorize", "--client-id", SANDBOX_CLIENT_ID, "--port", "0", "--no-browser"]
    argv += ["--timeout", "20"]
    args = build_parser().parse_args(argv)
    for name, value in overrides.items():
        setattr(args, name, value)
    return args


def _run_command(
    args: argparse.Namespace,
    capsys: pytest.CaptureFixture[str],
    browse: Callable[[str], str] = lambda url: url,
) -> tuple[int, str, str]:
    """Run ``copernica authorize`` in a thread; act as the browser once it printed the URL."""
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(authorize_command(args)), daemon=True)
    thread.start()
    out = err = ""
    deadline = time.monotonic() + 20
    url = None
    while url is None and time.monotonic() < deadline:
        captured = capsys.readouterr()
        out, err = out + captured.out, err + captured.err
        url = next((line for line in out.splitlines() if line.startswith("http")), None)
        time.sleep(0.05)
    assert url, f"no authorize URL printed: {out!r} {err!r}"
    assert url.startswith("http://127.0.0.1:"), url  # never leave the machine
    _consent(browse(url))
    thread.join(20)
    captured = capsys.readouterr()
    return result[0], out + captured.out, err + captured.err


def test_authorize_print_end_to_end(
    sandbox: Any,
    sandbox_conn: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from airflow_provider_copernica.sandbox import SANDBOX_CLIENT_SECRET

    caplog.set_level("DEBUG")
    monkeypatch.setenv("COPERNICA_CLIENT_SECRET", SANDBOX_CLIENT_SECRET)
    code, out, err = _run_command(_args(print_only=True), capsys)
    assert code == 0, err
    line = next(line for line in out.splitlines() if line.startswith(f"{CONN_ENV}="))
    value = json.loads(line.split("=", 1)[1])
    assert value["conn_type"] == "copernica" and value["host"] == sandbox.url
    assert value["password"] and "client_secret" not in value.get("extra", {})
    assert SANDBOX_CLIENT_SECRET not in out + err + caplog.text
    assert value["password"] not in caplog.text
    # The printed connection works as is.
    monkeypatch.setenv(CONN_ENV, json.dumps(value))
    assert CopernicaHook().test_connection()[0]
    # The secret only went where Copernica's API requires it: the token exchange.
    for request in list(sandbox.requests):
        if request.path != "/v4/token":
            assert SANDBOX_CLIENT_SECRET not in unquote(request.query)
    authorize = [r for r in list(sandbox.requests) if "authorize" in r.path]
    state = parse_qs(authorize[0].query)["state"][0]
    assert len(state) >= 40


def test_authorize_refuses_a_forged_state(
    sandbox: Any, sandbox_conn: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow_provider_copernica.sandbox import SANDBOX_CLIENT_SECRET

    def forge(url: str) -> str:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query["state"] = "forged"
        return httpx.URL(url.split("?")[0], params=query).__str__()

    args = _args(client_secret=SANDBOX_CLIENT_SECRET, print_only=True)
    code, out, err = _run_command(args, capsys, forge)
    assert code == 1 and "state does not match" in err
    assert CONN_ENV not in out
    assert not [r for r in list(sandbox.requests) if r.path == "/v4/token"]


def test_authorize_needs_the_client_secret(
    sandbox_conn: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COPERNICA_CLIENT_SECRET", raising=False)
    assert authorize_command(_args()) == 2
    assert "COPERNICA_CLIENT_SECRET" in capsys.readouterr().err


@pytest.fixture
def metadata_db() -> Iterator[None]:
    from airflow.utils.db import initdb

    initdb()
    yield


def test_authorize_stores_the_token_in_the_metadata_db(
    sandbox: Any,
    sandbox_conn: dict[str, Any],
    metadata_db: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.models import Connection
    from airflow.utils.session import create_session

    from airflow_provider_copernica.sandbox import SANDBOX_CLIENT_SECRET

    # The connection exists (in the environment) without a token: the command reads its
    # sandbox URLs from there, and writes the token to the metadata DB.
    args = _args(client_secret=SANDBOX_CLIENT_SECRET)
    code, out, err = _run_command(args, capsys)
    assert code == 0, err
    assert "'copernica_default' created" in out
    assert "takes precedence" in err
    assert SANDBOX_CLIENT_SECRET not in out + err
    with create_session() as session:
        stored = session.query(Connection).filter_by(conn_id="copernica_default").one()
        assert stored.conn_type == "copernica" and stored.password
        assert stored.host == sandbox.url
        assert json.loads(stored.extra)["auth_url"] == sandbox.connection_extra()["auth_url"]
        token = stored.password
        session.delete(stored)
    settings = CopernicaSettings.from_fields(
        host=sandbox.url, password=token, extra=sandbox.connection_extra()
    )
    assert CopernicaHook(settings=settings).test_connection()[0]


def test_store_access_token_updates_only_the_password(metadata_db: None) -> None:
    """Re-authorizing keeps everything the user set on the connection; only the token moves."""
    from airflow.models import Connection
    from airflow.utils.session import create_session

    from airflow_provider_copernica.client.oauth import store_access_token

    extra = {"page_size": 250, "timezone": "UTC", "client_id": "app"}
    with create_session() as session:
        session.add(
            Connection(
                conn_id="copernica_reauth",
                conn_type="copernica",
                host="https://api.example.invalid",
                password="old-token",
                extra=json.dumps(extra),
                description="kept",
            )
        )
    assert store_access_token("copernica_reauth", "new-token", host="ignored", extra={}) == (
        "updated"
    )
    with create_session() as session:  # the API server passes its request's session
        assert store_access_token("copernica_fresh", "tok", host="h", session=session) == (
            "created"
        )
    with create_session() as session:
        stored = session.query(Connection).filter_by(conn_id="copernica_reauth").one()
        assert stored.password == "new-token"
        assert stored.host == "https://api.example.invalid"
        assert stored.extra_dejson == extra and stored.description == "kept"
        fresh = session.query(Connection).filter_by(conn_id="copernica_fresh").one()
        assert (fresh.conn_type, fresh.host, fresh.password) == ("copernica", "h", "tok")
        session.delete(stored)
        session.delete(fresh)


def test_state_is_long_random_and_checked_in_constant_time() -> None:
    from airflow_provider_copernica.client.oauth import new_state, states_match

    first, second = new_state(), new_state()
    assert len(first) >= 43 and first != second
    assert states_match(first, first)
    assert not states_match(first, second)
    assert not states_match(first, None) and not states_match(None, None)
    assert not states_match(first, first[:-1])
