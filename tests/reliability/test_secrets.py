"""Secrets never leak: the access token, the JWTs the sandbox issued and the OAuth client secret
are absent from logs (caplog at DEBUG, captured stdout/stderr), exception text, XCom, rendered
template fields, trigger events and every URL the sandbox saw (except the client secret in the
documented OAuth code exchange, ``GET /v4/token``), on success and failure paths.

Also the OAuth handshake's guarantees: ``state`` verified and single use, the callback server
on 127.0.0.1 only and closed after one callback, the code exchanged once."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from .conftest import (
    anchor_of,
    everything_sandbox_saw_in_urls,
    issued_jwts,
    make_context,
    seen_requests,
)

DATASET = "clicks"
OPTIONS = {"product": "draganddrop"}


class LeakCheck:
    """Collects every text a user or an operator could see, then looks for the secrets."""

    def __init__(self, sandbox: Any, token: str, client_secret: str) -> None:
        self.sandbox = sandbox
        self.token = token
        self.client_secret = client_secret
        self.texts: dict[str, str] = {}

    def add(self, where: str, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value, default=repr)
        self.texts[where] = self.texts.get(where, "") + "\n" + text

    def secrets(self) -> dict[str, str]:
        found = {"access token": self.token, "client secret": self.client_secret}
        for i, jwt in enumerate(sorted(issued_jwts(self.sandbox))):
            found[f"JWT #{i + 1}"] = jwt
        return found

    def verify(self, *, expect_jwt: bool = True) -> None:
        values = self.secrets()
        if expect_jwt:
            assert any(k.startswith("JWT") for k in values), "the sandbox issued no JWT"
        leaks = [
            f"{name} in {where}"
            for where, text in self.texts.items()
            for name, value in values.items()
            if value and value in text
        ]
        for url in everything_sandbox_saw_in_urls(self.sandbox):
            for name, value in values.items():
                allowed = name == "client secret" and url.startswith("/v4/token?")
                if value in url and not allowed:
                    leaks.append(f"{name} in the URL {url.split('?')[0]}")
        for request in seen_requests(self.sandbox):
            if request.path != "/authenticate":  # the token's documented place: a POST form
                assert self.token not in request.body, f"access token in a {request.path} body"
        assert leaks == [], leaks


@pytest.fixture
def token(sandbox: Any) -> str:
    """A distinctive access token the sandbox accepts."""
    value = f"tok-LEAKCHECK-{secrets.token_hex(12)}"
    sandbox.register_token(value)
    return value


@pytest.fixture
def leaks(
    sandbox: Any,
    token: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> Iterator[LeakCheck]:
    # Importing Airflow configures logging (root handlers replaced): do it before caplog
    # attaches for the test, so caplog sees every record.
    import airflow_provider_copernica.hooks.copernica  # noqa: F401
    import airflow_provider_copernica.operators.copernica  # noqa: F401
    import airflow_provider_copernica.sensors.copernica  # noqa: F401
    from airflow_provider_copernica.sandbox import SANDBOX_CLIENT_SECRET

    caplog.set_level(logging.DEBUG)
    check = LeakCheck(sandbox, token, SANDBOX_CLIENT_SECRET)
    yield check
    out, err = capfd.readouterr()
    check.add("stdout", out)
    check.add("stderr", err)
    # At teardown caplog.text only holds teardown's records: format the call's ones.
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    records = caplog.get_records("setup") + caplog.get_records("call")
    check.add("logs (caplog, DEBUG)", "\n".join(formatter.format(r) for r in records))
    check.verify(expect_jwt=False)


def _window(sandbox: Any) -> tuple[Any, Any]:
    end = anchor_of(sandbox)
    return end - timedelta(days=30), end


def _operator(tmp_path: Path, **kwargs: Any) -> Any:
    from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator

    return CopernicaToStorageOperator(
        task_id="leak_check",
        dataset=DATASET,
        dataset_options={"product": "{{ params.product }}"},
        fields=["id", "link", "timestamp"],
        metadata=("_extracted_at", "_run_id", "_dataset"),
        output_uri=f"file://{tmp_path}/{{{{ run_id }}}}/clicks.jsonl",
        **kwargs,
    )


def _rendered(op: Any) -> dict[str, Any]:
    return {name: getattr(op, name) for name in op.template_fields}


def test_operator_success_and_failures(
    sandbox: Any, connect: Callable[..., str], token: str, leaks: LeakCheck, tmp_path: Path
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaError

    connect(password=token)
    context = make_context(*_window(sandbox), run_id="leak_run")
    context["params"] = {"product": "draganddrop"}
    op = _operator(tmp_path)
    op.render_template_fields(context)
    result = op.execute(context)
    assert result["rows"] > 0
    leaks.add("XCom (operator return value)", result)
    leaks.add("rendered template fields", _rendered(op))
    leaks.add("output file", Path(urlsplit(result["uri"]).path).read_text())

    # Failure paths: outage (retry budget spent), a JWT refused twice, a 400 from Copernica.
    for fault in ("outage_after:0", "401:10"):
        sandbox.faults.reset()
        sandbox.faults.set(fault)
        op = _operator(tmp_path)
        op.render_template_fields(context)
        with pytest.raises(CopernicaError) as caught:
            op.execute(context)
        leaks.add(f"exception under {fault}", f"{caught.value!r} {caught.value}")
    leaks.verify()


def test_refused_access_token_is_not_echoed(
    sandbox: Any, connect: Callable[..., str], leaks: LeakCheck, tmp_path: Path
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaAuthError
    from airflow_provider_copernica.hooks.copernica import CopernicaHook

    wrong = f"tok-REFUSED-{secrets.token_hex(12)}"
    leaks.token = wrong  # the refused token must not leak either
    connect(password=wrong)
    context = make_context(*_window(sandbox))
    context["params"] = {"product": "draganddrop"}
    op = _operator(tmp_path)
    op.render_template_fields(context)
    with pytest.raises(CopernicaAuthError) as caught:
        op.execute(context)
    leaks.add("exception (refused token)", f"{caught.value!r} {caught.value}")
    ok, message = CopernicaHook().test_connection()
    assert not ok
    leaks.add("test_connection message", message)
    leaks.verify(expect_jwt=False)


def test_connection_test_and_cli(
    sandbox: Any,
    connect: Callable[..., str],
    token: str,
    leaks: LeakCheck,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from airflow_provider_copernica.cli.arguments import main
    from airflow_provider_copernica.hooks.copernica import CopernicaHook

    connect(password=token)
    ok, message = CopernicaHook().test_connection()
    assert ok, message
    leaks.add("test_connection message", message)
    assert main(["test-connection"]) == 0
    assert "GET /v4/identity" in caplog.text  # the hook's DEBUG request log is captured
    sandbox.faults.set("outage_after:0")
    ok, message = CopernicaHook().test_connection()
    assert not ok and "503" in message
    leaks.add("test_connection failure", message)
    assert main(["test-connection"]) == 1
    leaks.verify()


def test_preview_cli(
    sandbox: Any,
    connect: Callable[..., str],
    token: str,
    leaks: LeakCheck,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow_provider_copernica.cli.arguments import main

    connect(password=token)
    start, end = _window(sandbox)
    argv = ["preview", DATASET, "--from", start.date().isoformat(), "--to", end.date().isoformat()]
    assert main([*argv, "--limit", "3"]) == 0
    out = capfd.readouterr().out
    assert "link" in out  # the table was printed
    leaks.add("preview output", out)
    sandbox.faults.set("401:10")
    assert main(argv) != 0
    leaks.verify()


def test_sensor_and_trigger(
    sandbox: Any, connect: Callable[..., str], token: str, leaks: LeakCheck
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaError
    from airflow_provider_copernica.sensors.copernica import CopernicaSensor
    from airflow_provider_copernica.triggers.copernica import CopernicaTrigger

    connect(password=token)
    start, end = _window(sandbox)
    context = make_context(start, end)
    sensor = CopernicaSensor(task_id="wait", dataset=DATASET, dataset_options=OPTIONS)
    sensor.render_template_fields(context)
    assert sensor.poke(context) is True
    leaks.add("rendered sensor fields", _rendered(sensor))
    sandbox.faults.set("401:10")
    with pytest.raises(CopernicaError) as caught:
        CopernicaSensor(task_id="wait2", dataset=DATASET, dataset_options=OPTIONS).poke(context)
    leaks.add("sensor exception", f"{caught.value!r} {caught.value}")

    def first_event(trigger: Any) -> Any:
        async def run() -> Any:
            async for event in trigger.run():
                return event.payload

        return asyncio.run(asyncio.wait_for(run(), 60))

    kwargs = {
        "dataset": DATASET,
        "dataset_options": OPTIONS,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "poke_interval": 0.1,
    }
    sandbox.faults.reset()
    trigger = CopernicaTrigger(**kwargs)
    leaks.add("trigger serialize()", trigger.serialize())
    success = first_event(trigger)
    assert success["status"] == "success", success
    leaks.add("trigger success event", success)
    sandbox.faults.set("401:10")
    error = first_event(CopernicaTrigger(**kwargs))
    assert error["status"] == "error", error
    leaks.add("trigger error event", error)
    leaks.verify()


# --------------------------------------------------------------------------- OAuth


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AuthorizeRun:
    """``copernica authorize --print`` in a subprocess: the URL it prints is followed like a
    browser would (the sandbox auto-consents and redirects to the callback)."""

    def __init__(self, client_secret: str, port: int) -> None:
        env = {**os.environ, "COPERNICA_CLIENT_SECRET": client_secret}
        from airflow_provider_copernica.sandbox import SANDBOX_CLIENT_ID

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "airflow_provider_copernica.cli.arguments", "authorize"]
            + ["--client-id", SANDBOX_CLIENT_ID, "--port", str(port), "--print"]
            + ["--no-browser", "--timeout", "60"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.url = self._read_url()

    def _read_url(self) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if "/authorize?" in line:
                return line.strip()
        raise AssertionError(f"authorize printed no URL: {self.finish()}")

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, "".join(self.lines) + out, err


def test_authorize_keeps_the_client_secret_out_of_sight(sandbox: Any, connect: Any) -> None:
    from airflow_provider_copernica.sandbox import SANDBOX_CLIENT_SECRET

    connect()
    port = _free_port()
    run = AuthorizeRun(SANDBOX_CLIENT_SECRET, port)
    query = parse_qs(urlsplit(run.url).query)
    state = query["state"][0]
    assert len(state) >= 32
    assert query["redirect_uri"] == [f"http://127.0.0.1:{port}/callback"]
    assert SANDBOX_CLIENT_SECRET not in run.url
    page = requests.get(run.url, timeout=30)  # consent -> 302 -> our callback
    assert page.status_code == 200, page.text
    code, out, err = run.finish()
    assert code == 0, err
    new_token = json.loads(out.split("AIRFLOW_CONN_COPERNICA_DEFAULT=", 1)[1].splitlines()[0])
    new_token = new_token["password"]
    # The new access token is printed on purpose (--print), once, in the AIRFLOW_CONN line only.
    assert out.count(new_token) == 1 and new_token not in err
    assert SANDBOX_CLIENT_SECRET not in out + err
    exchanges = [r for r in seen_requests(sandbox) if r.path == "/v4/token"]
    assert len(exchanges) == 1, "the authorization code was exchanged more than once"
    leaks_in_urls = [
        u
        for u in everything_sandbox_saw_in_urls(sandbox)
        if SANDBOX_CLIENT_SECRET in u and not u.startswith("/v4/token?")
    ]
    assert leaks_in_urls == []
    assert all(new_token not in u for u in everything_sandbox_saw_in_urls(sandbox))
    # The callback server closed after its one callback.
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/callback?code=x&state={state}", timeout=5)


def test_authorize_refuses_a_wrong_state(sandbox: Any, connect: Any) -> None:
    from airflow_provider_copernica.sandbox import SANDBOX_CLIENT_SECRET

    connect()
    port = _free_port()
    run = AuthorizeRun(SANDBOX_CLIENT_SECRET, port)
    state = parse_qs(urlsplit(run.url).query)["state"][0]
    forged = requests.get(
        f"http://127.0.0.1:{port}/callback?code=stolen&state=forged-state", timeout=30
    )
    assert forged.status_code == 400
    code, out, err = run.finish()
    # The handshake is over: not even the genuine state is accepted any more.
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/callback?code=c&state={state}", timeout=5)
    assert code != 0
    assert "state" in err.lower(), err
    assert SANDBOX_CLIENT_SECRET not in out + err
    assert [r for r in seen_requests(sandbox) if r.path == "/v4/token"] == [], (
        "a code was exchanged despite a wrong state"
    )


def test_callback_server_listens_on_loopback_once() -> None:
    import psutil

    from airflow_provider_copernica.cli.commands import OAuthCallbackError, wait_for_callback

    state = secrets.token_urlsafe(32)
    ready: list[str] = []
    outcome: dict[str, Any] = {}

    def serve() -> None:
        try:
            outcome["code"] = wait_for_callback(state, port=0, timeout=30, on_ready=ready.append)
        except OAuthCallbackError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=serve)
    thread.start()
    while not ready and thread.is_alive():
        time.sleep(0.01)
    port = urlsplit(ready[0]).port
    listening = [
        c.laddr
        for c in psutil.Process().net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    ]
    assert [addr.ip for addr in listening] == ["127.0.0.1"]
    answer = requests.get(f"{ready[0]}?code=the-code&state={state}", timeout=10)
    assert answer.status_code == 200
    thread.join(10)
    assert outcome == {"code": "the-code"}
    # Closed: the same (valid) callback cannot be replayed.
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{ready[0]}?code=the-code&state={state}", timeout=5)
