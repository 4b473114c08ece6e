"""The transport-free request core shared by the sync and the async hook.

:class:`RequestCore` builds each request (:class:`Call`), interprets each reply (log line with
timing, status rules, decoded JSON or the right exception) and decides about the JWT (when to
fetch one, whether a refusal allows one more). The hooks only send: ``requests`` in
:class:`~airflow_provider_copernica.hooks.copernica.CopernicaHook`, ``httpx`` in
:class:`~airflow_provider_copernica.hooks.copernica.CopernicaAsyncHook`; each holds its own
lock (``threading`` or ``asyncio``) around the JWT fetch and :meth:`RequestCore.reauthorise`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from airflow_provider_copernica import __version__
from airflow_provider_copernica.client.masking import scrub
from airflow_provider_copernica.client.retry import TransientError, check_status, is_token_rejection
from airflow_provider_copernica.client.settings import CopernicaSettings
from airflow_provider_copernica.client.tokens import CachedJwt, jwt_from_exchange
from airflow_provider_copernica.exceptions import CopernicaAPIError, CopernicaAuthError

log = logging.getLogger("airflow_provider_copernica.hooks.copernica")

Params = Mapping[str, str | int] | Sequence[tuple[str, str | int]] | None
"""Query parameters; a list of pairs when a name repeats (Copernica repeats ``fields[]``)."""

# Connections kept open per host and session (the sync hook keeps one session per request
# in flight, see ``max_concurrency``; the async hook one client).
POOL_SIZE = 4
USER_AGENT = f"airflow-provider-copernica/{__version__}"
HEADERS = {"User-Agent": USER_AGENT, "Accept": "application/json"}


class AuthRejected(Exception):
    """401/403 or 400 "Invalid access token" on an API call: fetch a new JWT once, then give
    up."""

    def __init__(self, status: int, token: str | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.token = token
        """The JWT the refused request carried (set by :meth:`RequestCore.read_reply`)."""


def settings_from_connection(conn: Any) -> CopernicaSettings:
    """Settings from an Airflow connection (the port, if set apart from the host, is kept)."""
    host = conn.host or None
    if host and conn.port and not urlsplit(host if "://" in host else f"//{host}").port:
        host = f"{host.rstrip('/')}:{conn.port}"
    return CopernicaSettings.from_fields(host=host, password=conn.password, extra=conn.extra)


def query_pairs(params: Params) -> list[tuple[str, str]]:
    """Params as a list of (name, value) string pairs; booleans as ``true``/``false``."""
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    pairs = []
    for name, value in items:
        if isinstance(value, bool):
            value = "true" if value else "false"
        pairs.append((str(name), str(value)))
    return pairs


def describe(method: str, settings: CopernicaSettings, path: str) -> str:
    """``GET /v4/identity``: how a request is named in logs and errors (no query, no secret)."""
    clean = path.split("?", 1)[0].strip("/")
    return f"{method} {urlsplit(settings.api_base).path}/{clean}"


def api_url(settings: CopernicaSettings, path: str) -> str:
    return f"{settings.api_base}/{path.strip('/')}"


def interpret(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    what: str,
    settings: CopernicaSettings,
    secret_values: list[str],
) -> Any:
    """The decoded JSON of a successful reply, or the right exception for a failed one."""
    if is_token_rejection(status, content):
        raise AuthRejected(status)
    check_status(status, headers, what=what, settings=settings)
    if status >= 400:
        message = ""
        try:
            error = orjson.loads(content).get("error")
            message = str(error.get("message", "")) if isinstance(error, dict) else str(error or "")
        except (orjson.JSONDecodeError, AttributeError):
            message = content[:200].decode("utf-8", "replace").strip()
        message = scrub(message, secret_values)
        raise CopernicaAPIError(
            f"{what}: Copernica answered HTTP {status}" + (f": {message}" if message else ""),
            status=status,
            api_message=message,
        )
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        reason = "empty reply" if not content.strip() else "cut-off or invalid JSON body"
        raise TransientError(reason, status=status) from None


class ReauthGuard:
    """Allows one new JWT after a refusal; a JWT that merely expired in flight (past its
    ``exp``, e.g. with very short lifetimes) does not count, within a small bound."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.refusals = 0
        self.renewals = 0

    def check(self, rejected: AuthRejected, jwt: CachedJwt | None) -> None:
        """``jwt``: the refused JWT (None: unknown)."""
        self.renewals += 1
        if jwt is None or not jwt.expired():
            self.refusals += 1
        if self.refusals > 1 or self.renewals > 3:
            raise CopernicaAuthError(
                f"{self.what}: Copernica refused a freshly fetched JWT (HTTP {rejected.status}); "
                "the access token may be revoked or lack access to this account."
            ) from None
        log.debug("%s -> HTTP %s; fetching a new JWT", self.what, rejected.status)


@dataclass(frozen=True)
class Call:
    """One HTTP request, as the core built it; a hook sends it with its own client."""

    method: str
    url: str
    what: str
    """``GET /v4/...``: the request's name in logs and errors."""
    params: list[tuple[str, str]] = field(default_factory=list)
    data: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)


class RequestCore:
    """Request building, reply reading and JWT decisions, without any HTTP client."""

    def __init__(self, settings: CopernicaSettings) -> None:
        self.settings = settings
        self.jwt: CachedJwt | None = None

    # -- the JWT exchange

    def fresh_token(self) -> str | None:
        """The cached JWT; None when there is none yet or it is close to its expiry."""
        jwt = self.jwt
        return jwt.token if jwt is not None and jwt.fresh() else None

    @property
    def exchange_what(self) -> str:
        return f"POST {self.settings.auth_url}"

    def exchange_call(self) -> Call:
        settings = self.settings
        return Call(
            "POST",
            settings.auth_url,
            self.exchange_what,
            data={"access_token": settings.access_token},
        )

    def read_exchange(self, call: Call, status: int, headers: Mapping[str, str], text: str) -> str:
        """The JWT of an exchange reply (logged with its timing), or the right exception."""
        self._log_reply(call, status)
        check_status(status, headers, what=call.what, settings=self.settings)
        return jwt_from_exchange(status, text)

    def keep_jwt(self, token: str) -> None:
        self.jwt = CachedJwt.from_token(token)

    def reauthorise(self, guard: ReauthGuard, rejected: AuthRejected) -> None:
        """After a refusal: allow one new JWT (raise when the guard says no), drop the old.

        Requests in flight at the same time are refused together when their JWT expires: the
        first one drops it and the next request fetches a new one; the others, finding the
        cached JWT already replaced, simply retry with it. So a JWT is renewed once, not once
        per thread, and a refusal is judged by the JWT that was refused (its own ``exp``)."""
        current = self.jwt
        if rejected.token is not None and current is not None and current.token != rejected.token:
            return  # already renewed by another request
        refused = current
        if rejected.token is not None and (current is None or current.token != rejected.token):
            refused = CachedJwt.from_token(rejected.token)
        guard.check(rejected, refused)
        if self.jwt is current:
            self.jwt = None

    # -- API calls

    def api_call(self, path: str, query: list[tuple[str, str]], what: str, bearer: str) -> Call:
        return Call(
            "GET",
            api_url(self.settings, path),
            what,
            params=query,
            headers={"Authorization": f"Bearer {bearer}"},
        )

    def read_reply(
        self, call: Call, status: int, headers: Mapping[str, str], content: bytes
    ) -> Any:
        """The decoded JSON of an API reply (logged with its timing), or the right exception."""
        self._log_reply(call, status)
        try:
            return interpret(
                status,
                headers,
                content,
                what=call.what,
                settings=self.settings,
                secret_values=[*self.settings.secrets(), *([self.jwt.token] if self.jwt else [])],
            )
        except AuthRejected as rejected:
            rejected.token = call.headers.get("Authorization", "").removeprefix("Bearer ") or None
            raise

    def read_download(self, call: Call, status: int) -> None:
        """Log a completed file download (its errors go through :meth:`read_reply`)."""
        self._log_reply(call, status)

    @staticmethod
    def transport_error(call: Call, exc: BaseException) -> TransientError:
        """The retryable error for a failed send (connection, timeout, cut-off body)."""
        # Only the class name: library messages quote the URL, whose query may carry data.
        reason = f"connection error ({type(exc).__name__})"
        log.debug("%s failed: %s", call.what, reason)
        return TransientError(reason)

    @staticmethod
    def _log_reply(call: Call, status: int) -> None:
        elapsed_ms = (time.perf_counter() - call.started) * 1000
        log.debug("%s -> %s in %.0f ms", call.what, status, elapsed_ms)
