"""The UI plugin's handshake binding: the signed pending-handshake cookie and single use.

The browser tests (tests/browser/test_plugin_authorize.py) drive the whole plugin through a
real Airflow; these pin the pieces that decide a refusal.
"""

from __future__ import annotations

import time

import pytest

from airflow_provider_copernica.plugins.session import (
    Outcome,
    PendingHandshake,
    UsedOnce,
    open_outcome,
    open_pending,
    seal_outcome,
    seal_pending,
)

KEY = "api-secret-key-for-tests"
PENDING = PendingHandshake(
    state="s" * 43,
    conn_id="copernica_default",
    user_id="admin",
    redirect_uri="http://127.0.0.1:8080/copernica/callback",
)


def test_pending_handshake_round_trips_only_with_the_servers_key() -> None:
    sealed = seal_pending(KEY, PENDING)
    assert open_pending(KEY, sealed) == PENDING
    assert open_pending("another-api-server", sealed) is None
    assert open_pending(KEY, None) is None and open_pending(KEY, "") is None


def test_a_tampered_pending_cookie_is_refused() -> None:
    sealed = seal_pending(KEY, PENDING)
    payload, _, signature = sealed.rpartition(".")
    forged = seal_pending("guessed", PendingHandshake("x" * 43, "other", "admin", "http://evil"))
    assert open_pending(KEY, forged) is None
    assert open_pending(KEY, f"{payload}x.{signature}") is None
    # An outcome cookie is not a pending handshake, even though the same key signs both.
    assert open_pending(KEY, seal_outcome(KEY, Outcome(True, "Connected"))) is None


def test_an_expired_pending_cookie_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    sealed = seal_pending(KEY, PENDING)
    later = time.time() + 601
    monkeypatch.setattr(time, "time", lambda: later)
    assert open_pending(KEY, sealed) is None


def test_outcome_round_trips() -> None:
    outcome = Outcome(False, "Authorization refused: <b>no</b>")
    assert open_outcome(KEY, seal_outcome(KEY, outcome)) == outcome
    assert open_outcome(KEY, seal_pending(KEY, PENDING)) is None


def test_used_once_refuses_a_second_claim_of_any_value() -> None:
    used = UsedOnce()
    assert used.claim("state-1", "code-1")
    assert not used.claim("state-1", "code-2")  # a reused state
    assert not used.claim("state-2", "code-1")  # a reused code
    assert used.claim("state-2", "code-2")


def test_used_once_forgets_after_its_lifetime(monkeypatch: pytest.MonkeyPatch) -> None:
    used = UsedOnce(keep_for=10)
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    assert used.claim("state")
    now[0] += 11
    assert used.claim("state")
