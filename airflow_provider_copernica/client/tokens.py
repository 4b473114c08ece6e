"""JWT helpers shared by the sync and the async hook: parse the exchange's reply, read
``exp``, and decide when to fetch the next JWT. Pure: no I/O."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from airflow_provider_copernica.exceptions import CopernicaAuthError

JWT_KEYS = ("token", "access_token", "jwt")
# Without an ``exp`` claim, refresh after this long (Copernica's JWTs live 24 h).
DEFAULT_JWT_LIFETIME = 6 * 3600.0
# Refresh this long before ``exp`` (at most; a short-lived JWT gets a tenth of its life).
JWT_REFRESH_MARGIN = 300.0


def parse_jwt_response(text: str) -> str:
    """The JWT from the exchange's body: a bare string, a JSON string, or JSON
    ``{"token"|"access_token"|"jwt": ...}``. Never echoes the body in its error."""
    body = (text or "").strip()
    token: Any = body
    if body.startswith(("{", '"')):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            token = next((parsed[k] for k in JWT_KEYS if isinstance(parsed.get(k), str)), None)
        else:
            token = parsed
    if not isinstance(token, str) or not token.strip() or any(c.isspace() for c in token.strip()):
        raise CopernicaAuthError(
            "The JWT exchange answered without a token (expected the JWT as the body, or JSON "
            f"with one of {', '.join(JWT_KEYS)})."
        )
    return token.strip()


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (epoch seconds) of a JWT, read without verifying it; None if absent."""
    import jwt  # PyJWT, an Airflow dependency

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


@dataclass(frozen=True)
class CachedJwt:
    """A JWT and when to fetch the next one."""

    token: str
    refresh_at: float
    exp: float | None = None

    @classmethod
    def from_token(cls, token: str, now: float | None = None) -> CachedJwt:
        now = time.time() if now is None else now
        exp = jwt_expiry(token)
        if exp is None:
            return cls(token, now + DEFAULT_JWT_LIFETIME)
        margin = min(JWT_REFRESH_MARGIN, max(0.0, exp - now) / 10)
        return cls(token, exp - margin, exp)

    def fresh(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) < self.refresh_at

    def expired(self, now: float | None = None) -> bool:
        """Past its ``exp``: a 401 for it is expiry, not a refusal of the access token."""
        return self.exp is not None and (time.time() if now is None else now) >= self.exp


def jwt_from_exchange(status: int, text: str) -> str:
    """Interpret the JWT exchange's reply (retryable statuses are handled by the caller)."""
    if status in (400, 401, 403):
        raise CopernicaAuthError(
            f"Copernica refused the API access token (HTTP {status} from the JWT exchange). "
            "Check the connection's password (a dashboard access token, or run "
            "`copernica authorize`)."
        )
    if status != 200:
        raise CopernicaAuthError(f"The JWT exchange failed with HTTP {status}.")
    return parse_jwt_response(text)
