"""The OAuth authorization-code handshake, shared by ``copernica authorize`` (CLI) and the
Airflow UI plugin: a long random ``state``, its constant-time check, the consent-page URL,
trading the code for an access token, and storing that token in an Airflow connection.

Where the callback arrives (a one-shot server on 127.0.0.1, or the API server) is the
caller's business; nothing here listens or prints.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode, urlsplit

import requests

from airflow_provider_copernica.client.masking import mask_secrets, redacted_http_logs, scrub
from airflow_provider_copernica.client.settings import CopernicaSettings
from airflow_provider_copernica.exceptions import CopernicaAPIError, CopernicaAuthError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

STATE_BYTES = 32  # token_urlsafe(32): 43 characters, 256 bits


def new_state() -> str:
    """A fresh, unguessable ``state`` for one handshake (bind it to the user's session)."""
    return secrets.token_urlsafe(STATE_BYTES)


def states_match(expected: str | None, received: str | None) -> bool:
    """Constant-time comparison of the ``state`` sent with the one the callback carried."""
    if not expected or not received:
        return False
    return hmac.compare_digest(expected.encode(), received.encode())


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


def store_access_token(
    conn_id: str,
    token: str,
    *,
    host: str | None = None,
    extra: Mapping[str, Any] | None = None,
    session: Session | None = None,
) -> Literal["created", "updated"]:
    """Put ``token`` into connection ``conn_id`` in Airflow's metadata DB.

    An existing connection gets its password replaced and nothing else; a missing one is
    created (type ``copernica``, with ``host`` and ``extra`` as given). Pass ``session`` when
    the caller already holds one (the API server's request session, which commits it); without
    it the write runs in its own transaction against the configured ``AIRFLOW_HOME``.

    The Task SDK has no write path for connections, so this goes through the ``Connection``
    model, as Airflow's own ``airflow connections`` commands and REST API do (it encrypts the
    password with the Fernet key). See docs/ARCHITECTURE.md, "Server-side code".
    """
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    mask_secrets(token)

    def write(db: Session) -> Literal["created", "updated"]:
        conn = db.scalars(select(Connection).where(Connection.conn_id == conn_id)).one_or_none()
        if conn is not None:
            conn.password = token
            return "updated"
        db.add(
            Connection(
                conn_id=conn_id,
                conn_type="copernica",
                host=host,
                password=token,
                extra=json.dumps(dict(extra)) if extra else None,
            )
        )
        return "created"

    if session is not None:
        action = write(session)
        session.flush()
        return action
    with create_session() as own:
        return write(own)
