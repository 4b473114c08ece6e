"""The sandbox HTTP server: Copernica REST v4 on 127.0.0.1 over :class:`SandboxData`.

Stdlib ``ThreadingHTTPServer`` with HTTP/1.1 keep-alive, one ``sendall`` per response and
orjson bodies; the requests are answered by :class:`~.app.SandboxApp`. Routes: ``POST
/authenticate`` (access token -> JWT), ``GET /authorize`` (OAuth consent: auto-approved, or
refused with ``error=access_denied`` while ``consent_refused`` is set), ``GET /v4/token``
(code -> access token), ``GET /v4/...`` (data, Bearer JWT required) and the admin endpoints
under ``/_sandbox/``. ``copernica sandbox`` runs it (:func:`sandbox_command`).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import threading
from collections import deque
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from airflow_provider_copernica.sandbox.admin import RequestRecord, Stats
from airflow_provider_copernica.sandbox.app import SandboxApp
from airflow_provider_copernica.sandbox.auth import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
)
from airflow_provider_copernica.sandbox.data import SandboxData
from airflow_provider_copernica.sandbox.faults import Faults
from airflow_provider_copernica.sandbox.protocol import error

__all__ = [
    "SANDBOX_ACCESS_TOKEN",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SandboxServer",
    "sandbox_command",
]
_STATUS_TEXT = {
    200: "OK",
    500: "Internal Server Error",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        app = self.server.app
        try:
            response = app.handle(self.command, self.path, headers, body)
        except Exception as exc:  # a sandbox bug must surface as a 500, not a hung client
            response = error(500, f"sandbox error: {type(exc).__name__}: {exc}")
        if response.status == 0:  # reset fault: drop the connection, answer nothing
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        app.stats.statuses[response.status] += 1
        lines = [
            f"HTTP/1.1 {response.status} {_STATUS_TEXT.get(response.status, 'Error')}",
            f"Content-Type: {response.content_type}; charset=utf-8",
            f"Content-Length: {len(response.body)}",
        ]
        lines += [f"{k}: {v}" for k, v in response.headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + response.body)
        if response.after is not None:
            response.after()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    app: SandboxApp


class SandboxServer:
    """A local Copernica REST v4 server with seeded data, ground truth and faults.

    ``SandboxServer(port=0, profiles=3000, seed=7, anchor=None, faults=None, events=None)``;
    port 0 picks a free port; ``host`` is 127.0.0.1 unless a container needs ``0.0.0.0``; ``events=N`` scales the clicks to about N per
    product and ``emailings=N`` gives N emailings per product over three years (see
    :class:`SandboxData`). Use ``start()``/``stop()`` or ``with SandboxServer() as server:``.
    """

    def __init__(
        self,
        port: int = 0,
        profiles: int = 3000,
        seed: int = 7,
        anchor: date | str | None = None,
        faults: list[str] | tuple[str, ...] | None = None,
        events: int | None = None,
        host: str = "127.0.0.1",
        emailings: int | None = None,
    ) -> None:
        if isinstance(anchor, str):
            anchor = date.fromisoformat(anchor)
        self.host = host
        self.port = port
        self.data = SandboxData(
            profiles=profiles, seed=seed, anchor=anchor, events=events, emailings=emailings
        )
        self.faults = Faults(
            on_data_after=self.data.hide_recent, on_modified_field=self.data.set_modified_field
        )
        self.app = SandboxApp(self.data, self.faults)
        self._initial_faults = list(faults or [])
        self.faults.set(*self._initial_faults)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        # A wildcard bind (inside a container) is still reached locally through loopback.
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self._server.server_address[1]}"

    @property
    def requests(self) -> deque[RequestRecord]:
        return self.app.requests

    @property
    def stats(self) -> Stats:
        return self.app.stats

    def start(self) -> SandboxServer:
        server = _Server((self.host, self.port), _Handler)
        server.app = self.app
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def register_token(self, token: str) -> None:
        """Accept another access token at ``/authenticate`` (until the next reset)."""
        self.app.register_token(token)

    def reset(self) -> None:
        """Faults off, data mutations undone, extra tokens, stats and request log cleared."""
        self.app.reset()

    def connection_extra(self) -> dict[str, Any]:
        """The ``extra`` of an Airflow connection pointing at this sandbox."""
        return {
            "auth_url": f"{self.url}/authenticate",
            "authorize_url": f"{self.url}/authorize",
            "client_id": SANDBOX_CLIENT_ID,
            "client_secret": SANDBOX_CLIENT_SECRET,
            "timezone": "Europe/Amsterdam",
        }

    def connection(self, token: str = SANDBOX_ACCESS_TOKEN, **extra: Any) -> dict[str, Any]:
        """An Airflow connection (JSON form) for this sandbox."""
        return {
            "conn_type": "copernica",
            "host": self.url,
            "password": token,
            "extra": self.connection_extra() | extra,
        }

    def iter_requests(self, path_prefix: str = "") -> Iterator[RequestRecord]:
        return (r for r in list(self.requests) if r.path.startswith(path_prefix))


def sandbox_command(args: argparse.Namespace) -> int:
    """``copernica sandbox``: serve until SIGINT/SIGTERM."""
    kwargs: dict[str, Any] = {
        "port": args.port,
        "host": getattr(args, "host", "127.0.0.1"),
        "faults": list(args.faults or []),
    }
    if args.profiles is not None:
        kwargs["profiles"] = args.profiles
    if args.seed is not None:
        kwargs["seed"] = args.seed
    if getattr(args, "anchor", None):
        kwargs["anchor"] = args.anchor
    if getattr(args, "events", None) is not None:
        kwargs["events"] = args.events
    try:
        server = SandboxServer(**kwargs).start()
    except (ValueError, OSError) as exc:
        print(f"copernica sandbox: {exc}")
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"Copernica sandbox listening on {server.url}", flush=True)
    print(
        f"data: {server.data.profile_count} profiles, seed {server.data.seed}, "
        f"anchor {server.data.anchor}; faults: {', '.join(server.faults.active()) or 'none'}"
    )
    print(
        "AIRFLOW_CONN_COPERNICA_DEFAULT='" + orjson.dumps(server.connection()).decode() + "'",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        print("sandbox stopped", flush=True)
    return 0
