"""The sandbox's consent page: approves at once, or answers error=access_denied when told to."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from airflow_provider_copernica.sandbox import SandboxServer
from airflow_provider_copernica.sandbox.server import SANDBOX_CLIENT_ID

CALLBACK = "http://127.0.0.1:9/callback"


def _consent(server: SandboxServer) -> dict[str, list[str]]:
    reply = httpx.get(
        f"{server.url}/authorize",
        params={
            "client_id": SANDBOX_CLIENT_ID,
            "redirect_uri": CALLBACK,
            "state": "s" * 43,
            "response_type": "code",
        },
    )
    assert reply.status_code == 302
    location = reply.headers["location"]
    assert location.startswith(f"{CALLBACK}?")
    return parse_qs(urlsplit(location).query)


def test_the_consent_page_can_be_told_to_refuse(sandbox: SandboxServer) -> None:
    assert set(_consent(sandbox)) == {"code", "state"}

    answer = httpx.post(f"{sandbox.url}/_sandbox/consent", json={"answer": "refuse"})
    assert answer.json() == {"consent": "refuse"}
    refused = _consent(sandbox)
    assert refused["error"] == ["access_denied"] and refused["state"] == ["s" * 43]
    assert "code" not in refused
    assert len(sandbox.app.oauth_codes) == 1  # only the first, granted answer has a code

    httpx.post(f"{sandbox.url}/_sandbox/consent", json={"answer": "grant"})
    assert "code" in _consent(sandbox)


def test_a_reset_grants_again_and_bad_answers_are_refused(sandbox: SandboxServer) -> None:
    bad = httpx.post(f"{sandbox.url}/_sandbox/consent", json={"answer": "maybe"})
    assert bad.status_code == 400 and "grant" in bad.json()["error"]["message"]
    sandbox.app.consent_refused = True
    sandbox.reset()
    assert "code" in _consent(sandbox)
