"""The sandbox HTTP server: Copernica REST v4 on 127.0.0.1 over :class:`SandboxData`.

Stdlib ``ThreadingHTTPServer`` with HTTP/1.1 keep-alive, one ``sendall`` per response and
orjson bodies. Routes: ``POST /authenticate`` (access token -> JWT), ``GET /authorize``
(OAuth consent: auto-approved, or refused with ``error=access_denied`` while
``consent_refused`` is set), ``GET /v4/token`` (code -> access token), ``GET /v4/...``
(data, Bearer JWT required) and the admin endpoints under ``/_sandbox/``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import re
import secrets
import signal
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson

from airflow_provider_copernica.sandbox import coverage, snapshots
from airflow_provider_copernica.sandbox.data import (
    ACCOUNT,
    EVENT_KINDS,
    PRODUCT_ALIASES,
    SandboxData,
)
from airflow_provider_copernica.sandbox.faults import Faults
from airflow_provider_copernica.sandbox.logfiles import Logfiles
from airflow_provider_copernica.sandbox.logfiles import routes as logfile_routes
from airflow_provider_copernica.sandbox.tables import Condition, QueryError, Table, select
from airflow_provider_copernica.sandbox.timeutil import DAY, parse_naive

SANDBOX_ACCESS_TOKEN = "sandbox-access-token-6f1d2c9a"
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret-3e8b71"
DEFAULT_JWT_TTL = 24 * 3600.0
INVALID_ACCESS_TOKEN = "Invalid access token"  # the live API's 400 for a bad token
LOADBALANCER_ERROR_PAGE = (
    b"<html><head><title>Loadbalancer Error</title></head><body>"
    b"<h1>Loadbalancer Error</h1><p>There are too many requests to handle at this moment. "
    b"Please try again later.</p></body></html>"
)
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
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


class HTTPError(Exception):
    """An error answer: status and message (sent as ``{"error": {"message": ...}}``)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class RequestRecord:
    """One request as the sandbox saw it (for secret-leak and call-count tests)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: str


@dataclass
class Stats:
    """Counters since start or the last reset."""

    api_calls: int = 0  # /v4 data requests received (what Copernica would bill)
    max_in_flight: int = 0  # the most /v4 data requests being answered at the same time
    jwt_exchanges: int = 0  # POST /authenticate requests
    token_exchanges: int = 0  # GET /v4/token requests
    paths: Counter = field(default_factory=Counter)  # path -> count, every request
    statuses: Counter = field(default_factory=Counter)
    faults_fired: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "api_calls": self.api_calls,
            "max_in_flight": self.max_in_flight,
            "jwt_exchanges": self.jwt_exchanges,
            "token_exchanges": self.token_exchanges,
            "paths": dict(self.paths),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "faults_fired": dict(self.faults_fired),
        }


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    after: Callable[[], None] | None = None  # runs after sending (the churn fault)


# -- query-string helpers ----------------------------------------------------------------


class Query:
    """Parsed query string: single values and the repeated ``fields[]``."""

    def __init__(self, raw: str) -> None:
        self.pairs = parse_qsl(raw, keep_blank_values=True)
        self.values: dict[str, str] = {}
        for key, value in self.pairs:
            self.values.setdefault(key, value)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)

    def conditions(self) -> list[Condition]:
        """The ``fields[]`` conditions the live API recognises; it silently ignores the rest
        (a plain ``fields=``, or a space between field and operator)."""
        parsed = (Condition.parse(v) for k, v in self.pairs if k == "fields[]")
        return [c for c in parsed if c is not None]

    def integer(self, name: str, default: int, low: int = 0) -> int:
        raw = self.values.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise QueryError(f"invalid {name} {raw!r}: expected an integer >= {low}") from None
        if value < low:
            raise QueryError(f"invalid {name} {raw!r}: expected an integer >= {low}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.values.get(name)
        if raw is None:
            return default
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise QueryError(f"invalid {name} {raw!r}: expected true or false")

    def naive(self, name: str, layout: str = "YYYY-MM-DD HH:MM:SS") -> int | None:
        raw = self.values.get(name)
        if raw is None or raw == "":
            return None
        try:
            return parse_naive(raw)
        except ValueError:
            raise QueryError(f"invalid {name} {raw!r}: expected {layout}") from None

    def choice(self, name: str, valid: tuple[str, ...], default: str) -> str:
        raw = (self.values.get(name) or default).lower()
        if raw not in valid:
            raise QueryError(f"invalid {name} {raw!r}; valid values: {', '.join(valid)}")
        return raw

    def paging(self) -> tuple[int, int, bool]:
        start = self.integer("start", 0)
        limit = min(self.integer("limit", DEFAULT_LIMIT, low=1), MAX_LIMIT)
        return start, limit, self.boolean("total", True)


def _dumps(payload: Any) -> bytes:
    return orjson.dumps(payload)


def envelope(items: list[Any], start: int, limit: int, total: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"start": start, "limit": limit, "count": len(items)}
    if total is not None:
        body["total"] = total
    body["data"] = items
    return body


def page_of(sequence: list[Any], query: Query) -> dict[str, Any]:
    start, limit, with_total = query.paging()
    return envelope(
        sequence[start : start + limit], start, limit, len(sequence) if with_total else None
    )


# -- the application ---------------------------------------------------------------------

Route = tuple[re.Pattern[str], Callable[..., Any]]
_PRODUCT = r"(?P<product>draganddrop|ms|html|publisher)"
_EVENT = "(?P<event>" + "|".join(EVENT_KINDS) + ")"


class SandboxApp:
    """Request handling independent of the socket layer: auth, faults, routing."""

    def __init__(self, data: SandboxData, faults: Faults) -> None:
        self.data = data
        self.faults = faults
        self.key = secrets.token_bytes(32)
        self.tokens: dict[str, str] = {}  # sha256(access token) -> label
        self.oauth_codes: dict[str, tuple[str, str]] = {}
        self.consent_refused = False  # the consent page plays "the user clicked Deny"
        self.stats = Stats()
        self.in_flight = 0  # data requests being answered now (latency included)
        self._flight = threading.Lock()
        self.requests: deque[RequestRecord] = deque(maxlen=100_000)
        self.reset_tokens()
        self.logfiles = Logfiles(data)
        self.routes: list[Route] = [
            (re.compile(p), fn)
            for p, fn in (
                (r"identity", self.identity),
                (r"databases", self.databases),
                (r"database/(?P<db>[^/]+)", self.database),
                (r"database/(?P<db>[^/]+)/(?P<what>fields|interests|collections)", self.db_list),
                (r"database/(?P<db>[^/]+)/profiles", self.profiles),
                (r"database/(?P<db>[^/]+)/profileids", self.profile_ids),
                (r"profile/(?P<ident>[^/]+)", self.profile),
                (r"subprofile/(?P<ident>[^/]+)", self.subprofile),
                (r"collection/(?P<coll>[^/]+)", self.collection),
                (r"collection/(?P<coll>[^/]+)/fields", self.collection_fields),
                (r"collection/(?P<coll>[^/]+)/subprofiles", self.subprofiles),
                (r"collection/(?P<coll>[^/]+)/subprofileids", self.subprofile_ids),
                (_PRODUCT + r"/emailings", self.emailings),
                (_PRODUCT + r"/emailing/(?P<mailing>[^/]+)", self.emailing),
                (_PRODUCT + r"/emailing/(?P<mailing>[^/]+)/statistics", self.statistics),
                (_PRODUCT + r"/emailing/(?P<mailing>[^/]+)/" + _EVENT, self.events),
                (_PRODUCT + r"/emailing/(?P<mailing>[^/]+)/destinations", self.destinations),
                (_PRODUCT + r"/destination/(?P<dest>[^/]+)/" + _EVENT, self.events),
                (_PRODUCT + r"/" + _EVENT, self.events),
                (_PRODUCT + r"/destinations", self.destinations),
                (r"consumption", self.consumption),
                *logfile_routes(self.logfiles, lambda message: HTTPError(404, message)),
            )
        ]
        self.routes += [(re.compile(p), fn) for p, fn in coverage.routes(self)]

    # -- tokens ------------------------------------------------------------------------

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def reset_tokens(self) -> None:
        self.tokens = {self._digest(SANDBOX_ACCESS_TOKEN): "sandbox"}
        self.oauth_codes = {}

    def register_token(self, token: str, label: str = "extra") -> None:
        self.tokens[self._digest(token)] = label

    def issue_jwt(self, token: str) -> str:
        import jwt

        now = time.time()
        ttl = self.faults.jwt_ttl if self.faults.jwt_ttl is not None else DEFAULT_JWT_TTL
        payload = {
            "iss": "copernica-sandbox",
            "sub": ACCOUNT["id"],
            "iat": int(now),
            "exp": now + ttl,  # fractional so that jwt_ttl:1 really lasts about a second
            "tid": self._digest(token)[:16],
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

    # -- entry point -------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        parts = urlsplit(target)
        path, query = parts.path, Query(parts.query)
        self.requests.append(
            RequestRecord(method, path, parts.query, dict(headers), body.decode("utf-8", "replace"))
        )
        self.stats.paths[path] += 1
        try:
            if path.startswith("/_sandbox/"):
                return self.admin(method, path, body)
            if path.rstrip("/") == "/authenticate":
                return self.authenticate(method, body, headers)
            if path.rstrip("/") == "/authorize":
                return self.authorize(method, query)
            if path.rstrip("/") == "/v4/token":
                return self.token(method, query)
            if path.startswith("/v4/"):
                return self.data_request(method, path[4:].strip("/"), query, headers)
            raise HTTPError(404, f"no such path {path}")
        except HTTPError as exc:
            return self.error(exc.status, exc.message, exc.headers)
        except QueryError as exc:
            return self.error(400, str(exc))

    @staticmethod
    def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return Response(status, _dumps({"error": {"message": message}}), headers=headers or {})

    def fault_response(self, kind: str, seconds: float) -> Response | None:
        """The response a fired fault produces (None: carry on, after a possible delay)."""
        self.stats.faults_fired[kind] += 1
        if kind == "429":
            retry = f"{seconds:g}"
            return self.error(429, "too many requests", {"Retry-After": retry})
        if kind in ("502", "503", "504"):
            return self.error(int(kind), "Loadbalancer Error: too many requests to handle")
        if kind == "storm":  # the live load balancer: an HTML page, no Retry-After
            return Response(int(seconds), LOADBALANCER_ERROR_PAGE, content_type="text/html")
        if kind == "reset":
            return Response(status=0)  # the socket layer closes the connection
        if kind == "timeout":
            time.sleep(seconds)
        return None

    def data_request(
        self, method: str, path: str, query: Query, headers: dict[str, str]
    ) -> Response:
        with self._flight:
            self.stats.api_calls += 1
            self.in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.in_flight)
            crowded = self.faults.crowded(self.in_flight)
        try:  # counted out before the answer is sent: a client never sees more than it sent
            return self._data_request(method, path, query, headers, crowded)
        finally:
            with self._flight:
                self.in_flight -= 1

    def _data_request(
        self, method: str, path: str, query: Query, headers: dict[str, str], crowded: int | None
    ) -> Response:
        if method != "GET":
            raise HTTPError(
                405, f"{method} is not allowed on /v4/{path} (read-only sandbox)", {"Allow": "GET"}
            )
        if self.faults.latency:
            time.sleep(self.faults.latency)
        if crowded is not None:  # the max_inflight fault: more requests than it takes
            self.stats.faults_fired["max_inflight"] += 1
            if crowded == 429:
                return self.error(429, "too many requests", {"Retry-After": "0"})
            return Response(crowded, LOADBALANCER_ERROR_PAGE, content_type="text/html")
        fault = self.faults.take()
        truncate = False
        if fault is not None:
            early = self.fault_response(fault.kind, fault.seconds)
            if early is not None:
                return early
            truncate = fault.kind == "truncate"
        self.check_jwt(headers, query)
        if self.faults.take_unauthorized():
            self.stats.faults_fired["401"] += 1
            raise HTTPError(401, "the JWT was refused")
        if self.faults.take_rejected():
            self.stats.faults_fired["reject_jwt"] += 1
            raise self.invalid_token("the JWT was refused")
        for pattern, fn in self.routes:
            match = pattern.fullmatch(path)
            if match:
                groups = match.groupdict()
                if "product" in groups:
                    groups["product"] = PRODUCT_ALIASES[groups["product"]]
                with self.data.lock:
                    result = fn(query, **groups)
                after = None
                if isinstance(result, tuple):
                    result, after = result
                body = result if isinstance(result, bytes) else _dumps(result)
                if truncate:
                    body = body[: max(1, len(body) // 2)]
                return Response(200, body, after=after)
        raise HTTPError(404, f"no such endpoint /v4/{path}")

    # -- auth endpoints ----------------------------------------------------------------

    def authenticate(self, method: str, body: bytes, headers: dict[str, str]) -> Response:
        if method != "POST":
            raise HTTPError(405, "use POST with a form field access_token", {"Allow": "POST"})
        self.stats.jwt_exchanges += 1
        fault = self.faults.take(auth=True)
        if fault is not None:
            early = self.fault_response(fault.kind, fault.seconds)
            if early is not None:
                return early
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        token = form.get("access_token", "")
        if not token:
            raise HTTPError(400, "missing form field access_token")
        if self._digest(token) not in self.tokens:
            raise HTTPError(401, "invalid access token")
        return Response(200, self.issue_jwt(token).encode(), content_type="text/plain")

    def authorize(self, method: str, query: Query) -> Response:
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

    def token(self, method: str, query: Query) -> Response:
        self.stats.token_exchanges += 1
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
        token = secrets.token_hex(16)
        self.register_token(token, "oauth")
        return Response(200, _dumps({"access_token": token}))

    # -- admin -------------------------------------------------------------------------

    def admin(self, method: str, path: str, body: bytes) -> Response:
        action = path[len("/_sandbox/") :].strip("/")
        if action == "stats" and method == "GET":
            return Response(200, _dumps(self.stats.as_dict() | {"faults": self.faults.active()}))
        if action == "faults" and method == "POST":
            try:
                specs = orjson.loads(body or b"{}").get("faults", [])
                if isinstance(specs, str):
                    specs = [specs]
                self.faults.set(*specs)
            except (ValueError, AttributeError, TypeError) as exc:
                raise HTTPError(400, f"bad faults request: {exc}") from None
            return Response(200, _dumps({"faults": self.faults.active()}))
        if action == "consent" and method == "POST":
            try:
                answer = orjson.loads(body or b"{}").get("answer")
            except (ValueError, AttributeError):
                answer = None
            if answer not in ("grant", "refuse"):
                raise HTTPError(400, 'consent answer must be "grant" or "refuse"')
            self.consent_refused = answer == "refuse"
            return Response(200, _dumps({"consent": answer}))
        if action == "reset" and method == "POST":
            self.reset()
            return Response(200, _dumps({"reset": True}))
        if action == "remove" and method == "POST":
            try:
                wanted = orjson.loads(body or b"{}")
                removed: dict[str, list[int]] = {"profiles": [], "subprofiles": []}
                for kind in ("profiles", "subprofiles"):
                    for ident in wanted.get(kind, []):
                        dataset = "profiles" if kind == "profiles" else "subprofiles"
                        found = self.data.find_person(dataset[:-1], ident)
                        if found is None:
                            raise KeyError(f"no {dataset[:-1]} {ident}")
                        option = "database_id" if kind == "profiles" else "collection_id"
                        owner = int(found[0].owner_id)
                        cascade = self.data.remove_record(dataset, int(ident), **{option: owner})
                        removed[kind].append(int(ident))
                        removed["subprofiles"] += cascade
            except (ValueError, AttributeError, TypeError, KeyError) as exc:
                raise HTTPError(400, f"bad remove request: {exc}") from None
            return Response(200, _dumps({"removed": removed}))
        if action == "fields" and method == "POST":
            try:
                answer = snapshots.admin_fields(self.data, orjson.loads(body or b"{}"))
            except (ValueError, AttributeError, TypeError, KeyError) as exc:
                raise HTTPError(400, f"bad fields request: {exc}") from None
            return Response(200, _dumps(answer))
        raise HTTPError(
            404,
            "admin endpoints: GET /_sandbox/stats, POST /_sandbox/faults, POST /_sandbox/reset, "
            'POST /_sandbox/consent {"answer": "grant"|"refuse"}, '
            'POST /_sandbox/remove {"profiles": [ids], "subprofiles": [ids]}, '
            'POST /_sandbox/fields {"database": id, "add": [{"name", "type"}], "remove": [names]}',
        )

    def reset(self) -> None:
        self.faults.reset()
        snapshots.reset_fields(self.data)
        self.data.reset()
        self.reset_tokens()
        self.consent_refused = False
        self.stats = Stats()
        self.requests.clear()

    # -- data endpoints ----------------------------------------------------------------

    def identity(self, query: Query) -> Any:
        return dict(ACCOUNT)

    def databases(self, query: Query) -> Any:
        return page_of(self.data.databases, query)

    def _database(self, db: str) -> dict[str, Any]:
        found = self.data.database(db) or next(
            (d for d in self.data.databases if d["name"] == db), None
        )
        if found is None:
            raise HTTPError(404, f"no database {db!r}")
        return found

    def database(self, query: Query, db: str) -> Any:
        return self._database(db)

    def db_list(self, query: Query, db: str, what: str) -> Any:
        return page_of(self._database(db)[what]["data"], query)

    def _profile_table(self, db: str) -> Table:
        table = self.data.profile_table(self._database(db)["ID"])
        if table is None:
            raise HTTPError(404, f"no database {db!r}")
        return table

    def _subprofile_table(self, coll: str) -> Table:
        table = self.data.subprofile_table(coll)
        if table is None:
            raise HTTPError(404, f"no collection {coll!r}")
        return table

    def _people_page(
        self, table: Table, query: Query, extra: list[tuple[str, Any]] | None = None
    ) -> Any:
        start, limit, with_total = query.paging()
        selection = select(
            table,
            query.conditions(),
            extra=extra or (),
            orderby=query.get("orderby") or "id",
            order=(query.get("order") or "asc").lower(),
            hidden_from=self.data.hidden(),
        )
        dataonly = query.boolean("dataonly", False)
        rows = selection.rows[start : start + limit]
        head: dict[str, Any] = {"start": start, "limit": limit, "count": len(rows)}
        if with_total:
            head["total"] = selection.total
        items = b",".join([table.render_json(i, dataonly) for i in rows])
        body = _dumps(head)[:-1] + b',"data":[' + items + b"]}"
        if self.faults.churn and rows:
            last = table.ids[rows[-1]]
            return body, lambda: self.data.churn(table, last)
        return body

    def profiles(self, query: Query, db: str) -> Any:
        return self._people_page(self._profile_table(db), query)

    def subprofiles(self, query: Query, coll: str) -> Any:
        return self._people_page(self._subprofile_table(coll), query)

    def _ids(self, table: Table, query: Query) -> Any:
        # paging parameters only (rest-get-database-profileids.md): start, limit (default
        # 100, at most 1000), ids ascending
        start, limit, _ = query.paging()
        if self.faults.ids_unpaged:  # subprofileids is documented without parameters
            start, limit = 0, len(table.ids)
        rows = table.alive()[start : start + limit]
        body = [table.ids[i] for i in rows]
        if self.faults.churn and rows:
            last = table.ids[rows[-1]]
            return _dumps(body), lambda: self.data.churn(table, last)
        return body

    def profile(self, query: Query, ident: str) -> Any:
        found = self.data.find_person("profile", ident)
        if found is None:
            raise HTTPError(400, "No entity with supplied ID")  # the live API's answer
        return found[0].render(found[1])

    def subprofile(self, query: Query, ident: str) -> Any:
        found = self.data.find_person("subprofile", ident)
        if found is None:
            raise HTTPError(400, "No subprofile with supplied ID")
        return found[0].render(found[1])

    def profile_ids(self, query: Query, db: str) -> Any:
        return self._ids(self._profile_table(db), query)

    def subprofile_ids(self, query: Query, coll: str) -> Any:
        return self._ids(self._subprofile_table(coll), query)

    def collection(self, query: Query, coll: str) -> Any:
        try:
            meta = self.data.collection_meta.get(int(coll))
        except ValueError:
            meta = None
        if meta is None:
            raise HTTPError(404, f"no collection {coll!r}")
        return meta

    def collection_fields(self, query: Query, coll: str) -> Any:
        return page_of(self.collection(query, coll)["fields"]["data"], query)

    def _mailing_index(self, product: str, mailing: str) -> int:
        table = self.data.emailings[product]
        try:
            index = table.index_of(int(mailing))
        except ValueError:
            index = None
        if index is None:
            raise HTTPError(404, f"no {product} emailing {mailing!r}")
        return index

    def _page(self, table: Table, rows: Any, query: Query) -> Any:
        start, limit, with_total = query.paging()
        items = [table.render(i) for i in rows[start : start + limit]]
        return envelope(items, start, limit, len(rows) if with_total else None)

    @staticmethod
    def _range(table: Table, low: int | None, high: int | None) -> list[tuple[str, Any]]:
        """Inclusive naive-local range on the table's timestamp (both ends, like Copernica)."""
        lts, extra = table.lts, []
        if low is not None:
            extra.append((f"lts>={low}", lambda i: lts[i] >= low))
        if high is not None:
            extra.append((f"lts<={high}", lambda i: lts[i] <= high))
        return extra

    def emailings(self, query: Query, product: str) -> Any:
        table = self.data.emailings[product]
        extra = self._range(table, query.naive("fromdate"), query.naive("todate"))
        kind = query.choice("type", ("mass", "individual", "both"), "both")
        if kind != "both":
            extra.append((f"type={kind}", lambda i: table.rows[i]["type"] == kind))
        for name, column in (("followups", "followup"), ("test", "test")):
            if name == "test" and product != "html":
                continue
            wanted = query.choice(name, ("yes", "no", "both"), "both")
            if wanted != "both":
                flag = wanted == "yes"
                values = table.columns[column]
                extra.append((f"{name}={wanted}", lambda i, v=values, f=flag: v[i] == f))
        low = query.integer("mindestinations", 0)
        high = query.integer("maxdestinations", -1, low=-1)
        if low:
            extra.append((f"min={low}", lambda i: int(table.rows[i]["destinations"]) >= low))
        if high >= 0:
            extra.append((f"max={high}", lambda i: int(table.rows[i]["destinations"]) <= high))
        if product == "draganddrop":
            status = query.choice("status", coverage.EMAILING_STATUSES, "sent")
            if status != "all":
                statuses = table.columns["status"]
                extra.append((f"status={status}", lambda i: statuses[i] == status))
            first, last = query.integer("fromid", 0), query.integer("toid", -1, low=-1)
            if first:
                extra.append((f"fromid={first}", lambda i: table.ids[i] >= first))
            if last >= 0:
                extra.append((f"toid={last}", lambda i: table.ids[i] <= last))
        rows = select(table, extra=extra, hidden_from=self.data.hidden()).rows
        return self._page(table, rows, query)

    def emailing(self, query: Query, product: str, mailing: str) -> Any:
        return self.data.emailings[product].rows[self._mailing_index(product, mailing)]

    def statistics(self, query: Query, product: str, mailing: str) -> Any:
        self._mailing_index(product, mailing)
        low, high = query.naive("begintime"), query.naive("endtime")
        hidden = self.data.hidden()

        def within(table: Table, i: int) -> bool:
            if hidden is not None and table.ts[i] >= hidden:
                return False
            lts = table.lts[i]
            return (low is None or lts >= low) and (high is None or lts <= high)

        return self.data.statistics(product, int(mailing), within)

    def _unique_rows(self, table: Table, kind: str) -> set[int]:
        cache = getattr(table, "_unique_cache", None)
        if cache is not None and cache[0] == table.version:
            return cache[1]
        seen: set[tuple[Any, ...]] = set()
        firsts: set[int] = set()
        dests, variants = table.columns["destination"], table.columns["variant"]
        for i in table.alive():
            key = (dests[i], variants[i]) if kind == "clicks" else (dests[i],)
            if key not in seen:
                seen.add(key)
                firsts.add(i)
        table._unique_cache = (table.version, firsts)  # type: ignore[attr-defined]
        return firsts

    def events(
        self,
        query: Query,
        product: str,
        event: str,
        mailing: str | None = None,
        dest: str | None = None,
    ) -> Any:
        table = self.data.events[(product, event)]
        extra: list[tuple[str, Any]] = []
        if mailing is not None:
            ident = self.data.emailings[product].ids[self._mailing_index(product, mailing)]
            mailings = table.columns.get("mailing", [])
            extra.append((f"mailing={ident}", lambda i: mailings[i] == ident))
        if dest is not None:
            try:
                wanted = int(dest)
            except ValueError:
                raise HTTPError(404, f"no destination {dest!r}") from None
            dests = table.columns.get("destination", [])
            extra.append((f"dest={wanted}", lambda i: dests[i] == wanted))
        conditions: list[Condition] = []
        if product == "draganddrop":
            if any(k in ("fields[]", "fields") for k, _ in query.pairs):
                raise QueryError(
                    "fields[] is not supported on drag-and-drop event lists; "
                    "use begintime and endtime (YYYY-MM-DD HH:MM:SS)"
                )
            extra += self._range(table, query.naive("begintime"), query.naive("endtime"))
            if event in ("clicks", "unsubscribes") and query.boolean("unique", False):
                firsts = self._unique_rows(table, event)
                extra.append(("unique", firsts.__contains__))
        else:
            for name in ("begintime", "endtime"):
                if query.get(name) is not None:
                    raise QueryError(
                        f"{name} is not supported on HTML event lists; "
                        "filter with fields[]=timestamp>=YYYY-MM-DD hh:mm:ss"
                    )
            conditions = query.conditions()
        rows = select(table, conditions, extra=extra, hidden_from=self.data.hidden()).rows
        return self._page(table, rows, query)

    def destinations(self, query: Query, product: str, mailing: str | None = None) -> Any:
        table = self.data.destinations[product]
        low, high = query.naive("from", "YYYY-MM-DD"), query.naive("to", "YYYY-MM-DD")
        # from/to are whole local days, both inclusive
        extra = self._range(table, low, high + DAY - 1 if high is not None else None)
        if mailing is not None:
            ident = self.data.emailings[product].ids[self._mailing_index(product, mailing)]
            mailings = table.columns["mailing"]
            extra.append((f"mailing={ident}", lambda i: mailings[i] == ident))
        rows = select(table, extra=extra, hidden_from=self.data.hidden()).rows
        return self._page(table, rows, query)

    def consumption(self, query: Query) -> Any:
        begin, end = query.get("begin"), query.get("end")
        if not begin or not end:
            raise QueryError("consumption requires begin and end (YYYY-MM-DD)")
        for name, value in (("begin", begin), ("end", end)):
            try:
                date.fromisoformat(value)
            except ValueError:
                raise QueryError(f"invalid {name} {value!r}: expected YYYY-MM-DD") from None
        rows = [r for r in self.data.consumption if begin <= r["date"] <= end]
        return page_of(rows, query)


# -- socket layer ------------------------------------------------------------------------


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
            response = app.error(500, f"sandbox error: {type(exc).__name__}: {exc}")
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
