"""Make the Airflow 3 UI's connection form and Test button work for Copernica connections.

Airflow 3.3.2's UI sends two things a Copernica connection cannot live with:

* **Test Connection** posts ``"port": Number(stored_port)``, which is ``0`` for the hidden,
  unused port (stored as null). The API then refuses with 400 "The host or port to test
  differs from the stored connection". Copernica does not use the port, so it is dropped.
* **Save** writes every extra field of the form into ``extra``, the untouched ones as
  ``null``. Only the values the user typed are kept; the rest keeps meaning "the default".

:class:`CopernicaConnectionFormMiddleware` rewrites exactly those request bodies (connection
create, update and test, for ``conn_type == "copernica"`` only) before Airflow reads them.
The :class:`CopernicaConnectionFormPlugin` (entry point ``airflow.plugins``) installs it in the
api-server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_copernica import CONN_TYPE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# POST /api/v2/connections, POST /api/v2/connections/test, PATCH /api/v2/connections/{id}
_CONNECTIONS_PATH = re.compile(r"/api/v2/connections(?:/(?P<conn_id>[^/]+))?/?$")


def _is_connection_write(method: str, path: str) -> bool:
    match = _CONNECTIONS_PATH.search(path)
    if match is None:
        return False
    conn_id = match["conn_id"]
    if method == "POST":
        return conn_id in (None, "test")
    return method == "PATCH" and conn_id is not None and conn_id != "test"


def clean_connection_body(body: Any) -> dict[str, Any] | None:
    """The Copernica connection ``body`` without the UI's filler, or None to leave it as is.

    Drops an empty or zero ``port`` and the ``extra`` keys whose value is null or empty.
    """
    if not isinstance(body, dict) or body.get("conn_type") != CONN_TYPE:
        return None
    cleaned = dict(body)
    if "port" in cleaned and cleaned["port"] in (None, 0, ""):
        del cleaned["port"]
    extra = cleaned.get("extra")
    if isinstance(extra, str) and extra.strip():
        try:
            parsed = json.loads(extra)
        except ValueError:
            parsed = None  # Airflow answers invalid JSON itself
        if isinstance(parsed, dict):
            typed = {key: value for key, value in parsed.items() if value not in (None, "")}
            if typed != parsed:
                cleaned["extra"] = json.dumps(typed)
    return cleaned if cleaned != body else None


class CopernicaConnectionFormMiddleware:
    """ASGI middleware applying :func:`clean_connection_body` to connection writes and tests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_connection_write(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        body = b"".join(chunks)
        try:
            cleaned = clean_connection_body(json.loads(body))
        except ValueError:
            cleaned = None
        if cleaned is not None:
            body = json.dumps(cleaned).encode()
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class CopernicaConnectionFormPlugin(AirflowPlugin):
    """Installs :class:`CopernicaConnectionFormMiddleware` in the Airflow api-server."""

    name = "copernica_connection_form"
    fastapi_root_middlewares = [  # noqa: RUF012 (Airflow reads this class attribute)
        {"middleware": CopernicaConnectionFormMiddleware, "name": "Copernica connection form"}
    ]
