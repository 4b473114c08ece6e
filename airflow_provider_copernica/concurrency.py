"""Requests in flight inside one task: the AIMD limiter and the ordered stream runner.

:class:`ConcurrencyLimiter` bounds the requests a hook has in flight (``max_concurrency``) and
adapts the bound to Copernica's answers: on 429/503/504 it halves (multiplicative decrease),
after a full window of successes it adds one (additive increase), never above the bound.
Each change is logged. It never sleeps: waiting between retries stays in
:mod:`~airflow_provider_copernica.retry`; a request only waits here for a free slot.

:func:`ordered_streams` runs several page streams (offset pages, id-range partitions) at once,
each in its own thread with a small bounded queue, and yields their pages stream by stream in
order: the output order does not depend on which request finished first, and the pages held
in memory are at most ``window * depth``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
THROTTLE_STATUSES = frozenset({429, 503, 504})
_POLL = 0.1  # seconds between checks of the stop flag while a thread waits


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


def _put(items: queue.Queue, message: tuple[str, Any], stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            items.put(message, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


def _produce(
    factory: Callable[[], Iterator[T]],
    items: queue.Queue,
    stop: threading.Event,
    gauge: ConcurrencyLimiter | None,
) -> None:
    try:
        with contextlib.closing(factory()) as source:  # type: ignore[type-var]
            for item in source:
                if gauge is not None:
                    gauge.page_ready(+1)
                if not _put(items, ("item", item), stop):
                    return
        _put(items, ("done", None), stop)
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer
        _put(items, ("error", exc), stop)


def ordered_streams(
    streams: Sequence[Callable[[], Iterator[T]]],
    *,
    window: int,
    depth: int,
    gauge: ConcurrencyLimiter | None = None,
    stop: threading.Event | None = None,
    name: str = "copernica-fetch",
) -> Iterator[T]:
    """Items of ``streams[0]()``, then of ``streams[1]()``, ...; up to ``window`` streams run
    at once (one thread each, ``depth`` items queued at most).

    A stream's exception is raised here, in order; when the consumer stops early every thread
    is told to stop (``stop`` is set: streams that wait for each other watch it too) and is
    joined.
    """
    stop = stop or threading.Event()
    pending = deque(streams)
    running: deque[tuple[queue.Queue, threading.Thread]] = deque()

    def start_next() -> None:
        if not pending:
            return
        items: queue.Queue = queue.Queue(maxsize=max(1, depth))
        thread = threading.Thread(
            target=_produce,
            args=(pending.popleft(), items, stop, gauge),
            name=name,
            daemon=True,
        )
        thread.start()
        running.append((items, thread))

    try:
        for _ in range(max(1, window)):
            start_next()
        while running:
            items, _thread = running[0]
            while True:
                kind, value = items.get()
                if kind == "item":
                    if gauge is not None:
                        gauge.page_ready(-1)
                    yield value
                elif kind == "done":
                    break
                else:
                    raise value
            running.popleft()
            start_next()
    finally:
        stop.set()
        deadline = time.monotonic() + 120  # one wait for all, not one per thread
        for _items, thread in running:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))


class Latch:
    """A value set once by one thread and awaited by others (or the error that replaced it);
    waiting gives up when ``stop`` is set, so no thread outlives a stopped extraction."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    def set(self, value: Any) -> None:
        self._value = value
        self._event.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, stop: threading.Event | None = None) -> Any:
        while not self._event.wait(_POLL):
            if stop is not None and stop.is_set():
                raise _StreamStopped("the extraction was stopped")
        if self._error is not None:
            raise self._error  # the failure of the stream this one waited for
        return self._value


class _StreamStopped(Exception):
    """A stream waited for another one while the extraction was stopped."""
