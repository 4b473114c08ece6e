"""Authentication in the sandbox: access tokens, the JWTs they are exchanged for, and the
OAuth flow that issues new access tokens.

``POST /authenticate`` (access token -> JWT), ``GET /authorize`` (the consent page:
auto-approved, or refused with ``error=access_denied`` while ``consent_refused`` is set),
``GET /v4/token`` (code -> access token); every ``/v4`` data request needs a Bearer JWT.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from urllib.parse import parse_qsl, urlencode

from airflow_provider_copernica.sandbox.account import ACCOUNT
from airflow_provider_copernica.sandbox.faults import Faults
from airflow_provider_copernica.sandbox.protocol import HTTPError, Query, Response

SANDBOX_ACCESS_TOKEN = "sandbox-access-token-6f1d2c9a"
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret-3e8b71"
DEFAULT_JWT_TTL = 24 * 3600.0
INVALID_ACCESS_TOKEN = "Invalid access token"  # the live API's 400 for a bad token


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Auth:
    """The accepted access tokens, the JWT key, and the OAuth codes and consent answer."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.key = secrets.token_bytes(32)
        self.tokens: dict[str, str] = {}  # sha256(access token) -> label
        self.oauth_codes: dict[str, tuple[str, str]] = {}
        self.consent_refused = False  # the consent page plays "the user clicked Deny"
        self.reset()

    def reset(self) -> None:
        self.tokens = {_digest(SANDBOX_ACCESS_TOKEN): "sandbox"}
        self.oauth_codes = {}
        self.consent_refused = False

    def register_token(self, token: str, label: str = "extra") -> None:
        self.tokens[_digest(token)] = label

    def issue_jwt(self, token: str) -> str:
        import jwt

        now = time.time()
        ttl = self.faults.jwt_ttl if self.faults.jwt_ttl is not None else DEFAULT_JWT_TTL
        payload = {
            "iss": "copernica-sandbox",
            "sub": ACCOUNT["id"],
            "iat": int(now),
            "exp": now + ttl,  # fractional so that jwt_ttl:1 really lasts about a second
            "tid": _digest(token)[:16],
        }
        return jwt.encode(payload, self.key, algorithm="HS256")

    def check_jwt(self, headers: dict[str, str], query: Query) -> None:
        import jwt

        if query.get("access_token") is not None:
            raise HTTPError(
                401, "REST v4 does not accept access_token in the URL: send a Bearer JWT"
            )
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise HTTPError(401, "missing Authorization: Bearer <JWT> header")
        try:
            jwt.decode(value.strip(), self.key, algorithms=["HS256"], leeway=0)
        except jwt.ExpiredSignatureError:
            raise self.invalid_token("the JWT has expired: fetch a new one") from None
        except jwt.InvalidTokenError:
            raise self.invalid_token("invalid JWT") from None

    def invalid_token(self, message: str) -> HTTPError:
        """How an invalid or expired JWT is refused: like the live API, HTTP 400
        ``Invalid access token``; with ``invalid_token:401`` (or 403) as the v4 docs say."""
        status = self.faults.invalid_token_status
        return HTTPError(status, INVALID_ACCESS_TOKEN if status == 400 else message)

    # -- endpoints -------------------------------------------------------------------------

    def authenticate(self, method: str, body: bytes) -> Response:
        """``POST /authenticate``: a known access token (form field) -> a JWT."""
        if method != "POST":
            raise HTTPError(405, "use POST with a form field access_token", {"Allow": "POST"})
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        token = form.get("access_token", "")
        if not token:
            raise HTTPError(400, "missing form field access_token")
        if _digest(token) not in self.tokens:
            raise HTTPError(401, "invalid access token")
        return Response(200, self.issue_jwt(token).encode(), content_type="text/plain")

    def authorize(self, method: str, query: Query) -> Response:
        """``GET /authorize``: the consent page, answered at once with a redirect."""
        if method != "GET":
            raise HTTPError(405, "use GET", {"Allow": "GET"})
        if query.get("client_id") != SANDBOX_CLIENT_ID:
            raise HTTPError(400, "unknown client_id")
        if query.get("response_type") != "code":
            raise HTTPError(400, "response_type must be code")
        redirect, state = query.get("redirect_uri"), query.get("state")
        if not redirect or not redirect.startswith(("http://", "https://")):
            raise HTTPError(400, "redirect_uri must be an http(s) URL")
        if not state:
            raise HTTPError(400, "state is required")
        separator = "&" if "?" in redirect else "?"
        if self.consent_refused:
            refusal = {"error": "access_denied", "error_description": "The user refused access"}
            location = f"{redirect}{separator}{urlencode(refusal | {'state': state})}"
            return Response(302, b"", content_type="text/plain", headers={"Location": location})
        code = secrets.token_hex(16)
        self.oauth_codes[code] = (SANDBOX_CLIENT_ID, redirect)
        location = f"{redirect}{separator}{urlencode({'code': code, 'state': state})}"
        return Response(302, b"", content_type="text/plain", headers={"Location": location})

    def grant(self, method: str, query: Query) -> str:
        """``GET /v4/token``: check the client and the code (used once); a new access token
        (the caller registers it)."""
        if method != "GET":
            raise HTTPError(405, "use GET", {"Allow": "GET"})
        if query.get("client_id") != SANDBOX_CLIENT_ID:
            raise HTTPError(400, "unknown client_id")
        if query.get("client_secret") != SANDBOX_CLIENT_SECRET:
            raise HTTPError(400, "invalid client_secret")
        grant = self.oauth_codes.get(query.get("code") or "")
        if grant is None:
            raise HTTPError(400, "invalid or already used code")
        if query.get("redirect_uri") != grant[1]:
            raise HTTPError(400, "redirect_uri does not match the authorization request")
        del self.oauth_codes[query.get("code") or ""]
        return secrets.token_hex(16)
