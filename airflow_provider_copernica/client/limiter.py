"""The AIMD limiter: how many requests one hook has in flight.

:class:`ConcurrencyLimiter` bounds the requests a hook has in flight (``max_concurrency``) and
adapts the bound to Copernica's answers: on 429/503/504 it halves (multiplicative decrease),
after a full window of successes it adds one (additive increase), never above the bound.
Each change is logged. It never sleeps: waiting between retries stays in
:mod:`~airflow_provider_copernica.client.retry`; a request only waits here for a free slot.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

log = logging.getLogger(__name__)

THROTTLE_STATUSES = frozenset({429, 503, 504})


class ConcurrencyLimiter:
    """At most ``limit`` requests in flight; ``limit`` moves between 1 and ``bound`` (AIMD).

    A request takes a slot (:meth:`slot`) for one attempt and reports its HTTP status
    (:meth:`observe`). A throttling status halves the limit (rounding up) once per
    "generation": answers
    to requests sent before the last change do not count again. ``limit`` successes in a row
    within a generation raise it by one. Also keeps the figures tests and logs read: the
    highest number in flight and of pages waiting to be consumed (:meth:`page_ready`).
    """

    def __init__(self, bound: int, name: str = "copernica") -> None:
        self.bound = max(1, int(bound))
        self.limit = self.bound
        self.name = name
        self.in_flight = 0
        self.max_in_flight = 0
        self.ready = 0
        self.max_ready = 0
        self.decreases = 0
        self.increases = 0
        self._generation = 0
        self._successes = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def slot(self) -> Iterator[int]:
        """Hold one request slot; yields the generation the request was sent in."""
        with self._cond:
            while self.in_flight >= self.limit:
                self._cond.wait()
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            generation = self._generation
        try:
            yield generation
        finally:
            with self._cond:
                self.in_flight -= 1
                self._cond.notify_all()

    def observe(self, generation: int, status: int, what: str = "") -> None:
        """Adapt the limit to one answer's HTTP status."""
        with self._cond:
            if status in THROTTLE_STATUSES:
                if generation != self._generation or self.limit == 1:
                    return  # this burst was already answered by a decrease
                old, self.limit = self.limit, max(1, (self.limit + 1) // 2)
                self._change()
                self.decreases += 1
                log.warning(
                    "%s: Copernica busy (HTTP %s): concurrency %d -> %d (bound %d)",
                    what or self.name,
                    status,
                    old,
                    self.limit,
                    self.bound,
                )
            elif status < 400 and self.limit < self.bound and generation == self._generation:
                self._successes += 1
                if self._successes >= self.limit:
                    old, self.limit = self.limit, self.limit + 1
                    self._change()
                    self.increases += 1
                    log.info(
                        "%s: %d answered without a refusal: concurrency %d -> %d (bound %d)",
                        what or self.name,
                        old,
                        old,
                        self.limit,
                        self.bound,
                    )
                    self._cond.notify_all()

    def _change(self) -> None:
        self._generation += 1
        self._successes = 0

    def page_ready(self, delta: int) -> None:
        """A page was fetched (+1) or handed on (-1): the engine's pages in memory."""
        with self._cond:
            self.ready += delta
            self.max_ready = max(self.max_ready, self.ready)

    def summary(self) -> str:
        return (
            f"max {self.max_in_flight} requests in flight (bound {self.bound}), "
            f"max {self.max_ready} pages waiting, "
            f"{self.decreases} decreases, {self.increases} increases"
        )
