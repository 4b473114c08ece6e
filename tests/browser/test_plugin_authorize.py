"""Authorizing Copernica from the Airflow UI: the plugin in a real ``airflow standalone``,
driven through Debian's chromium, with the sandbox playing Copernica (its consent page
approves at once, or refuses while ``consent_refused`` is set).

The browser test does what a person does: log in, open Copernica from the nav, click
Authorize, come back to "Connected to account Sandbox ...", then press the connection's Test
button. The refusal tests speak HTTP to the same API server as the browser would (cookies,
redirects), with the admin and a second, viewer-role user of the simple auth manager.
Every test ends by checking that no client secret, code or token reached a page, a URL or the
API server's log.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from airflow_provider_copernica.sandbox import SandboxServer
from airflow_provider_copernica.sandbox.server import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

from .ui import REPO, AirflowUI

SCREENSHOT = REPO / "docs" / "images" / "copernica-authorize.png"
COOKIE_SCOPE = {"domain": "127.0.0.1", "path": "/copernica"}
ACCOUNT = "Connected to account Sandbox (Copernica Sandbox BV)"

pytestmark = pytest.mark.browser


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def copernica() -> Iterator[SandboxServer]:
    """The module's own Copernica: tokens it issues must outlive a test (no reset between)."""
    server = SandboxServer(profiles=50).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser_airflow_env(
    copernica: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """No DAGs; a viewer next to the admin; the app's credentials in ``[copernica]``."""
    return {
        "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path_factory.mktemp("no-dags")),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
        "AIRFLOW__COPERNICA__CLIENT_ID": SANDBOX_CLIENT_ID,
        "AIRFLOW__COPERNICA__CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "AIRFLOW__COPERNICA__HOST": copernica.url,
        "AIRFLOW__COPERNICA__AUTH_URL": f"{copernica.url}/authenticate",
        "AIRFLOW__COPERNICA__AUTHORIZE_URL": f"{copernica.url}/authorize",
    }


@pytest.fixture
def issued_tokens(copernica: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Access tokens the sandbox hands out during the test (to look for them later)."""
    issued: list[str] = []
    register = copernica.app.register_token

    def spy(token: str, label: str = "extra") -> None:
        issued.append(token)
        register(token, label)

    monkeypatch.setattr(copernica.app, "register_token", spy)
    return issued


@pytest.fixture
def consent_refused(copernica: SandboxServer) -> Iterator[None]:
    copernica.app.consent_refused = True
    yield
    copernica.app.consent_refused = False


@pytest.fixture(autouse=True)
def _forget_requests(copernica: SandboxServer) -> Iterator[None]:
    """Each test counts the sandbox requests it caused (connections stay: no full reset)."""
    copernica.requests.clear()
    yield


# --------------------------------------------------------------------------- helpers


def codes_issued(copernica: SandboxServer) -> list[str]:
    """Every authorization code the consent page handed out (from its redirects' requests)."""
    return [
        c for r in copernica.iter_requests("/v4/token") for c in parse_qs(r.query).get("code", [])
    ]


def token_exchanges(copernica: SandboxServer) -> int:
    return sum(1 for _ in copernica.iter_requests("/v4/token"))


def stored_connections(ui: AirflowUI) -> dict[str, dict[str, Any]]:
    """conn_id -> the connection as stored in the metadata DB (password included)."""
    with_passwords = ui.airflow.cli("connections", "export", "-", "--file-format", "json")
    text = with_passwords.stdout
    return json.loads(text[text.index("{") :]) if "{" in text else {}


def password_of(ui: AirflowUI, user: str) -> str:
    path = Path(ui.airflow.home) / "simple_auth_manager_passwords.json.generated"
    return json.loads(path.read_text())[user]


class Visitor:
    """A browser-like HTTP client for the plugin: one Airflow user, a cookie jar, no JS."""

    def __init__(self, ui: AirflowUI, user: str) -> None:
        self.ui = ui
        self.http = requests.Session()
        reply = self.http.post(
            f"{ui.url}/auth/token",
            json={"username": user, "password": password_of(ui, user)},
            timeout=30,
        )
        reply.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"

    def start(self, conn_id: str, **form: str) -> requests.Response:
        return self.http.post(
            f"{self.ui.url}/copernica/authorize",
            data={"conn_id": conn_id, **form},
            allow_redirects=False,
            timeout=60,
        )

    def consent(self, start: requests.Response) -> str:
        """Follow Authorize to the consent page; returns the callback URL it sends back to."""
        assert start.status_code == 303, start.text[:500]
        consent = requests.get(start.headers["location"], allow_redirects=False, timeout=30)
        assert consent.status_code == 302, consent.text
        return consent.headers["location"]

    def callback(self, url: str) -> requests.Response:
        reply = self.http.get(url, allow_redirects=False, timeout=60)
        assert reply.status_code == 303, reply.text[:500]
        assert reply.headers["location"] == f"{self.ui.url}/copernica/"
        return reply

    def page(self) -> requests.Response:
        return self.http.get(f"{self.ui.url}/copernica/", timeout=120)

    def outcome(self) -> str:
        """The message the Copernica page shows once after a callback."""
        found = re.search(r'id="outcome">([^<]*)<', self.page().text)
        assert found, "the Copernica page shows no outcome"
        return unescape(found.group(1))


def assert_no_secrets(ui: AirflowUI, secrets: list[str], *texts: str) -> None:
    """None of ``secrets`` in the API server's log, nor in any of ``texts`` (pages, URLs)."""
    secrets = [s for s in secrets if s]
    assert secrets
    log = Path(ui.airflow.log_path).read_text(errors="replace")
    for secret in secrets:
        assert secret not in log, f"a secret ({secret[:4]}...) is in the API server's log"
        for text in texts:
            assert secret not in text, f"a secret ({secret[:4]}...) is in a page or URL"


# --------------------------------------------------------------------------- the browser


def test_authorize_from_the_airflow_ui(
    airflow_ui: AirflowUI,
    copernica: SandboxServer,
    logged_in_page: Any,
    issued_tokens: list[str],
) -> None:
    from playwright.sync_api import expect

    started = time.monotonic()
    airflow = airflow_ui.airflow
    # A connection whose token Copernica no longer accepts: listed as failing, re-authorized.
    stale_extra = {"auth_url": f"{copernica.url}/authenticate", "timezone": "Europe/Amsterdam"}
    airflow.cli(
        "connections", "add", "copernica_stale", "--conn-type", "copernica",
        "--conn-host", copernica.url, "--conn-password", "revoked-token",
        "--conn-extra", json.dumps(stale_extra),
    )  # fmt: skip
    page = logged_in_page
    context = page.context
    visited: list[str] = []  # every URL any frame of any tab committed to
    context.on("page", lambda tab: tab.on("framenavigated", lambda f: visited.append(f.url)))
    page.on("framenavigated", lambda frame: visited.append(frame.url))
    html: list[str] = []

    # The nav's Plugins menu has the entry; it opens the Copernica page in a tab of its own.
    page.get_by_role("button", name="Plugins").click()
    with context.expect_page() as opened:
        page.get_by_role("menuitem", name="Copernica", exact=True).click()
    tab = opened.value
    tab.wait_for_load_state()
    stale_row = tab.locator('tr[data-conn-id="copernica_stale"]')
    assert "Token does not work" in stale_row.inner_text()
    html.append(tab.content())

    # A new connection: Authorize -> consent page (auto-consent) -> back on the page.
    tab.get_by_label("Connection id").fill("copernica_default")
    tab.get_by_role("button", name="Authorize", exact=True).click()
    expect(tab.locator("#outcome")).to_have_text(
        f"{ACCOUNT}. Connection 'copernica_default' created."
    )
    assert tab.url == f"{airflow_ui.url}/copernica/"
    assert ACCOUNT in tab.locator('tr[data-conn-id="copernica_default"]').inner_text()
    html.append(tab.content())
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    tab.locator("body").screenshot(path=str(SCREENSHOT))

    # Re-authorizing replaces the password and nothing else.
    stale_row.get_by_role("button", name="Re-authorize").click()
    tab.wait_for_url(f"{airflow_ui.url}/copernica/")
    assert (
        tab.locator("#outcome").inner_text() == f"{ACCOUNT}. Connection 'copernica_stale' updated."
    )
    assert ACCOUNT in stale_row.inner_text()
    html.append(tab.content())

    stored = stored_connections(airflow_ui)
    assert len(issued_tokens) == 2
    assert stored["copernica_default"]["password"] == issued_tokens[0]
    assert stored["copernica_default"]["host"] == copernica.url
    assert stored["copernica_stale"]["password"] == issued_tokens[1]
    assert json.loads(stored["copernica_stale"]["extra"]) == stale_extra
    new_extra = json.loads(stored["copernica_default"]["extra"])
    assert "client_secret" not in new_extra and new_extra["auth_url"].startswith(copernica.url)
    assert token_exchanges(copernica) == 2

    secrets = [SANDBOX_CLIENT_SECRET, *codes_issued(copernica), *issued_tokens]
    assert len(codes_issued(copernica)) == 2
    assert_no_secrets(airflow_ui, secrets, *html, "\n".join(visited))
    assert any("/copernica/callback" not in url for url in visited)
    assert not [url for url in visited if "code=" in url], "a callback URL was committed"
    print(f"\nbrowser authorize flow: {time.monotonic() - started:.1f}s")


def test_the_test_button_accepts_a_copernica_connection(
    airflow_ui: AirflowUI, copernica: SandboxServer, logged_in_page: Any
) -> None:
    from playwright.sync_api import expect

    # Its own connection (no other test need run first). Airflow 3.3.2's UI sends port 0
    # with Test; the connection_form middleware (plugins/connection_form.py) fixes that.
    conn = copernica.connection()
    extra = {k: v for k, v in conn["extra"].items() if k != "client_secret"}
    airflow_ui.airflow.cli(
        "connections", "add", "copernica_tested", "--conn-type", "copernica",
        "--conn-host", conn["host"], "--conn-password", conn["password"],
        "--conn-extra", json.dumps(extra),
    )  # fmt: skip
    page = logged_in_page
    page.goto(f"{airflow_ui.url}/connections")
    row = page.get_by_role("row").filter(has_text="copernica_tested")
    row.get_by_role("button", name="Test Connection").click()
    expect(page.get_by_text(ACCOUNT)).to_be_visible()
    assert_no_secrets(airflow_ui, [conn["password"], SANDBOX_CLIENT_SECRET])


# --------------------------------------------------------------------------- refusals


def test_a_forged_state_is_refused_and_burns_the_handshake(
    airflow_ui: AirflowUI, copernica: SandboxServer, issued_tokens: list[str]
) -> None:
    admin = Visitor(airflow_ui, "admin")
    callback = admin.consent(admin.start("copernica_forged"))
    forged = callback.replace("state=", "state=forged")
    admin.callback(forged)
    assert "state does not match" in admin.outcome()
    admin.callback(callback)  # the genuine answer after the forgery: the handshake is gone
    assert "no authorization is in progress" in admin.outcome()
    assert "copernica_forged" not in stored_connections(airflow_ui)
    assert token_exchanges(copernica) == 0 and not issued_tokens
    code = parse_qs(urlsplit(callback).query)["code"][0]
    assert_no_secrets(airflow_ui, [SANDBOX_CLIENT_SECRET, code])


def test_a_callback_without_an_airflow_login_is_refused(
    airflow_ui: AirflowUI, copernica: SandboxServer
) -> None:
    admin = Visitor(airflow_ui, "admin")
    callback = admin.consent(admin.start("copernica_anonymous"))
    anonymous = requests.get(callback, allow_redirects=False, timeout=60)
    assert anonymous.status_code == 401
    assert "copernica_anonymous" not in stored_connections(airflow_ui)
    assert token_exchanges(copernica) == 0
    code = parse_qs(urlsplit(callback).query)["code"][0]
    assert_no_secrets(airflow_ui, [code], anonymous.text)


def test_another_sessions_state_is_refused(
    airflow_ui: AirflowUI, copernica: SandboxServer, issued_tokens: list[str]
) -> None:
    first, second = Visitor(airflow_ui, "admin"), Visitor(airflow_ui, "admin")
    first_callback = first.consent(first.start("copernica_foreign"))
    second.consent(second.start("copernica_foreign"))
    second.callback(first_callback)  # the first session's answer, in the second session
    assert "state does not match" in second.outcome()
    assert "copernica_foreign" not in stored_connections(airflow_ui)
    assert token_exchanges(copernica) == 0 and not issued_tokens


def test_a_replayed_callback_is_refused(
    airflow_ui: AirflowUI, copernica: SandboxServer, issued_tokens: list[str]
) -> None:
    admin = Visitor(airflow_ui, "admin")
    start = admin.start("copernica_replay")
    pending_cookie = admin.http.cookies.get("copernica_oauth")
    callback = admin.consent(start)
    admin.callback(callback)
    assert admin.outcome() == f"{ACCOUNT}. Connection 'copernica_replay' created."
    token = stored_connections(airflow_ui)["copernica_replay"]["password"]
    assert [token] == issued_tokens

    admin.callback(callback)  # the same answer again: its cookie was cleared
    assert "no authorization is in progress" in admin.outcome()
    admin.http.cookies.set("copernica_oauth", pending_cookie, **COOKIE_SCOPE)
    admin.callback(callback)  # ... and with the old cookie put back: state and code are used
    assert "already used" in admin.outcome()

    assert stored_connections(airflow_ui)["copernica_replay"]["password"] == token
    assert token_exchanges(copernica) == 1 and len(issued_tokens) == 1
    assert_no_secrets(airflow_ui, [SANDBOX_CLIENT_SECRET, *codes_issued(copernica), token])


def test_copernica_refusing_access_is_shown_in_plain_words(
    airflow_ui: AirflowUI, copernica: SandboxServer, consent_refused: None
) -> None:
    admin = Visitor(airflow_ui, "admin")
    callback = admin.consent(admin.start("copernica_denied"))
    assert "error=access_denied" in callback and "code=" not in callback
    admin.callback(callback)
    assert admin.outcome() == (
        "Authorization refused: access was refused on Copernica's consent page; nothing was stored."
    )
    assert "copernica_denied" not in stored_connections(airflow_ui)
    assert token_exchanges(copernica) == 0


def test_a_viewer_may_neither_start_nor_complete_a_handshake(
    airflow_ui: AirflowUI, copernica: SandboxServer, issued_tokens: list[str]
) -> None:
    viewer, admin = Visitor(airflow_ui, "viewer"), Visitor(airflow_ui, "admin")
    refused = viewer.start("copernica_viewer")
    assert refused.status_code == 403
    assert "You are not allowed to edit connections." in unescape(refused.text)
    assert not list(copernica.iter_requests("/authorize"))

    # The admin's handshake, completed in the viewer's session with the admin's cookie.
    callback = admin.consent(admin.start("copernica_viewer"))
    viewer.http.cookies.set(
        "copernica_oauth", admin.http.cookies.get("copernica_oauth"), **COOKIE_SCOPE
    )
    viewer.callback(callback)
    page = viewer.page()
    assert page.status_code == 403
    assert "started by another Airflow user" in page.text
    assert "not allowed to view connections" in page.text
    assert "copernica_viewer" not in stored_connections(airflow_ui)
    assert token_exchanges(copernica) == 0 and not issued_tokens


def test_a_redirect_uri_other_than_the_api_servers_callback_is_refused(
    airflow_ui: AirflowUI, copernica: SandboxServer
) -> None:
    admin = Visitor(airflow_ui, "admin")
    chosen = admin.start("copernica_default", redirect_uri="http://127.0.0.1:9/steal")
    assert chosen.status_code == 400 and "redirect_uri cannot be chosen" in chosen.text

    cli_extra = {"redirect_uri": "http://127.0.0.1:8765/callback"}  # set up for the CLI
    airflow_ui.airflow.cli(
        "connections", "add", "copernica_cli", "--conn-type", "copernica",
        "--conn-host", copernica.url, "--conn-extra", json.dumps(cli_extra),
    )  # fmt: skip
    refused = admin.start("copernica_cli")
    assert refused.status_code == 303 and refused.headers["location"].endswith("/copernica/")
    assert "is not this API server's callback" in admin.outcome()
    assert not list(copernica.iter_requests("/authorize"))
    assert not stored_connections(airflow_ui)["copernica_cli"].get("password")
    headers = admin.page().headers  # the page cannot be framed, sends no Referer elsewhere
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "same-origin"
