"""The plugin's FastAPI app, mounted by the Airflow API server at ``/copernica``.

``GET /``            the Copernica page (shown in the Airflow UI's nav as "Copernica")
``POST /authorize``  start a handshake for one connection: off to Copernica's consent page
``GET /callback``    Copernica's redirect back: verify, exchange the code, store the token

The user is whoever Airflow's own API knows (the UI's ``_token`` cookie or a Bearer token),
and the auth manager decides, as for Airflow's connection endpoints: ``GET`` to see the page,
``PUT`` (existing connection) or ``POST`` (new one) to start or complete a handshake. The
handshake itself (state, consent URL, code exchange, storing the token) is
:mod:`airflow_provider_copernica.client.oauth`, shared with ``copernica authorize``.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from airflow_provider_copernica import CONN_TYPE
from airflow_provider_copernica.client import oauth
from airflow_provider_copernica.client.masking import scrub
from airflow_provider_copernica.client.settings import CopernicaSettings
from airflow_provider_copernica.exceptions import CopernicaError
from airflow_provider_copernica.plugins import pages
from airflow_provider_copernica.plugins.session import (
    PENDING_COOKIE,
    PENDING_MAX_AGE,
    RESULT_COOKIE,
    RESULT_MAX_AGE,
    Outcome,
    PendingHandshake,
    UsedOnce,
    open_outcome,
    open_pending,
    seal_outcome,
    seal_pending,
)

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser

log = logging.getLogger(__name__)

URL_PREFIX = "/copernica"
CONFIG_SECTION = "copernica"
CONN_ID = re.compile(r"[A-Za-z0-9_.\-]{1,250}")
# Fields the browser must never choose: they come from the connection or [copernica].
SERVER_SIDE_FIELDS = ("client_id", "client_secret", "redirect_uri", "authorize_url", "host")
CHECK_TIMEOUT = 10.0  # seconds for one connection's account check on the page

used = UsedOnce()


async def current_user(request: Request) -> BaseUser:
    """The logged-in Airflow user, exactly as Airflow's own API resolves it."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.security import HTTPAuthorizationCredentials

    credentials = None
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value:
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=value)
    return await get_user(request, None, credentials)


UserDep = Annotated[Any, Depends(current_user)]


# --------------------------------------------------------------------------- helpers


def _conf(key: str) -> str | None:
    from airflow.configuration import conf

    return conf.get(CONFIG_SECTION, key, fallback=None) or None


def _secret_key() -> str:
    from airflow.configuration import conf

    return conf.get("api", "secret_key")


def _own_base(request: Request) -> str:
    """This API server's public address: ``[api] base_url``, else the request's origin."""
    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback=None)
    if base:
        return base.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


def callback_url(request: Request) -> str:
    """The only redirect_uri this API server hands to Copernica."""
    return f"{_own_base(request)}{URL_PREFIX}/callback"


def _ui_url(request: Request) -> str:
    return f"{_own_base(request)}{URL_PREFIX}/"


def _mask(*values: str | None) -> None:
    """Register values with both secret maskers of the API server process: the core one
    (which also redacts the API server's access log) and the Task SDK's (used by the hook)."""
    from airflow._shared.secrets_masker import mask_secret

    from airflow_provider_copernica.client.masking import mask_secrets

    for value in values:
        if value:
            mask_secret(value)
    mask_secrets(*values)


def _may(user: BaseUser, method: str, conn_id: str | None) -> bool:
    """Airflow's connection-endpoint check: the auth manager's ``is_authorized_connection``."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails
    from airflow.configuration import conf
    from airflow.models import Connection

    team = None
    if conn_id and method != "POST" and conf.getboolean("core", "multi_team", fallback=False):
        team = Connection.get_team_name(conn_id)
    return get_auth_manager().is_authorized_connection(
        method=method,  # type: ignore[arg-type]
        details=ConnectionDetails(conn_id=conn_id, team_name=team),
        user=user,
    )


def _find_connection(conn_id: str) -> Any | None:
    from airflow.models import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        conn = session.scalars(select(Connection).where(Connection.conn_id == conn_id)).first()
        if conn is not None:
            session.expunge(conn)
        return conn


def _copernica_connections() -> list[Any]:
    from airflow.models import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        found = list(
            session.scalars(
                select(Connection)
                .where(Connection.conn_type == CONN_TYPE)
                .order_by(Connection.conn_id)
            )
        )
        for conn in found:
            session.expunge(conn)
        return found


@dataclasses.dataclass(frozen=True)
class Target:
    """The connection a handshake is for, its settings and the app's credentials."""

    conn_id: str
    exists: bool
    settings: CopernicaSettings
    client_id: str
    client_secret: str
    new_extra: dict[str, str]  # extras of a connection created by the callback

    @property
    def method(self) -> str:
        return "PUT" if self.exists else "POST"


class Refused(Exception):
    """A handshake step refused, with the message shown to the user (never a secret)."""


def resolve_target(conn_id: str, own_callback: str) -> Target:
    """Settings and app credentials for ``conn_id``: its extras first, then ``[copernica]``."""
    if not CONN_ID.fullmatch(conn_id or ""):
        raise Refused(f"{conn_id!r} is not a valid connection id (letters, digits, '_', '.', '-').")
    conn = _find_connection(conn_id)
    new_extra: dict[str, str] = {}
    try:
        if conn is not None:
            if conn.conn_type != CONN_TYPE:
                raise Refused(
                    f"Connection {conn_id!r} is a {conn.conn_type!r} connection, not {CONN_TYPE}."
                )
            extra = conn.extra_dejson
            if not extra.get("authorize_url") and _conf("authorize_url"):
                extra["authorize_url"] = _conf("authorize_url")  # the app's, not stored
            settings = CopernicaSettings.from_fields(
                host=conn.host, password=conn.password, extra=extra, require_token=False
            )
        else:
            new_extra = {k: v for k in ("auth_url", "authorize_url") if (v := _conf(k))}
            settings = CopernicaSettings.from_fields(
                host=_conf("host"), password=None, extra=new_extra, require_token=False
            )
    except CopernicaError as exc:
        raise Refused(f"Connection {conn_id!r}: {exc}") from None
    client_id = settings.client_id or _conf("client_id")
    client_secret = settings.client_secret or _conf("client_secret")
    if not client_id or not client_secret:
        raise Refused(
            "The Copernica app's client id and client secret are not configured: set "
            f"client_id and client_secret in connection {conn_id!r}'s extras, or in the "
            "[copernica] section of the Airflow configuration."
        )
    _mask(client_secret)
    redirect_uri = settings.redirect_uri or _conf("redirect_uri")
    if redirect_uri and redirect_uri.rstrip("/") != own_callback:
        raise Refused(
            f"The configured redirect_uri {redirect_uri!r} is not this API server's callback "
            f"{own_callback!r}; register {own_callback!r} with the Copernica app and use it "
            "(or leave redirect_uri empty)."
        )
    return Target(conn_id, conn is not None, settings, client_id, client_secret, new_extra)


def _check_account(settings: CopernicaSettings) -> tuple[bool, str]:
    """``identity`` with the connection's token: the account name, or why the token fails."""
    from airflow_provider_copernica.hooks.copernica import CopernicaHook

    if not settings.access_token:
        return False, "No access token yet: authorize it."
    quick = dataclasses.replace(
        settings, max_retries=0, timeout=min(settings.timeout, CHECK_TIMEOUT)
    )
    with CopernicaHook(settings=quick) as hook:
        return hook.test_connection()


def _row(conn: Any) -> pages.ConnectionRow:
    try:
        settings = CopernicaSettings.from_fields(
            host=conn.host, password=conn.password, extra=conn.extra, require_token=False
        )
    except CopernicaError as exc:
        return pages.ConnectionRow(conn.conn_id, conn.host or "", False, str(exc))
    works, status = _check_account(settings)
    if not works:
        status = f"Token does not work: {status}"
    return pages.ConnectionRow(conn.conn_id, settings.host, works, status)


def _with_outcome(request: Request, outcome: Outcome) -> RedirectResponse:
    """Back to the Copernica page in the Airflow UI, which shows ``outcome`` once."""
    response = RedirectResponse(_ui_url(request), status_code=303)
    _cookie(response, request, RESULT_COOKIE, seal_outcome(_secret_key(), outcome), RESULT_MAX_AGE)
    response.delete_cookie(PENDING_COOKIE, path=URL_PREFIX)
    return response


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=URL_PREFIX,
        httponly=True,
        samesite="lax",
        secure=_own_base(request).startswith("https://"),
    )


# --------------------------------------------------------------------------- the app


app = FastAPI(title="Copernica authorization", docs_url=None, redoc_url=None, openapi_url=None)


@app.middleware("http")
async def _page_headers(request: Request, call_next: Any) -> Response:
    response = await call_next(request)
    # No framing (the Authorize button must not be clickjacked), no caching, and no Referer
    # to other sites: the callback's URL carries the code. ("no-referrer" would also turn the
    # form's Origin header into "null", which the Origin check refuses.)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    )
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


@app.get("/", response_class=HTMLResponse)
def copernica_page(request: Request, user: UserDep) -> Response:
    """The connections, their accounts and an Authorize button (the nav entry's page)."""
    outcome = open_outcome(_secret_key(), request.cookies.get(RESULT_COOKIE))
    if not _may(user, "GET", None):
        body = pages.message_page(
            "Copernica",
            (f"{outcome.message} " if outcome else "") + "You are not allowed to view connections.",
            _ui_url(request),
        )
        response: Response = HTMLResponse(body, status_code=403)
    else:
        conns = _copernica_connections()
        with ThreadPoolExecutor(max_workers=4) as pool:
            rows = list(pool.map(_row, conns))
        can_edit = _may(user, "PUT", None) or _may(user, "POST", None)
        response = HTMLResponse(
            pages.connections_page(
                rows, outcome, f"{URL_PREFIX}/authorize", can_edit, f"{_own_base(request)}/"
            )
        )
    if outcome is not None:
        response.delete_cookie(RESULT_COOKIE, path=URL_PREFIX)
    return response


@app.post("/authorize")
async def start_authorization(request: Request, user: UserDep) -> Response:
    """Send the browser to Copernica's consent page for one connection."""
    form = await request.form()
    # The checks read the metadata DB and may ask a remote auth manager: off the event loop.
    return await run_in_threadpool(_start, request, user, set(form), str(form.get("conn_id") or ""))


def _start(request: Request, user: BaseUser, fields: set[str], conn_id: str) -> Response:
    conn_id = conn_id.strip()
    if not (_may(user, "POST", None) or _may(user, "PUT", conn_id or None)):
        return _refusal_page(request, "You are not allowed to edit connections.", 403)
    origin = request.headers.get("origin")
    if origin and origin.rstrip("/") != _origin(_own_base(request)):
        return _refusal_page(request, "This form was sent from another site; refused.", 403)
    chosen = [name for name in SERVER_SIDE_FIELDS if name in fields]
    if chosen:
        return _refusal_page(
            request,
            f"{', '.join(chosen)} cannot be chosen by the browser: they come from the "
            "connection or the [copernica] configuration; refused.",
            400,
        )
    own_callback = callback_url(request)
    try:
        target = resolve_target(conn_id, own_callback)
    except Refused as exc:
        return _with_outcome(request, Outcome(False, str(exc)))
    if not _may(user, target.method, conn_id):
        log.warning("Copernica authorization refused: %s may not edit %s", user.get_name(), conn_id)
        return _refusal_page(request, f"You are not allowed to edit connection {conn_id!r}.", 403)
    state = oauth.new_state()
    pending = PendingHandshake(state, conn_id, user.get_id(), own_callback)
    consent = oauth.build_authorize_url(
        target.settings.authorize_url, target.client_id, own_callback, state
    )
    log.info("Copernica authorization started for connection %s by %s", conn_id, user.get_name())
    response = RedirectResponse(consent, status_code=303)
    _cookie(
        response, request, PENDING_COOKIE, seal_pending(_secret_key(), pending), PENDING_MAX_AGE
    )
    return response


@app.get("/callback")
async def authorization_callback(request: Request) -> Response:
    """Copernica's redirect back; every answer is a redirect to the Copernica page."""
    query = request.query_params
    code, state = query.get("code"), query.get("state")
    # Before anything can log it, this request's access-log line included; hence the user is
    # resolved here rather than by a dependency, which would run (and may refuse) first.
    _mask(code)
    user = await current_user(request)
    pending = open_pending(_secret_key(), request.cookies.get(PENDING_COOKIE))
    try:
        outcome = await run_in_threadpool(_finish, request, user, pending, state, code)
    except Refused as exc:
        outcome = Outcome(False, f"Authorization refused: {exc}")
    conn_id = pending.conn_id if pending else "?"
    log.info(
        "Copernica authorization callback for %s by %s: %s",
        conn_id,
        user.get_name(),
        outcome.message,
    )
    return _with_outcome(request, outcome)


def _finish(
    request: Request,
    user: BaseUser,
    pending: PendingHandshake | None,
    state: str | None,
    code: str | None,
) -> Outcome:
    if pending is None:
        raise Refused(
            "no authorization is in progress in this browser (it expired, was already "
            "completed, or was started elsewhere). Click Authorize to start again."
        )
    if not oauth.states_match(pending.state, state):
        raise Refused("the answer's state does not match the one this browser was given.")
    if pending.user_id != user.get_id():
        raise Refused("the authorization was started by another Airflow user.")
    own_callback = callback_url(request)
    if pending.redirect_uri != own_callback:
        raise Refused(f"the redirect_uri is not this API server's callback {own_callback!r}.")
    target = resolve_target(pending.conn_id, own_callback)
    if not _may(user, target.method, pending.conn_id):
        raise Refused(f"you are not allowed to edit connection {pending.conn_id!r}.")
    if error := query_error(request):
        raise Refused(error)
    if not code:
        raise Refused("Copernica's answer carried no authorization code.")
    if not used.claim(pending.state, code):
        raise Refused("this authorization answer was already used.")
    secrets = [target.client_secret, code]
    try:
        token = oauth.exchange_code(
            target.settings,
            client_id=target.client_id,
            client_secret=target.client_secret,
            redirect_uri=pending.redirect_uri,
            code=code,
        )
    except CopernicaError as exc:
        raise Refused(scrub(str(exc), secrets)) from None
    _mask(token)
    try:
        action = oauth.store_access_token(
            pending.conn_id, token, host=target.settings.host, extra=target.new_extra
        )
    except Exception as exc:  # the metadata DB: explain without echoing anything
        log.error("Could not store connection %s: %s", pending.conn_id, type(exc).__name__)
        raise Refused(
            f"Copernica granted access, but connection {pending.conn_id!r} could not be "
            f"stored ({type(exc).__name__})."
        ) from None
    works, account = _check_account(dataclasses.replace(target.settings, access_token=token))
    if not works:
        return Outcome(
            False,
            f"Connection {pending.conn_id!r} {action} with a new access token, but the "
            f"account check failed: {scrub(account, [*secrets, token])}",
        )
    return Outcome(True, f"{account}. Connection {pending.conn_id!r} {action}.")


def query_error(request: Request) -> str | None:
    """Copernica's ``error=`` answer in plain words (None if it granted access)."""
    error = request.query_params.get("error")
    if error is None:
        return None
    if error == "access_denied":
        return "access was refused on Copernica's consent page; nothing was stored."
    words = re.sub(r"[^A-Za-z0-9 _.,:;'()-]", "", request.query_params.get("error_description", ""))
    return f"Copernica answered {error[:64]!r}{': ' + words[:200] if words else ''}; nothing was stored."


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _refusal_page(request: Request, message: str, status: int) -> HTMLResponse:
    return HTMLResponse(
        pages.message_page("Copernica authorization refused", message, _ui_url(request)),
        status_code=status,
    )
