"""The sandbox's admin endpoints under ``/_sandbox/`` (for tests and demos out of process),
and the traffic they report: :class:`Stats` and the :class:`RequestRecord` log.

``GET /_sandbox/stats``; ``POST /_sandbox/faults {"faults": [...]}``, ``/reset``,
``/consent {"answer": "grant"|"refuse"}``, ``/remove {"profiles": [ids], "subprofiles":
[ids]}`` and ``/fields {"database": id, "add": [{"name", "type"}], "remove": [names]}``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from airflow_provider_copernica.sandbox.auth import Auth
from airflow_provider_copernica.sandbox.data import SandboxData
from airflow_provider_copernica.sandbox.faults import Faults
from airflow_provider_copernica.sandbox.protocol import HTTPError, Response, dumps
from airflow_provider_copernica.sandbox.snapshots import admin_fields


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


ENDPOINTS = (
    "admin endpoints: GET /_sandbox/stats, POST /_sandbox/faults, POST /_sandbox/reset, "
    'POST /_sandbox/consent {"answer": "grant"|"refuse"}, '
    'POST /_sandbox/remove {"profiles": [ids], "subprofiles": [ids]}, '
    'POST /_sandbox/fields {"database": id, "add": [{"name", "type"}], "remove": [names]}'
)


class Admin:
    """Answers ``/_sandbox/...``; ``stats`` gives the current counters, ``reset`` resets
    the whole sandbox."""

    def __init__(
        self,
        data: SandboxData,
        faults: Faults,
        auth: Auth,
        stats: Callable[[], Stats],
        reset: Callable[[], None],
    ) -> None:
        self.data = data
        self.faults = faults
        self.auth = auth
        self.stats = stats
        self.reset = reset

    def handle(self, method: str, path: str, body: bytes) -> Response:
        action = path[len("/_sandbox/") :].strip("/")
        if action == "stats" and method == "GET":
            return Response(200, dumps(self.stats().as_dict() | {"faults": self.faults.active()}))
        if action == "faults" and method == "POST":
            try:
                specs = orjson.loads(body or b"{}").get("faults", [])
                if isinstance(specs, str):
                    specs = [specs]
                self.faults.set(*specs)
            except (ValueError, AttributeError, TypeError) as exc:
                raise HTTPError(400, f"bad faults request: {exc}") from None
            return Response(200, dumps({"faults": self.faults.active()}))
        if action == "consent" and method == "POST":
            try:
                answer = orjson.loads(body or b"{}").get("answer")
            except (ValueError, AttributeError):
                answer = None
            if answer not in ("grant", "refuse"):
                raise HTTPError(400, 'consent answer must be "grant" or "refuse"')
            self.auth.consent_refused = answer == "refuse"
            return Response(200, dumps({"consent": answer}))
        if action == "reset" and method == "POST":
            self.reset()
            return Response(200, dumps({"reset": True}))
        if action == "remove" and method == "POST":
            try:
                removed = self._remove(orjson.loads(body or b"{}"))
            except (ValueError, AttributeError, TypeError, KeyError) as exc:
                raise HTTPError(400, f"bad remove request: {exc}") from None
            return Response(200, dumps({"removed": removed}))
        if action == "fields" and method == "POST":
            try:
                answer = admin_fields(self.data, orjson.loads(body or b"{}"))
            except (ValueError, AttributeError, TypeError, KeyError) as exc:
                raise HTTPError(400, f"bad fields request: {exc}") from None
            return Response(200, dumps(answer))
        raise HTTPError(404, ENDPOINTS)

    def _remove(self, wanted: dict[str, Any]) -> dict[str, list[int]]:
        removed: dict[str, list[int]] = {"profiles": [], "subprofiles": []}
        for kind in ("profiles", "subprofiles"):
            for ident in wanted.get(kind, []):
                found = self.data.people.find(kind[:-1], ident)
                if found is None:
                    raise KeyError(f"no {kind[:-1]} {ident}")
                option = "database_id" if kind == "profiles" else "collection_id"
                owner = int(found[0].owner_id)
                cascade = self.data.remove_record(kind, int(ident), None, **{option: owner})
                removed[kind].append(int(ident))
                removed["subprofiles"] += cascade
        return removed
