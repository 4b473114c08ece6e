"""Switchable faults of the sandbox: error bursts, dropped connections, slow and cut-off replies,
short JWT lifetimes, outages, data churn and late data.

Specs (CLI ``--fault SPEC``, ``POST /_sandbox/faults {"faults": [...]}``, or
``server.faults.set(SPEC, ...)``):

==========================  ==============================================================
``429[:N[:RETRY_AFTER]]``   next N data requests get 429 with ``Retry-After`` (default 1 s;
                            fractions such as 0.2 allowed)
``502:N`` ``503:N``         next N data requests get that status (a burst)
``504:N``
``reset:N``                 next N data requests: connection closed without a response
``timeout:N:SECONDS``       next N data requests are answered after SECONDS
``truncate:N``              next N data requests get a 200 whose JSON body is cut off
``401:N``                   next N data requests with a valid JWT are refused with 401
``reject_jwt:N``            next N data requests with a valid JWT are refused as an invalid
                            token (400 ``Invalid access token``, or 401 with
                            ``invalid_token:401``)
``invalid_token:STATUS``    how an invalid or expired JWT is answered: 400 ``Invalid access
                            token`` (the default, as the live API does) or 401/403 (v4 docs)
``storm:SECONDS``           for SECONDS from now, every data request gets 503 or 504 with
                            the load balancer's HTML page and no ``Retry-After`` (live API)
``modified_field[:NAME]``   every database and collection gets a field named ``modified``
                            (or NAME, ``Modified`` say), which then takes the place of the
                            ``modified`` property in ``fields[]`` filters (not in
                            ``orderby``), as on the live API
``jwt_ttl:SECONDS``         JWTs issued from now on expire after SECONDS
``outage_after:N``          after N more data requests, every data request gets 503
``latency:SECONDS``         added to every data request
``max_inflight:N[:STATUS]``  data requests arriving while N are already being answered get
                            STATUS (503, the load balancer's page, by default; or 429 with
                            ``Retry-After: 0``): a server that takes N at a time
``churn``                   after each page of (sub)profiles or their ids, delete the next record and
                            insert a copy with a new max id (see ``SandboxData.churn``);
                            after each page of an event listing, remove the first event it
                            served and add a new one (see :func:`churn_events`)
``data_after:SECONDS``      records of the last day before the anchor stay invisible for
                            SECONDS (for sensors waiting for data)
``ids_unpaged``             ``profileids``/``subprofileids`` ignore ``start``/``limit`` and
                            answer every id at once (``subprofileids`` is documented
                            without parameters)
==========================  ==============================================================

Count-based faults queue up in the order they were set. Faults apply to ``/v4`` data
requests only; prefix a count-based spec with ``auth:`` (``auth:503:2``) to aim it at the JWT
exchange (``POST /authenticate``) instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

COUNTED = ("429", "502", "503", "504", "reset", "timeout", "truncate")
SETTINGS = (
    "jwt_ttl",
    "latency",
    "outage_after",
    "401",
    "reject_jwt",
    "data_after",
    "storm",
    "invalid_token",
)
INVALID_TOKEN_STATUSES = (400, 401, 403)
VALID_SPECS = (
    "429[:N[:RETRY_AFTER]], 502:N, 503:N, 504:N, reset:N, timeout:N:SECONDS, truncate:N, "
    "401:N, reject_jwt:N, invalid_token:400|401|403, jwt_ttl:SECONDS, outage_after:N, "
    "latency:SECONDS, storm:SECONDS, max_inflight:N[:429|503], churn, ids_unpaged, "
    "modified_field[:NAME], "
    "data_after:SECONDS "
    "(count-based ones may be prefixed with auth:)"
)


@dataclass
class Fault:
    """One queued count-based fault."""

    kind: str
    remaining: int
    seconds: float = 0.0  # Retry-After for 429, delay for timeout, status for storm


def _number(spec: str, text: str, kind: type = float) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"fault {spec!r}: {text!r} is not a number") from None
    if value < 0:
        raise ValueError(f"fault {spec!r}: {text!r} must not be negative")
    return value


class Faults:
    """The fault switchboard of one sandbox server (thread-safe)."""

    def __init__(
        self,
        on_data_after: Callable[[float], None] | None = None,
        on_modified_field: Callable[[str | None], None] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._on_data_after = on_data_after
        self._on_modified_field = on_modified_field
        # The storm's clock; tests may swap in a fake one together with the client's.
        self.clock: Callable[[], float] = time.monotonic
        self.reset()

    def reset(self) -> None:
        """Switch every fault off."""
        if getattr(self, "modified_field", None) and self._on_modified_field is not None:
            self._on_modified_field(None)
        with self._lock:
            self.queue: list[Fault] = []
            self.auth_queue: list[Fault] = []
            self.jwt_ttl: float | None = None
            self.latency = 0.0
            self.outage_after: int | None = None
            self.unauthorized = 0
            self.rejected = 0
            self.invalid_token_status = 400
            self.storm_until: float | None = None
            self.storm_answers = 0
            self.churn = False
            self.ids_unpaged = False
            self.modified_field: str | None = None
            self.data_after: float | None = None
            self.max_inflight: tuple[int, int] | None = None  # (requests, status)
            self.specs: list[str] = []

    def set(self, *specs: str) -> None:
        """Switch faults on (see the module docstring for the specs)."""
        for spec in specs:
            self._set_one(spec.strip())

    def _set_one(self, spec: str) -> None:
        text = spec
        target = "data"
        if text.startswith("auth:"):
            target, text = "auth", text[5:]
        kind, *args = text.split(":")
        kind = kind.lower()
        if kind == "churn" and not args and target == "data":
            with self._lock:
                self.churn = True
                self.specs.append(spec)
            return
        if kind == "ids_unpaged" and not args and target == "data":
            with self._lock:
                self.ids_unpaged = True
                self.specs.append(spec)
            return
        if kind == "modified_field" and len(args) <= 1 and target == "data":
            name = args[0] if args else "modified"
            if name.lower() != "modified":
                raise ValueError(f"fault {spec!r}: the field's name must be modified, in any case")
            with self._lock:
                self.modified_field = name
                self.specs.append(spec)
            if self._on_modified_field is not None:
                self._on_modified_field(name)
            return
        if kind == "max_inflight" and 1 <= len(args) <= 2 and target == "data":
            limit = int(_number(spec, args[0], int))
            status = int(_number(spec, args[1], int)) if len(args) > 1 else 503
            if limit < 1 or status not in (429, 503, 504):
                raise ValueError(f"fault {spec!r}: use max_inflight:N[:429|503|504], N >= 1")
            with self._lock:
                self.max_inflight = (limit, status)
                self.specs.append(spec)
            return
        if kind in COUNTED:
            if len(args) > (2 if kind in ("429", "timeout") else 1):
                raise ValueError(f"fault {spec!r}: too many parts; valid specs: {VALID_SPECS}")
            count = int(_number(spec, args[0], int)) if args else 1
            seconds = _number(spec, args[1]) if len(args) > 1 else (1.0 if kind == "429" else 0)
            if kind == "timeout" and len(args) < 2:
                raise ValueError(f"fault {spec!r}: use timeout:N:SECONDS")
            with self._lock:
                (self.auth_queue if target == "auth" else self.queue).append(
                    Fault(kind, count, seconds)
                )
                self.specs.append(spec)
            return
        if kind in SETTINGS and len(args) == 1 and target == "data":
            with self._lock:
                if kind == "jwt_ttl":
                    self.jwt_ttl = _number(spec, args[0])
                elif kind == "latency":
                    self.latency = _number(spec, args[0])
                elif kind == "outage_after":
                    self.outage_after = int(_number(spec, args[0], int))
                elif kind == "401":
                    self.unauthorized += int(_number(spec, args[0], int))
                elif kind == "reject_jwt":
                    self.rejected += int(_number(spec, args[0], int))
                elif kind == "storm":
                    self.storm_until = self.clock() + _number(spec, args[0])
                elif kind == "invalid_token":
                    status = int(_number(spec, args[0], int))
                    if status not in INVALID_TOKEN_STATUSES:
                        raise ValueError(
                            f"fault {spec!r}: the status must be one of "
                            f"{', '.join(map(str, INVALID_TOKEN_STATUSES))}"
                        )
                    self.invalid_token_status = status
                else:
                    self.data_after = _number(spec, args[0])
                self.specs.append(spec)
            if kind == "data_after" and self._on_data_after is not None:
                self._on_data_after(self.data_after or 0.0)
            return
        raise ValueError(f"unknown fault {spec!r}; valid specs: {VALID_SPECS}")

    def take(self, auth: bool = False) -> Fault | None:
        """Consume the next count-based fault for a data (or auth) request, if any."""
        with self._lock:
            queue = self.auth_queue if auth else self.queue
            if not auth and self.storm_until is not None:
                if self.clock() < self.storm_until:
                    self.storm_answers += 1
                    # mostly 503, every third one 504, as the load balancer answers
                    return Fault("storm", 1, 503 if self.storm_answers % 3 else 504)
                self.storm_until = None
            if not auth and self.outage_after is not None:
                if self.outage_after <= 0:
                    return Fault("503", 1)
                self.outage_after -= 1
            while queue and queue[0].remaining <= 0:
                queue.pop(0)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            return Fault(fault.kind, 1, fault.seconds)

    def crowded(self, in_flight: int) -> int | None:
        """The status for a data request arriving as the ``in_flight``-th one being answered
        (None: it is served), by the ``max_inflight`` fault."""
        with self._lock:
            if self.max_inflight is None or in_flight <= self.max_inflight[0]:
                return None
            return self.max_inflight[1]

    def take_unauthorized(self) -> bool:
        """True (and one fewer left) while ``401:N`` is active."""
        with self._lock:
            if self.unauthorized > 0:
                self.unauthorized -= 1
                return True
            return False

    def take_rejected(self) -> bool:
        """True (and one fewer left) while ``reject_jwt:N`` is active."""
        with self._lock:
            if self.rejected > 0:
                self.rejected -= 1
                return True
            return False

    def storming(self) -> bool:
        """True while a ``storm:SECONDS`` lasts."""
        with self._lock:
            return self.storm_until is not None and self.clock() < self.storm_until

    def active(self) -> list[str]:
        with self._lock:
            return list(self.specs)


def churn_events(data: Any, table: Any, served: Sequence[int]) -> None:
    """The ``churn`` fault on an event listing, after a page was sent: new events arrive and
    old ones go while the pages are read. The first event the page served is removed (an
    event already read: every later one moves one place forward, so an offset listing's next
    page begins one event later) and a new event arrives, a copy of the page's last one with
    a new max id and the same time (inside the window being read). Logged in
    ``data.mutations`` as ``{"op": "event_churn", "table", "deleted", "inserted"}``."""
    with data.lock:
        alive = [i for i in served if i not in table.deleted]
        if not alive:
            return
        old_id = table.ids[alive[0]]
        new_id = data.changes.copy_row(table, alive[-1], table.ts[alive[-1]])
        table.delete(alive[0])
        data.changes._note("event_churn", table=table.name, deleted=old_id, inserted=new_id)
