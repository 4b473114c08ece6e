"""CopernicaHook (requests, sync) and CopernicaAsyncHook (httpx, for the trigger).

Both read the same connection into :class:`~airflow_provider_copernica.config.CopernicaSettings`,
exchange the access token for a cached JWT (:mod:`~airflow_provider_copernica.tokens`), and
retry by the rules of :mod:`~airflow_provider_copernica.retry`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from airflow.sdk import BaseHook

from airflow_provider_copernica import UI_FIELD_BEHAVIOUR, __version__
from airflow_provider_copernica.config import DEFAULT_CONN_ID, EXTRA_FIELDS, CopernicaSettings
from airflow_provider_copernica.exceptions import (
    CopernicaAPIError,
    CopernicaAuthError,
    CopernicaError,
)
from airflow_provider_copernica.masking import amask_secrets, mask_secrets, scrub
from airflow_provider_copernica.retry import (
    TransientError,
    async_retrying,
    check_status,
    is_token_rejection,
    retrying,
)
from airflow_provider_copernica.tokens import CachedJwt, jwt_from_exchange

if TYPE_CHECKING:
    import httpx
    import requests

log = logging.getLogger(__name__)

Params = Mapping[str, str | int] | Sequence[tuple[str, str | int]] | None
"""Query parameters; a list of pairs when a name repeats (Copernica repeats ``fields[]``)."""

# Connections kept open per host: the engine prefetches the next page in a second thread.
POOL_SIZE = 4
USER_AGENT = f"airflow-provider-copernica/{__version__}"
_PAGING_PARAMS = ("start", "limit")
_KEYSET_PARAMS = ("start", "limit", "orderby", "order", "total")


class _AuthRejected(Exception):
    """401/403 or 400 "Invalid access token" on an API call: fetch a new JWT once, then give
    up."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


# --------------------------------------------------------------------------- shared helpers


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
        raise _AuthRejected(status)
    check_status(status, headers, what=what, settings=settings)
    if status >= 400:
        message = ""
        try:
            error = orjson.loads(content).get("error")
            message = str(error.get("message", "")) if isinstance(error, dict) else str(error or "")
        except (orjson.JSONDecodeError, AttributeError):
            message = content[:200].decode("utf-8", "replace").strip()
        message = scrub(message, secret_values)
        exc = CopernicaAPIError(
            f"{what}: Copernica answered HTTP {status}" + (f": {message}" if message else ""),
            status=status,
        )
        exc.api_message = message  # type: ignore[attr-defined]
        raise exc
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        reason = "empty reply" if not content.strip() else "cut-off or invalid JSON body"
        raise TransientError(reason, status=status) from None


class _ReauthGuard:
    """Allows one new JWT after a refusal; a JWT that merely expired in flight (past its
    ``exp``, e.g. with very short lifetimes) does not count, within a small bound."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.refusals = 0
        self.renewals = 0

    def check(self, rejected: _AuthRejected, jwt: CachedJwt | None) -> None:
        self.renewals += 1
        if jwt is None or not jwt.expired():
            self.refusals += 1
        if self.refusals > 1 or self.renewals > 3:
            raise CopernicaAuthError(
                f"{self.what}: Copernica refused a freshly fetched JWT (HTTP {rejected.status}); "
                "the access token may be revoked or lack access to this account."
            ) from None
        log.debug("%s -> HTTP %s; fetching a new JWT", self.what, rejected.status)


def _transport_reason(exc: BaseException) -> str:
    # Only the class name: library messages quote the URL, whose query may carry data.
    return f"connection error ({type(exc).__name__})"


def _secret_values(settings: CopernicaSettings, jwt: CachedJwt | None) -> list[str]:
    return [*settings.secrets(), *([jwt.token] if jwt else [])]


def _log_reply(what: str, status: int, started: float) -> None:
    log.debug("%s -> %s in %.0f ms", what, status, (time.perf_counter() - started) * 1000)


def _record_id(record: Mapping[str, Any]) -> int:
    value = record.get("ID", record.get("id"))
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CopernicaAPIError(
            f"keyset paging needs an integer ID in every record, got {value!r}"
        ) from None


# --------------------------------------------------------------------------- sync hook


class CopernicaHook(BaseHook):
    """Talks to the Copernica REST API: JWT auth, pooled HTTP, retries and paging."""

    conn_name_attr = "copernica_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "copernica"
    hook_name = "Copernica"

    def __init__(
        self,
        copernica_conn_id: str = default_conn_name,
        *,
        settings: CopernicaSettings | None = None,
    ) -> None:
        super().__init__()
        self.copernica_conn_id = copernica_conn_id
        self._settings = settings
        self._session: requests.Session | None = None
        self._jwt: CachedJwt | None = None
        self._lock = threading.RLock()
        self.api_calls = 0
        self.auth_calls = 0
        if settings is not None:
            mask_secrets(*settings.secrets())

    # -- connection form (Airflow < 3.2; newer versions read the provider info instead)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form (wtforms; only the Airflow UI calls this)."""
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import BooleanField, IntegerField, PasswordField, StringField

        widgets: dict[str, Any] = {}
        for f in EXTRA_FIELDS:
            label = lazy_gettext(f.label)
            if f.type == "boolean":
                widgets[f.name] = BooleanField(label, default=bool(f.default))
            elif f.sensitive:
                widgets[f.name] = PasswordField(label, widget=BS3PasswordFieldWidget())
            elif f.type == "integer":
                widgets[f.name] = IntegerField(
                    label, widget=BS3TextFieldWidget(), default=f.default
                )
            else:
                widgets[f.name] = StringField(
                    label,
                    widget=BS3TextFieldWidget(),
                    default=None if f.default is None else str(f.default),
                    description=f.description,
                )
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder standard fields of the connection form."""
        return {key: value.copy() for key, value in UI_FIELD_BEHAVIOUR.items()}

    # -- plumbing

    @property
    def settings(self) -> CopernicaSettings:
        """The connection's validated settings, read once from Airflow."""
        if self._settings is None:
            conn = self.get_connection(self.copernica_conn_id)
            self._settings = settings_from_connection(conn)
            mask_secrets(*self._settings.secrets())
        return self._settings

    @property
    def session(self) -> requests.Session:
        """One pooled keep-alive session for every request of this hook."""
        if self._session is None:
            import requests
            from requests.adapters import HTTPAdapter

            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=POOL_SIZE, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
            self._session = session
        return self._session

    def get_conn(self) -> requests.Session:
        return self.session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> CopernicaHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _count(self, attr: str) -> None:
        with self._lock:
            setattr(self, attr, getattr(self, attr) + 1)

    # -- auth

    def _exchange_once(self) -> str:
        import requests

        settings = self.settings
        self._count("auth_calls")
        started = time.perf_counter()
        try:
            response = self.session.post(
                settings.auth_url,
                data={"access_token": settings.access_token},
                timeout=settings.timeout,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(_transport_reason(exc)) from None
        _log_reply(f"POST {settings.auth_url}", response.status_code, started)
        check_status(
            response.status_code,
            response.headers,
            what=f"POST {settings.auth_url}",
            settings=settings,
        )
        return jwt_from_exchange(response.status_code, response.text)

    def _bearer(self) -> str:
        with self._lock:
            if self._jwt is None or not self._jwt.fresh():
                what = f"POST {self.settings.auth_url}"
                token = retrying(self.settings, what)(self._exchange_once)
                mask_secrets(token)
                self._jwt = CachedJwt.from_token(token)
            return self._jwt.token

    # -- requests

    def _attempt(self, path: str, query: list[tuple[str, str]], what: str) -> Any:
        import requests
        import urllib3

        settings = self.settings
        headers = {"Authorization": f"Bearer {self._bearer()}"}
        self._count("api_calls")
        started = time.perf_counter()
        try:
            response = self.session.get(
                api_url(settings, path),
                params=query,
                headers=headers,
                timeout=settings.timeout,
                stream=True,
            )
            # One read of the whole body: `response.content` reads it in 10 kB chunks, which
            # costs ~1 µs of CPU per record on 1000-record pages. The connection goes back to
            # the pool once the body is read.
            try:
                content = response.raw.read(decode_content=True)
            except BaseException:
                response.close()
                raise
        except (
            requests.ConnectionError,
            requests.Timeout,
            urllib3.exceptions.HTTPError,  # cut-off body, read timeout, bad encoding
        ) as exc:
            log.debug("%s failed: %s", what, _transport_reason(exc))
            raise TransientError(_transport_reason(exc)) from None
        _log_reply(what, response.status_code, started)
        return interpret(
            response.status_code,
            response.headers,
            content,
            what=what,
            settings=settings,
            secret_values=_secret_values(settings, self._jwt),
        )

    def get(self, path: str, params: Params = None) -> Any:
        """GET ``{api_base}/{path}`` and return its decoded JSON (retries and re-auth included)."""
        what = describe("GET", self.settings, path)
        query = query_pairs(params)
        guard = _ReauthGuard(what)
        while True:
            try:
                return retrying(self.settings, what)(self._attempt, path, query, what)
            except _AuthRejected as rejected:
                with self._lock:
                    guard.check(rejected, self._jwt)
                    self._jwt = None

    # -- paging

    def iter_pages(self, path: str, params: Params = None) -> Iterator[list[dict]]:
        """Pages of records by offset (``start``/``limit``), until ``start + count >= total``,
        or a short page when the caller passed ``total=false``."""
        base = [(k, v) for k, v in query_pairs(params) if k not in _PAGING_PARAMS]
        limit = self.settings.page_size
        start = 0
        while True:
            body = self.get(path, [*base, ("start", str(start)), ("limit", str(limit))])
            if not isinstance(body, dict):  # bare-array endpoints (e.g. .../profileids)
                if body:
                    yield list(body)
                return
            data = body.get("data") or []
            if data:
                yield data
            count = int(body.get("count", len(data)))
            start = int(body.get("start", start)) + count
            total = body.get("total")
            if count == 0:
                return
            if total is not None and total is not False:
                if start >= int(total):
                    return
            elif count < int(body.get("limit") or limit):
                return

    def iter_pages_by_id(self, path: str, params: Params = None) -> Iterator[list[dict]]:
        """Pages of records by key (``orderby=id``, ``fields[]=id>{last}``): exact even when
        records are added or removed between pages. Stops on a short page."""
        base = [(k, v) for k, v in query_pairs(params) if k not in _KEYSET_PARAMS]
        limit = self.settings.page_size
        keyset = [("orderby", "id"), ("order", "asc"), ("total", "false"), ("limit", str(limit))]
        last: int | None = None
        while True:
            after = [] if last is None else [("fields[]", f"id>{last}")]
            body = self.get(path, [*base, *after, *keyset])
            data = body.get("data") or [] if isinstance(body, dict) else list(body or [])
            if data:
                yield data
            if len(data) < limit:
                return
            newest = _record_id(data[-1])  # ordered by id (orderby=id, order=asc)
            if last is not None and newest <= last:
                raise CopernicaAPIError(
                    f"{describe('GET', self.settings, path)}: keyset paging did not advance "
                    f"past id {last}; the endpoint may not support fields[]=id>N"
                )
            last = newest

    def paginate(self, path: str, params: Params = None) -> Iterator[dict]:
        """Records of :meth:`iter_pages`."""
        for page in self.iter_pages(path, params):
            yield from page

    def paginate_by_id(self, path: str, params: Params = None) -> Iterator[dict]:
        """Records of :meth:`iter_pages_by_id`."""
        for page in self.iter_pages_by_id(path, params):
            yield from page

    # -- connection test

    def test_connection(self) -> tuple[bool, str]:
        """Call ``identity``: what the Airflow UI's Test button shows."""
        try:
            identity = self.get("identity")
        except CopernicaError as exc:
            return False, str(exc)
        except Exception as exc:  # e.g. connection not found; never let a secret through
            secret_values = self._settings.secrets() if self._settings else []
            return False, scrub(f"{type(exc).__name__}: {exc}", secret_values)
        if not isinstance(identity, dict):
            return False, "identity answered with something other than an account"
        return True, f"Connected to account {identity.get('name')} ({identity.get('company')})"


# --------------------------------------------------------------------------- async hook


class CopernicaAsyncHook:
    """The hook's rules (settings, JWT cache, retries) over ``httpx.AsyncClient``."""

    def __init__(
        self,
        copernica_conn_id: str = CopernicaHook.default_conn_name,
        *,
        settings: CopernicaSettings | None = None,
    ) -> None:
        self.copernica_conn_id = copernica_conn_id
        self._settings = settings
        self._client: httpx.AsyncClient | None = None
        self._jwt: CachedJwt | None = None
        self._jwt_lock: asyncio.Lock | None = None
        self.api_calls = 0
        self.auth_calls = 0

    async def get_settings(self) -> CopernicaSettings:
        """The connection's settings, fetched without blocking the event loop."""
        if self._settings is None:
            getter = getattr(BaseHook, "aget_connection", None)
            if getter is not None:
                conn = await getter(self.copernica_conn_id)
            else:  # task SDKs before aget_connection
                from asgiref.sync import sync_to_async

                conn = await sync_to_async(BaseHook.get_connection)(self.copernica_conn_id)
            self._settings = settings_from_connection(conn)
        await amask_secrets(*self._settings.secrets())
        return self._settings

    def _http(self, settings: CopernicaSettings) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                timeout=settings.timeout,
                limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE),
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            )
        return self._client

    async def _exchange_once(self, settings: CopernicaSettings) -> str:
        import httpx

        self.auth_calls += 1
        try:
            response = await self._http(settings).post(
                settings.auth_url, data={"access_token": settings.access_token}
            )
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise TransientError(_transport_reason(exc)) from None
        check_status(
            response.status_code,
            response.headers,
            what=f"POST {settings.auth_url}",
            settings=settings,
        )
        return jwt_from_exchange(response.status_code, response.text)

    async def _bearer(self, settings: CopernicaSettings) -> str:
        if self._jwt_lock is None:
            self._jwt_lock = asyncio.Lock()
        async with self._jwt_lock:
            if self._jwt is None or not self._jwt.fresh():
                what = f"POST {settings.auth_url}"
                token = await async_retrying(settings, what)(self._exchange_once, settings)
                await amask_secrets(token)
                self._jwt = CachedJwt.from_token(token)
            return self._jwt.token

    async def _attempt(
        self, settings: CopernicaSettings, path: str, query: list[tuple[str, str]], what: str
    ) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {await self._bearer(settings)}"}
        self.api_calls += 1
        started = time.perf_counter()
        try:
            response = await self._http(settings).get(
                api_url(settings, path), params=query, headers=headers
            )
        except (httpx.TransportError, httpx.DecodingError) as exc:
            log.debug("%s failed: %s", what, _transport_reason(exc))
            raise TransientError(_transport_reason(exc)) from None
        _log_reply(what, response.status_code, started)
        return interpret(
            response.status_code,
            response.headers,
            response.content,
            what=what,
            settings=settings,
            secret_values=_secret_values(settings, self._jwt),
        )

    async def get(self, path: str, params: Params = None) -> Any:
        """GET ``{api_base}/{path}`` and return its decoded JSON (retries and re-auth included)."""
        settings = await self.get_settings()
        what = describe("GET", settings, path)
        query = query_pairs(params)
        guard = _ReauthGuard(what)
        while True:
            try:
                return await async_retrying(settings, what)(
                    self._attempt, settings, path, query, what
                )
            except _AuthRejected as rejected:
                guard.check(rejected, self._jwt)
                self._jwt = None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
