"""What each ``copernica`` subcommand does (``cli.py`` only parses arguments).

Every ``*_command(args)`` takes the parsed :class:`argparse.Namespace`, prints its result and
returns an exit code: 0 done, 1 failed, 2 bad input. Airflow and the hook are imported inside
the commands, so ``copernica --help`` stays fast.

Outside a task there is no supervisor to ask for connections, so the commands look them up
the way Airflow's own ``airflow connections get`` does: environment variables, the configured
secrets backends, then the metadata DB of ``AIRFLOW_HOME`` (:func:`with_airflow_connections`).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import parse_qs, urlsplit

from airflow_provider_copernica.catalog import describe as catalog
from airflow_provider_copernica.catalog.datasets import (
    DATASETS,
    Dataset,
    get_dataset,
    validate_options,
)
from airflow_provider_copernica.client.masking import mask_secrets, scrub
from airflow_provider_copernica.client.oauth import (
    build_authorize_url,
    exchange_code,
    new_state,
    states_match,
    store_access_token,
)
from airflow_provider_copernica.client.settings import CopernicaSettings
from airflow_provider_copernica.engine.preview import format_table, preview_rows
from airflow_provider_copernica.exceptions import (
    CopernicaConfigError,
    CopernicaError,
    OAuthCallbackError,
)

if TYPE_CHECKING:
    from airflow_provider_copernica.catalog.schema import Column
    from airflow_provider_copernica.hooks.copernica import CopernicaHook

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
DEFAULT_CALLBACK_PORT = 8765
CALLBACK_HOST = "127.0.0.1"
_CONTEXT = "_AIRFLOW_PROCESS_CONTEXT"


# --------------------------------------------------------------------------- connections


def with_airflow_connections(command: Callable[..., int]) -> Callable[..., int]:
    """Run ``command`` looking connections up where Airflow keeps them: env vars, secrets
    backends, then the metadata DB.

    The Task SDK picks its secrets chain by process context; a plain process gets env vars and
    custom backends only, never the metadata DB. Airflow's own ``airflow connections get/test``
    declare the process a server (``_AIRFLOW_PROCESS_CONTEXT=server``); the commands do the
    same while they run (unless a context is already set).
    """

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> int:
        if os.environ.get(_CONTEXT):
            return command(*args, **kwargs)
        os.environ[_CONTEXT] = "server"
        try:
            return command(*args, **kwargs)
        finally:
            os.environ.pop(_CONTEXT, None)

    return run


def _hook(conn_id: str) -> CopernicaHook:
    from airflow_provider_copernica.hooks.copernica import CopernicaHook

    return CopernicaHook(conn_id)


def _existing_connection(conn_id: str) -> Any | None:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def _fail(message: str, code: int, err: TextIO) -> int:
    print(f"copernica: error: {message}", file=err)
    return code


def _run(work: Callable[[], int], err: TextIO) -> int:
    try:
        return work()
    except CopernicaConfigError as exc:
        return _fail(str(exc), EXIT_USAGE, err)
    except CopernicaError as exc:
        return _fail(str(exc), EXIT_ERROR, err)
    except Exception as exc:  # e.g. the Airflow connection does not exist: no traceback
        return _fail(f"{type(exc).__name__}: {exc}", EXIT_ERROR, err)


def _options(pairs: list[tuple[str, str]] | None) -> dict[str, str]:
    options: dict[str, str] = {}
    for key, value in pairs or []:
        if key in options:
            raise CopernicaConfigError(f"--option {key} is given twice")
        options[key] = value
    return options


# --------------------------------------------------------------------------- test-connection


@with_airflow_connections
def test_connection_command(args: argparse.Namespace) -> int:
    """``copernica test-connection``: call ``identity``; print the account, exit 0 or 1."""
    hook = _hook(args.conn_id)
    try:
        ok, message = hook.test_connection()
    finally:
        hook.close()
    print(message)
    return EXIT_OK if ok else EXIT_ERROR


test_connection_command.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


# --------------------------------------------------------------------------- datasets


def _columns(entry: Dataset, options: Mapping[str, Any], conn_id: str) -> list[Column]:
    """The dataset's columns for these options (a log type's, an endpoint's): from the
    catalog, plus (one call) a database's own fields, or an endpoint's first page."""
    shaped = entry.configured(options)
    if shaped.discovery is None and not shaped.infer_columns:
        return list(shaped.columns_for(options.get("product"), options))  # no connection needed
    from airflow_provider_copernica.engine.extract import available_columns

    return available_columns(_hook(conn_id), entry.name, options)


def _search(term: str, options: Mapping[str, str], conn_id: str) -> list[tuple[str, str]]:
    """``(dataset, matching columns)`` for every dataset with a column containing ``term``.

    Catalog columns of every product are searched; a database's/collection's own fields too
    when its id is given (``--option database_id=N``).
    """
    needle = term.casefold()
    found = []
    discovered: dict[tuple[str, tuple], list[str]] = {}  # one field-list call per database
    for entry in DATASETS.values():
        if isinstance(entry.columns, Mapping):
            names = [c.name for product in entry.columns.values() for c in product]
        else:
            names = [c.name for c in entry.columns]
        if entry.discovery is not None and all(o in options for o in entry.required_options):
            own = validate_options(
                entry, {k: v for k, v in options.items() if k in entry.option_names}
            )
            key = (entry.discovery.path, tuple(sorted(own.items())))
            if key not in discovered:
                discovered[key] = [c.name for c in _columns(entry, own, conn_id)]
            names += discovered[key]
        hits = [n for n in dict.fromkeys(names) if needle in n.casefold()]
        if hits:
            found.append((entry.name, ", ".join(hits)))
    return found


@with_airflow_connections
def datasets_command(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """``copernica datasets [NAME] [--option K=V] [--search TERM]``."""
    out, err = out or sys.stdout, err or sys.stderr

    def work() -> int:
        options = _options(args.options)
        if args.search is not None:
            if args.dataset:
                raise CopernicaConfigError("give a dataset name or --search, not both")
            hits = _search(args.search, options, args.conn_id)
            if not hits:
                print(f"no dataset has a column matching {args.search!r}", file=out)
                return EXIT_ERROR
            print(format_table(("dataset", "matching columns"), hits), file=out)
            return EXIT_OK
        if getattr(args, "markdown", False):
            print(catalog.markdown_table(), file=out)
            return EXIT_OK
        if not args.dataset:
            if options:
                raise CopernicaConfigError("--option needs a dataset name")
            for n, (kind, group) in enumerate(catalog.by_kind()):
                rows = [
                    (d.name, catalog.options_text(d, values=False), d.interval_filter, d.key)
                    for d in group
                ]
                print(("\n" if n else "") + f"{kind}:", file=out)
                header = ("dataset", "options", "interval filter", "key")
                print(format_table(header, rows, wrap=True), file=out)
            return EXIT_OK
        entry = get_dataset(args.dataset)
        valid = validate_options(entry, options)
        columns = _columns(entry, valid, args.conn_id)
        shaped = entry.configured(valid)  # e.g. windowed by modified_in_interval
        print(f"{entry.name}: {shaped.description}", file=out)
        print(f"kind: {entry.kind}; options: {catalog.options_text(entry) or 'none'}", file=out)
        print(f"window: {catalog.window_text(shaped)}; key: {shaped.key}", file=out)
        print(format_table(("column", "type"), [(c.name, c.type) for c in columns]), file=out)
        return EXIT_OK

    return _run(work, err)


# --------------------------------------------------------------------------- preview


@with_airflow_connections
def preview_command(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """``copernica preview DATASET --from .. --to .. [--fields a,b] [--limit N] [--option K=V]``."""
    out, err = out or sys.stdout, err or sys.stderr

    def work() -> int:
        options = _options(args.options)
        fields = args.fields.split(",") if args.fields else None
        get_dataset(args.dataset)  # an unknown name fails before the connection is read
        result = preview_rows(
            _hook(args.conn_id),
            args.dataset,
            options=options,
            fields=fields,
            filters=getattr(args, "filters", None) or None,
            date_from=args.date_from,
            date_to=args.date_to,
            limit=args.limit,
        )
        print("\n".join(result.lines(args.dataset)), file=out)
        return EXIT_OK

    return _run(work, err)


# --------------------------------------------------------------------------- authorize


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
        if not states_match(self.state, query.get("state")):
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


def connection_env_value(token: str, settings: CopernicaSettings, extra: dict) -> str:
    """JSON for ``AIRFLOW_CONN_<ID>`` holding the new token."""
    value: dict[str, Any] = {"conn_type": "copernica", "host": settings.host, "password": token}
    if extra:
        value["extra"] = extra
    return json.dumps(value)


@with_airflow_connections
def authorize_command(args: argparse.Namespace) -> int:
    """``copernica authorize``: run the handshake and store (or print) the access token."""
    client_secret = args.client_secret or os.environ.get("COPERNICA_CLIENT_SECRET")
    if not client_secret:
        print(
            "error: the app's client secret is missing: pass --client-secret or set "
            "COPERNICA_CLIENT_SECRET.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    mask_secrets(client_secret)
    try:
        existing = _existing_connection(args.conn_id)
        settings = CopernicaSettings.from_fields(
            host=getattr(existing, "host", None),
            password=getattr(existing, "password", None),
            extra=getattr(existing, "extra", None),
            require_token=False,
        )
        state = new_state()
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
        return EXIT_ERROR
    extra = dict(getattr(existing, "extra_dejson", None) or {}) if existing else {}
    extra["client_id"] = args.client_id
    extra.pop("client_secret", None)  # only the handshake needs it; do not spread it around
    if args.print_only:
        env_name = "AIRFLOW_CONN_" + args.conn_id.upper()
        print(f"{env_name}={connection_env_value(token, settings, extra)}")
        return EXIT_OK
    try:
        action = store_access_token(args.conn_id, token, host=settings.host, extra=extra)
    except Exception as exc:  # the metadata DB is outside our control: explain, do not leak
        print(
            f"error: could not store connection {args.conn_id!r} in Airflow's metadata DB "
            f"({type(exc).__name__}); run `airflow db migrate` first, or use --print.",
            file=sys.stderr,
        )
        return EXIT_ERROR
    print(f"Connection {args.conn_id!r} {action} with the new access token.")
    if os.environ.get("AIRFLOW_CONN_" + args.conn_id.upper()):
        print(
            f"note: AIRFLOW_CONN_{args.conn_id.upper()} is set in this environment and takes "
            "precedence over the metadata DB.",
            file=sys.stderr,
        )
    return EXIT_OK
