"""Request handling of the sandbox, independent of the socket layer: the request log, the
faults' effects on a request, the JWT check, and the route table the domain modules fill.

A ``/v4`` data request is counted, then meets the faults (``max_inflight``, latency,
count-based errors, storms, outages), then the JWT check, then its route: the first
pattern that matches the whole path, called with the parsed query and the pattern's groups
under the data lock. A route answers a JSON-able value, bytes, or (body, after) where
``after`` runs once the answer is sent (the ``churn`` fault).
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_copernica.sandbox.account import routes as account_routes
from airflow_provider_copernica.sandbox.admin import Admin, RequestRecord, Stats
from airflow_provider_copernica.sandbox.auth import Auth
from airflow_provider_copernica.sandbox.content import routes as content_routes
from airflow_provider_copernica.sandbox.data import SandboxData
from airflow_provider_copernica.sandbox.emailings import routes as emailing_routes
from airflow_provider_copernica.sandbox.faults import Faults, churn_events
from airflow_provider_copernica.sandbox.logfiles import Logfiles
from airflow_provider_copernica.sandbox.logfiles import routes as logfile_routes
from airflow_provider_copernica.sandbox.people import routes as people_routes
from airflow_provider_copernica.sandbox.protocol import (
    PRODUCT_ALIASES,
    HTTPError,
    Listing,
    Query,
    Response,
    dumps,
    error,
)
from airflow_provider_copernica.sandbox.selections import routes as selection_routes
from airflow_provider_copernica.sandbox.snapshots import reset_fields
from airflow_provider_copernica.sandbox.statistics import routes as statistics_routes
from airflow_provider_copernica.sandbox.tables import QueryError

LOADBALANCER_ERROR_PAGE = (
    b"<html><head><title>Loadbalancer Error</title></head><body>"
    b"<h1>Loadbalancer Error</h1><p>There are too many requests to handle at this moment. "
    b"Please try again later.</p></body></html>"
)


class SandboxApp:
    """Request handling independent of the socket layer: auth, faults, routing."""

    def __init__(self, data: SandboxData, faults: Faults) -> None:
        self.data = data
        self.faults = faults
        self.auth = Auth(faults)
        self.stats = Stats()
        self.in_flight = 0  # data requests being answered now (latency included)
        self._flight = threading.Lock()
        self.requests: deque[RequestRecord] = deque(maxlen=100_000)
        self.logfiles = Logfiles(data)
        self.admin = Admin(data, faults, self.auth, lambda: self.stats, self.reset)
        listing = Listing(
            faults, data.hidden, data.churn, lambda t, served: churn_events(data, t, served)
        )
        table = [
            *account_routes(data.consumption),
            *people_routes(data.people, listing),
            *emailing_routes(data.mailings, listing),
            *statistics_routes(data.statistics, listing),
            *selection_routes(data.selections, listing),
            *content_routes(data.content, data.mailings),
            *logfile_routes(self.logfiles, lambda message: HTTPError(404, message)),
        ]
        self.routes: list[tuple[re.Pattern[str], Callable[..., Any]]] = [
            (re.compile(pattern), handler) for pattern, handler in table
        ]

    # -- the OAuth state, as tests set and read it ---------------------------------------

    @property
    def consent_refused(self) -> bool:
        return self.auth.consent_refused

    @consent_refused.setter
    def consent_refused(self, refused: bool) -> None:
        self.auth.consent_refused = refused

    @property
    def oauth_codes(self) -> dict[str, tuple[str, str]]:
        return self.auth.oauth_codes

    def register_token(self, token: str, label: str = "extra") -> None:
        self.auth.register_token(token, label)

    def reset(self) -> None:
        self.faults.reset()
        reset_fields(self.data)  # the faithful-copy field changes
        self.data.reset()
        self.auth.reset()
        self.stats = Stats()
        self.requests.clear()

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
                return self.admin.handle(method, path, body)
            if path.rstrip("/") == "/authenticate":
                return self.authenticate(method, body)
            if path.rstrip("/") == "/authorize":
                return self.auth.authorize(method, query)
            if path.rstrip("/") == "/v4/token":
                self.stats.token_exchanges += 1
                token = self.auth.grant(method, query)
                self.register_token(token, "oauth")
                return Response(200, dumps({"access_token": token}))
            if path.startswith("/v4/"):
                return self.data_request(method, path[4:].strip("/"), query, headers)
            raise HTTPError(404, f"no such path {path}")
        except HTTPError as exc:
            return error(exc.status, exc.message, exc.headers)
        except QueryError as exc:
            return error(400, str(exc))

    def authenticate(self, method: str, body: bytes) -> Response:
        if method == "POST":  # a wrong method is refused before it counts
            self.stats.jwt_exchanges += 1
            fault = self.faults.take(auth=True)
            if fault is not None:
                early = self.fault_response(fault.kind, fault.seconds)
                if early is not None:
                    return early
        return self.auth.authenticate(method, body)

    def fault_response(self, kind: str, seconds: float) -> Response | None:
        """The response a fired fault produces (None: carry on, after a possible delay)."""
        self.stats.faults_fired[kind] += 1
        if kind == "429":
            retry = f"{seconds:g}"
            return error(429, "too many requests", {"Retry-After": retry})
        if kind in ("502", "503", "504"):
            return error(int(kind), "Loadbalancer Error: too many requests to handle")
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
                return error(429, "too many requests", {"Retry-After": "0"})
            return Response(crowded, LOADBALANCER_ERROR_PAGE, content_type="text/html")
        fault = self.faults.take()
        truncate = False
        if fault is not None:
            early = self.fault_response(fault.kind, fault.seconds)
            if early is not None:
                return early
            truncate = fault.kind == "truncate"
        self.auth.check_jwt(headers, query)
        if self.faults.take_unauthorized():
            self.stats.faults_fired["401"] += 1
            raise HTTPError(401, "the JWT was refused")
        if self.faults.take_rejected():
            self.stats.faults_fired["reject_jwt"] += 1
            raise self.auth.invalid_token("the JWT was refused")
        for pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if match:
                groups = match.groupdict()
                if "product" in groups:
                    groups["product"] = PRODUCT_ALIASES[groups["product"]]
                with self.data.lock:
                    result = handler(query, **groups)
                after = None
                if isinstance(result, tuple):
                    result, after = result
                body = result if isinstance(result, bytes) else dumps(result)
                if truncate:
                    body = body[: max(1, len(body) // 2)]
                return Response(200, body, after=after)
        raise HTTPError(404, f"no such endpoint /v4/{path}")
