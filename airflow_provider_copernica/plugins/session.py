"""Binding one OAuth handshake to the browser and Airflow user that started it.

The API server may run several workers (and several hosts), so the pending handshake does not
live in one process's memory: it travels in a cookie signed with ``[api] secret_key`` (shared
by every API server), scoped to the plugin's path, HttpOnly, SameSite=Lax (Copernica's redirect
back is a top-level GET, which Lax lets through), valid for ten minutes.
The callback accepts it only for the same Airflow user, and only once: the cookie is cleared,
and the state is remembered as used by the worker that completed it (Copernica refuses a
second use of the code in any case).
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import asdict, dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

PENDING_COOKIE = "copernica_oauth"
RESULT_COOKIE = "copernica_oauth_result"
PENDING_MAX_AGE = 600  # seconds from Authorize to the callback
RESULT_MAX_AGE = 120  # seconds from the callback to showing its result


@dataclass(frozen=True)
class PendingHandshake:
    """What the callback needs to finish the handshake the user started."""

    state: str
    conn_id: str
    user_id: str
    redirect_uri: str


@dataclass(frozen=True)
class Outcome:
    """The result shown once on the Copernica page after a callback."""

    ok: bool
    message: str


def _serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=f"airflow-provider-copernica.{purpose}")


def seal_pending(secret_key: str, pending: PendingHandshake) -> str:
    return _serializer(secret_key, "pending").dumps(asdict(pending))


def open_pending(secret_key: str, value: str | None) -> PendingHandshake | None:
    """The pending handshake in the cookie, or None if absent, forged, or expired."""
    if not value:
        return None
    try:
        data = _serializer(secret_key, "pending").loads(value, max_age=PENDING_MAX_AGE)
        return PendingHandshake(**data)
    except (BadSignature, TypeError):
        return None


def seal_outcome(secret_key: str, outcome: Outcome) -> str:
    return _serializer(secret_key, "outcome").dumps(asdict(outcome))


def open_outcome(secret_key: str, value: str | None) -> Outcome | None:
    if not value:
        return None
    try:
        return Outcome(**_serializer(secret_key, "outcome").loads(value, max_age=RESULT_MAX_AGE))
    except (BadSignature, TypeError):
        return None


class UsedOnce:
    """Digests of states and codes this process already accepted (kept past their lifetime)."""

    def __init__(self, keep_for: float = 2 * PENDING_MAX_AGE) -> None:
        self.keep_for = keep_for
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, *values: str) -> bool:
        """Mark the values used; False if any of them was used before."""
        now = time.monotonic()
        digests = [hashlib.sha256(v.encode()).hexdigest() for v in values]
        with self._lock:
            self._seen = {d: t for d, t in self._seen.items() if now - t < self.keep_for}
            if any(d in self._seen for d in digests):
                return False
            self._seen.update(dict.fromkeys(digests, now))
            return True
