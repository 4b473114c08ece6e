"""Authentication: access token -> JWT, and the OAuth authorization-code handshake.

The JWT helpers are pure and shared by the sync and the async hook. The OAuth part backs
``copernica authorize``: build the authorize URL with a random ``state``, serve one callback
on 127.0.0.1, verify ``state``, exchange the code for an access token and store it in the
Airflow connection (or print it as an ``AIRFLOW_CONN_...`` value).
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import json
import logging
import os
import secrets
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

import requests

from airflow_provider_copernica.config import CopernicaSettings
from airflow_provider_copernica.exceptions import (
    CopernicaAPIError,
    CopernicaAuthError,
    CopernicaConfigError,
    CopernicaError,
)

log = logging.getLogger(__name__)

JWT_KEYS = ("token", "access_token", "jwt")
# Without an ``exp`` claim, refresh after this long (Copernica's JWTs live 24 h).
DEFAULT_JWT_LIFETIME = 6 * 3600.0
# Refresh this long before ``exp`` (at most; a short-lived JWT gets a tenth of its life).
JWT_REFRESH_MARGIN = 300.0
DEFAULT_CALLBACK_PORT = 8765
CALLBACK_HOST = "127.0.0.1"


# --------------------------------------------------------------------------- JWT helpers


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


def mask_secrets(*values: str | None) -> None:
    """Register values with Airflow's secret masker, so task logs show ``***``."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # older task SDKs
        from airflow.sdk.execution_time.secrets_masker import mask_secret  # type: ignore
    for value in values:
        if value:
            mask_secret(value)


async def amask_secrets(*values: str | None) -> None:
    """:func:`mask_secrets` for the event loop (the triggerer)."""
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # older task SDKs: the sync call is safe there
        mask_secrets(*values)
        return
    for value in values:
        if value:
            await amask_secret(value)


def scrub(text: str, secret_values: list[str]) -> str:
    """``text`` with every secret replaced by ``***`` (for messages built from foreign text)."""
    for value in secret_values:
        if value:
            text = text.replace(value, "***")
            text = text.replace(quote_plus(value), "***")
    return text


class _Redact(logging.Filter):
    def __init__(self, secret_values: list[str]) -> None:
        super().__init__()
        self.secret_values = secret_values

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message, self.secret_values)
        if clean != message:
            record.msg, record.args = clean, None
        return True


@contextlib.contextmanager
def redacted_http_logs(*secret_values: str) -> Iterator[None]:
    """urllib3 logs request URLs at debug level: redact secrets from them meanwhile."""
    redact = _Redact([v for v in secret_values if v])
    logger = logging.getLogger("urllib3.connectionpool")
    logger.addFilter(redact)
    try:
        yield
    finally:
        logger.removeFilter(redact)


# --------------------------------------------------------------------------- OAuth handshake


def build_authorize_url(authorize_url: str, client_id: str, redirect_uri: str, state: str) -> str:
    """The page the user opens to grant the app access (authorization-code flow)."""
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "response_type": "code",
        }
    )
    return f"{authorize_url}{'&' if '?' in authorize_url else '?'}{query}"


class OAuthCallbackError(CopernicaAuthError):
    """The OAuth callback was refused (wrong state, denied access, no code, timeout)."""


class CallbackServer:
    """Serves exactly one OAuth callback on 127.0.0.1 and returns its ``code``.

    Binds at construction, so the redirect URI (with the real port when ``port=0``) is known
    before the user is sent to Copernica.
    """

    def __init__(self, state: str, port: int = DEFAULT_CALLBACK_PORT, path: str = "/callback"):
        self.state = state
        self.path = path
        self.result: dict[str, str] = {}
        self.error: str | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                owner._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the query string holds the code: keep it out of stderr

        try:
            self._server = HTTPServer((CALLBACK_HOST, port), Handler)
        except OSError as exc:
            raise CopernicaConfigError(
                f"Cannot listen on {CALLBACK_HOST}:{port} for the OAuth callback ({exc.strerror}); "
                "choose another --port."
            ) from None
        self.port = self._server.server_address[1]

    @property
    def redirect_uri(self) -> str:
        return f"http://{CALLBACK_HOST}:{self.port}{self.path}"

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        if parts.path != self.path:
            request.send_error(404)
            return
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if not hmac.compare_digest(query.get("state", "").encode(), self.state.encode()):
            self.error = "the OAuth callback's state does not match (possible CSRF); refused"
        elif "error" in query:
            self.error = f"Copernica did not grant access: {query['error'][:200]}"
        elif not query.get("code"):
            self.error = "the OAuth callback carried no code"
        else:
            self.result = {"code": query["code"]}
        ok = self.error is None
        body = (
            "Copernica access granted: you can close this window."
            if ok
            else f"Authorization failed: {self.error}."
        ).encode()
        request.send_response(200 if ok else 400)
        request.send_header("Content-Type", "text/plain; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def wait(self, timeout: float) -> str:
        """Serve requests until the callback arrives (one answer only); return its code."""
        deadline = time.monotonic() + timeout
        try:
            while not self.result and self.error is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise OAuthCallbackError(
                        f"No OAuth callback on {self.redirect_uri} within {timeout:g} s."
                    )
                self._server.timeout = min(remaining, 0.5)
                self._server.handle_request()
        finally:
            self.close()
        if self.error:
            raise OAuthCallbackError(f"OAuth handshake failed: {self.error}.")
        return self.result["code"]

    def close(self) -> None:
        self._server.server_close()

    def __enter__(self) -> CallbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for_callback(
    state: str,
    *,
    port: int = DEFAULT_CALLBACK_PORT,
    timeout: float = 300.0,
    on_ready: Callable[[str], None] | None = None,
) -> str:
    """Listen on 127.0.0.1:port, call ``on_ready(redirect_uri)``, return the callback's code
    once its ``state`` matched."""
    server = CallbackServer(state, port)
    if on_ready is not None:
        on_ready(server.redirect_uri)
    return server.wait(timeout)


def exchange_code(
    settings: CopernicaSettings,
    *,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    code: str,
    timeout: float | None = None,
) -> str:
    """Trade the authorization code for an access token at ``{api_base}/token``.

    Copernica's documented API takes the client secret in the query string; the URL is
    therefore never logged nor put in an error message.
    """
    mask_secrets(client_secret, code)
    params = {
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": redirect_uri,
        "code": code,
    }
    where = f"GET {urlsplit(settings.api_base).path}/token"
    try:
        with redacted_http_logs(client_secret, code):
            response = requests.get(
                f"{settings.api_base}/token", params=params, timeout=timeout or settings.timeout
            )
    except requests.RequestException as exc:
        raise CopernicaAuthError(
            f"{where}: could not reach Copernica ({type(exc).__name__})"
        ) from None
    if response.status_code != 200:
        message = ""
        with contextlib.suppress(ValueError, AttributeError):
            message = str(response.json().get("error", {}).get("message", ""))
        message = scrub(message, [client_secret, code])
        raise CopernicaAPIError(
            f"{where}: Copernica refused the authorization code (HTTP "
            f"{response.status_code}){': ' + message if message else ''}",
            status=response.status_code,
        )
    try:
        token = response.json()["access_token"]
    except (ValueError, KeyError, TypeError):
        raise CopernicaAuthError(f"{where}: the answer holds no access_token") from None
    if not isinstance(token, str) or not token:
        raise CopernicaAuthError(f"{where}: the answer holds no access_token")
    mask_secrets(token)
    return token


# --------------------------------------------------------------------------- the command


def _existing_connection(conn_id: str) -> Any | None:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def store_token(conn_id: str, token: str, settings: CopernicaSettings, extra: dict) -> str:
    """Create or update the connection in Airflow's metadata DB with the new access token."""
    from airflow.models import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        conn = session.query(Connection).filter(Connection.conn_id == conn_id).one_or_none()
        if conn is None:
            conn = Connection(
                conn_id=conn_id,
                conn_type="copernica",
                host=settings.host,
                password=token,
                extra=json.dumps(extra) if extra else None,
            )
            session.add(conn)
            return "created"
        conn.password = token
        merged = {**conn.extra_dejson, **{k: v for k, v in extra.items() if v is not None}}
        conn.extra = json.dumps(merged) if merged else None
        return "updated"


def connection_env_value(token: str, settings: CopernicaSettings, extra: dict) -> str:
    """JSON for ``AIRFLOW_CONN_<ID>`` holding the new token."""
    value: dict[str, Any] = {"conn_type": "copernica", "host": settings.host, "password": token}
    if extra:
        value["extra"] = extra
    return json.dumps(value)


def authorize_command(args: argparse.Namespace) -> int:
    """``copernica authorize``: run the handshake and store (or print) the access token."""
    client_secret = args.client_secret or os.environ.get("COPERNICA_CLIENT_SECRET")
    if not client_secret:
        print(
            "error: the app's client secret is missing: pass --client-secret or set "
            "COPERNICA_CLIENT_SECRET.",
            file=sys.stderr,
        )
        return 2
    mask_secrets(client_secret)
    try:
        existing = _existing_connection(args.conn_id)
        settings = CopernicaSettings.from_fields(
            host=getattr(existing, "host", None),
            password=getattr(existing, "password", None),
            extra=getattr(existing, "extra", None),
            require_token=False,
        )
        state = secrets.token_urlsafe(32)
        server = CallbackServer(state, args.port)
        # A redirect_uri in the connection wins (it must match the app's registration); the
        # callback server still listens on 127.0.0.1:--port.
        redirect_uri = settings.redirect_uri or server.redirect_uri
        url = build_authorize_url(settings.authorize_url, args.client_id, redirect_uri, state)
        print(f"Open this URL to grant access:\n{url}", flush=True)
        if not args.no_browser:
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        print(f"Waiting for the callback on {server.redirect_uri} ...", file=sys.stderr)
        code = server.wait(args.timeout)
        token = exchange_code(
            settings,
            client_id=args.client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            code=code,
        )
    except CopernicaError as exc:
        print(f"error: {scrub(str(exc), [client_secret])}", file=sys.stderr)
        return 1
    extra = dict(getattr(existing, "extra_dejson", None) or {}) if existing else {}
    extra["client_id"] = args.client_id
    extra.pop("client_secret", None)  # only the handshake needs it; do not spread it around
    if args.print_only:
        env_name = "AIRFLOW_CONN_" + args.conn_id.upper()
        print(f"{env_name}={connection_env_value(token, settings, extra)}")
        return 0
    try:
        action = store_token(args.conn_id, token, settings, extra)
    except Exception as exc:  # the metadata DB is outside our control: explain, do not leak
        print(
            f"error: could not store connection {args.conn_id!r} in Airflow's metadata DB "
            f"({type(exc).__name__}); run `airflow db migrate` first, or use --print.",
            file=sys.stderr,
        )
        return 1
    print(f"Connection {args.conn_id!r} {action} with the new access token.")
    if os.environ.get("AIRFLOW_CONN_" + args.conn_id.upper()):
        print(
            f"note: AIRFLOW_CONN_{args.conn_id.upper()} is set in this environment and takes "
            "precedence over the metadata DB.",
            file=sys.stderr,
        )
    return 0
