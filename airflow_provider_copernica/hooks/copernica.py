"""CopernicaHook (requests, sync) and CopernicaAsyncHook (httpx, for the trigger).

Both read the same connection into :class:`~airflow_provider_copernica.client.settings.CopernicaSettings`
and share one transport-free :class:`~airflow_provider_copernica.client.request_core.RequestCore`
(request building, reply rules, JWT decisions); each only sends, with its own client and
lock, and retries by the rules of :mod:`~airflow_provider_copernica.client.retry`. A hook sends
one request at a time and never imports the engine: paging a listing is
:func:`~airflow_provider_copernica.engine.paging.iter_pages`, which calls :meth:`CopernicaHook.get`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_copernica.client.limiter import ConcurrencyLimiter
from airflow_provider_copernica.client.masking import amask_secrets, mask_secrets, scrub
from airflow_provider_copernica.client.request_core import (
    HEADERS,
    POOL_SIZE,
    AuthRejected,
    Params,
    ReauthGuard,
    RequestCore,
    describe,
    query_pairs,
    settings_from_connection,
)
from airflow_provider_copernica.client.retry import TransientError, async_retrying, retrying
from airflow_provider_copernica.client.settings import (
    DEFAULT_CONN_ID,
    CopernicaSettings,
)
from airflow_provider_copernica.exceptions import CopernicaError

if TYPE_CHECKING:
    import httpx
    import requests

DOWNLOAD_CHUNK = 1 << 16

__all__ = [
    "CopernicaAsyncHook",
    "CopernicaHook",
    "Params",
    "settings_from_connection",
]


# --------------------------------------------------------------------------- sync hook


class CopernicaHook(BaseHook):
    """Talks to the Copernica REST API: JWT auth, pooled HTTP and retries, one request at a
    time (a listing's pages: :func:`~airflow_provider_copernica.engine.paging.iter_pages`).

    The access token is exchanged once for a JWT (cached until shortly before it expires);
    429/502/503/504, dropped connections, timeouts and cut-off replies are retried within the
    connection's ``max_retry_duration``. ``api_calls`` counts every ``/v4`` request (retries
    included; Copernica meters them), ``auth_calls`` the JWT exchanges. See
    docs/connection.md.

    :param copernica_conn_id: the Airflow connection of type ``copernica`` (default
        ``copernica_default``).
    :param settings: already validated settings, used instead of reading the connection.
    """

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
        self._idle: list[requests.Session] = []  # sessions not in use by a request now
        self._sessions: list[requests.Session] = []
        self._core: RequestCore | None = None
        self._limiter: ConcurrencyLimiter | None = None
        self._lock = threading.RLock()
        self.api_calls = 0
        self.auth_calls = 0
        if settings is not None:
            mask_secrets(*settings.secrets())

    # The connection form: Airflow (>= 3.2, and this provider needs 3.3) reads it from the
    # provider info's declarative conn-fields / ui-field-behaviour, never from the hook.

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
        """A pooled keep-alive session (``get_conn``); requests borrow their own."""
        if self._session is None:
            self._session = self._new_session()
        return self._session

    def _new_session(self) -> requests.Session:
        import requests
        from requests.adapters import HTTPAdapter

        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=POOL_SIZE, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update(HEADERS)
        with self._lock:
            self._sessions.append(session)
        return session

    @contextlib.contextmanager
    def _borrowed(self) -> Iterator[requests.Session]:
        """A session used by this request alone: ``requests.Session`` is not documented as
        thread-safe, so requests in flight at once (``max_concurrency``) each borrow one;
        idle sessions, with their keep-alive connections, are reused."""
        with self._lock:
            session = self._idle.pop() if self._idle else None
        if session is None:
            session = self._new_session()
        try:
            yield session
        finally:
            with self._lock:
                if session in self._sessions:  # not closed meanwhile
                    self._idle.append(session)

    @property
    def limiter(self) -> ConcurrencyLimiter:
        """The requests in flight of this hook: at most ``max_concurrency``, fewer while
        Copernica answers 429/503/504 (:class:`~airflow_provider_copernica.client.limiter.ConcurrencyLimiter`)."""
        if self._limiter is None:
            with self._lock:
                if self._limiter is None:
                    self._limiter = ConcurrencyLimiter(self.settings.max_concurrency)
        return self._limiter

    def get_conn(self) -> requests.Session:
        return self.session

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions, self._idle = self._sessions, [], []
            self._session = None
        for session in sessions:
            session.close()

    def __enter__(self) -> CopernicaHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _count(self, attr: str) -> None:
        with self._lock:
            setattr(self, attr, getattr(self, attr) + 1)

    @property
    def core(self) -> RequestCore:
        """The request rules shared with the async hook (built once the settings are read)."""
        if self._core is None:
            self._core = RequestCore(self.settings)
        return self._core

    # -- auth

    def _exchange_once(self) -> str:
        import requests

        call = self.core.exchange_call()
        self._count("auth_calls")
        try:
            with self._borrowed() as session:
                response = session.post(call.url, data=call.data, timeout=self.settings.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise self.core.transport_error(call, exc) from None
        return self.core.read_exchange(call, response.status_code, response.headers, response.text)

    def _bearer(self) -> str:
        with self._lock:
            core = self.core
            token = core.fresh_token()
            if token is None:
                token = retrying(self.settings, core.exchange_what)(self._exchange_once)
                mask_secrets(token)
                core.keep_jwt(token)
            return token

    # -- requests

    def _attempt(self, path: str, query: list[tuple[str, str]], what: str) -> Any:
        import requests
        import urllib3

        limiter = self.limiter
        with limiter.slot() as generation, self._borrowed() as session:
            call = self.core.api_call(path, query, what, self._bearer())
            self._count("api_calls")
            try:
                response = session.get(
                    call.url,
                    params=call.params,
                    headers=call.headers,
                    timeout=self.settings.timeout,
                    stream=True,
                )
                # One read of the whole body: `response.content` reads it in 10 kB chunks,
                # which costs ~1 µs of CPU per record on 1000-record pages. The connection
                # goes back to the pool once the body is read.
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
                raise self.core.transport_error(call, exc) from None
        limiter.observe(generation, response.status_code, what)
        return self.core.read_reply(call, response.status_code, response.headers, content)

    def get(self, path: str, params: Params = None) -> Any:
        """GET ``{api_base}/{path}`` and return its decoded JSON (retries and re-auth included).

        :param path: the path below the API version, e.g. ``database/7616/profiles``.
        :param params: query parameters, a mapping or ``(name, value)`` pairs (Copernica
            repeats ``fields[]``).
        :return: the decoded JSON reply.
        """
        return self._send(self._attempt, path, params)

    def download(
        self,
        path: str,
        params: Params = None,
        *,
        into: IO[bytes],
        complete: Callable[[IO[bytes]], bool] | None = None,
    ) -> int:
        """GET a file (a logfile) into ``into`` in chunks, never whole in memory; same auth
        and retry rules as :meth:`get`.

        :param path: the path below the API version, e.g. ``logfile/{name}/json``.
        :param params: query parameters, as for :meth:`get`.
        :param into: a binary file; a retry rewrites it from the start, so it holds exactly
            one complete reply.
        :param complete: ``complete(into)`` False means a cut-off body, which is retried.
        :return: the bytes written.
        """
        return self._send(self._download_attempt, path, params, into, complete)

    def _send(self, attempt: Callable[..., Any], path: str, params: Params, *args: Any) -> Any:
        what = describe("GET", self.settings, path)
        query = query_pairs(params)
        guard = ReauthGuard(what)
        while True:
            try:
                return retrying(self.settings, what)(attempt, path, query, what, *args)
            except AuthRejected as rejected:
                with self._lock:
                    self.core.reauthorise(guard, rejected)

    def _download_attempt(
        self,
        path: str,
        query: list[tuple[str, str]],
        what: str,
        into: IO[bytes],
        complete: Callable[[IO[bytes]], bool] | None,
    ) -> int:
        import requests
        import urllib3

        call = self.core.api_call(path, query, what, self._bearer())
        self._count("api_calls")
        into.seek(0)
        into.truncate()
        try:
            with (
                self.limiter.slot(),
                self._borrowed() as session,
                session.get(
                    call.url,
                    params=call.params,
                    headers=call.headers,
                    timeout=self.settings.timeout,
                    stream=True,
                ) as response,
            ):
                if response.status_code != 200:  # an error reply is small: read it whole
                    content = response.raw.read(decode_content=True)
                    return self.core.read_reply(
                        call, response.status_code, response.headers, content
                    )
                for chunk in response.iter_content(DOWNLOAD_CHUNK):
                    into.write(chunk)
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.HTTPError,  # cut-off body, read timeout, bad encoding
        ) as exc:
            raise self.core.transport_error(call, exc) from None
        self.core.read_download(call, response.status_code)
        size = into.tell()
        if complete is not None and not complete(into):
            raise TransientError("cut-off or invalid body")
        return size

    # -- connection test

    def test_connection(self) -> tuple[bool, str]:
        """Call ``identity``: what the Airflow UI's Test button shows.

        :return: ``(True, "Connected to account <name> (<company>)")``, or ``(False, reason)``
            with no secret in it.
        """
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
    """The hook's rules (settings, JWT cache, retries) over ``httpx.AsyncClient``: what the
    trigger uses in the triggerer's event loop.

    :param copernica_conn_id: the Airflow connection of type ``copernica`` (default
        ``copernica_default``).
    :param settings: already validated settings, used instead of reading the connection.
    """

    def __init__(
        self,
        copernica_conn_id: str = CopernicaHook.default_conn_name,
        *,
        settings: CopernicaSettings | None = None,
    ) -> None:
        self.copernica_conn_id = copernica_conn_id
        self._settings = settings
        self._client: httpx.AsyncClient | None = None
        self._core: RequestCore | None = None
        self._lock: asyncio.Lock | None = None
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

    async def _get_core(self) -> RequestCore:
        settings = await self.get_settings()
        if self._core is None:  # no await between the check and the set: one core per hook
            self._core = RequestCore(settings)
        return self._core

    def _jwt_lock(self) -> asyncio.Lock:
        if self._lock is None:  # created on the running loop
            self._lock = asyncio.Lock()
        return self._lock

    def _http(self, settings: CopernicaSettings) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                timeout=settings.timeout,
                limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE),
                headers=HEADERS,
            )
        return self._client

    async def _exchange_once(self, core: RequestCore) -> str:
        import httpx

        call = core.exchange_call()
        self.auth_calls += 1
        try:
            response = await self._http(core.settings).post(call.url, data=call.data)
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise core.transport_error(call, exc) from None
        return core.read_exchange(call, response.status_code, response.headers, response.text)

    async def _bearer(self, core: RequestCore) -> str:
        async with self._jwt_lock():
            token = core.fresh_token()
            if token is None:
                retry = async_retrying(core.settings, core.exchange_what)
                fresh: str = await retry(self._exchange_once, core)
                await amask_secrets(fresh)
                core.keep_jwt(fresh)
                return fresh
            return token

    async def _attempt(
        self, core: RequestCore, path: str, query: list[tuple[str, str]], what: str
    ) -> Any:
        import httpx

        call = core.api_call(path, query, what, await self._bearer(core))
        self.api_calls += 1
        try:
            response = await self._http(core.settings).get(
                call.url, params=tuple(call.params), headers=call.headers
            )
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise core.transport_error(call, exc) from None
        return core.read_reply(call, response.status_code, response.headers, response.content)

    async def get(self, path: str, params: Params = None) -> Any:
        """GET ``{api_base}/{path}`` and return its decoded JSON (retries and re-auth included).

        :param path: the path below the API version, e.g. ``database/7616/profiles``.
        :param params: query parameters, a mapping or ``(name, value)`` pairs.
        :return: the decoded JSON reply.
        """
        core = await self._get_core()
        what = describe("GET", core.settings, path)
        query = query_pairs(params)
        guard = ReauthGuard(what)
        while True:
            try:
                return await async_retrying(core.settings, what)(
                    self._attempt, core, path, query, what
                )
            except AuthRejected as rejected:
                async with self._jwt_lock():
                    core.reauthorise(guard, rejected)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
