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
``jwt_ttl:SECONDS``         JWTs issued from now on expire after SECONDS
``outage_after:N``          after N more data requests, every data request gets 503
``latency:SECONDS``         added to every data request
``churn``                   after each page of (sub)profiles, delete the next record and
                            insert a copy with a new max id (see ``SandboxData.churn``)
``data_after:SECONDS``      records of the last day before the anchor stay invisible for
                            SECONDS (for sensors waiting for data)
==========================  ==============================================================

Count-based faults queue up in the order they were set. Faults apply to ``/v4`` data
requests only; prefix a count-based spec with ``auth:`` (``auth:503:2``) to aim it at the JWT
exchange (``POST /authenticate``) instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

COUNTED = ("429", "502", "503", "504", "reset", "timeout", "truncate")
SETTINGS = ("jwt_ttl", "latency", "outage_after", "401", "data_after")
VALID_SPECS = (
    "429[:N[:RETRY_AFTER]], 502:N, 503:N, 504:N, reset:N, timeout:N:SECONDS, truncate:N, "
    "401:N, jwt_ttl:SECONDS, outage_after:N, latency:SECONDS, churn, data_after:SECONDS "
    "(count-based ones may be prefixed with auth:)"
)


@dataclass
class Fault:
    """One queued count-based fault."""

    kind: str
    remaining: int
    seconds: float = 0.0  # Retry-After for 429, delay for timeout


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

    def __init__(self, on_data_after: Callable[[float], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._on_data_after = on_data_after
        self.reset()

    def reset(self) -> None:
        """Switch every fault off."""
        with self._lock:
            self.queue: list[Fault] = []
            self.auth_queue: list[Fault] = []
            self.jwt_ttl: float | None = None
            self.latency = 0.0
            self.outage_after: int | None = None
            self.unauthorized = 0
            self.churn = False
            self.data_after: float | None = None
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

    def take_unauthorized(self) -> bool:
        """True (and one fewer left) while ``401:N`` is active."""
        with self._lock:
            if self.unauthorized > 0:
                self.unauthorized -= 1
                return True
            return False

    def active(self) -> list[str]:
        with self._lock:
            return list(self.specs)
