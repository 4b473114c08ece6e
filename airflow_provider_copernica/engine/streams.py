"""Several page streams at once, yielded in order: the engine's concurrency.

:func:`ordered_streams` runs several page streams (offset pages, id-range partitions) at once,
each in its own thread with a small bounded queue, and yields their pages stream by stream in
order: the output order does not depend on which request finished first, and the pages held
in memory are at most ``window * depth``. The requests' own bound is the hook's
:class:`~airflow_provider_copernica.client.limiter.ConcurrencyLimiter`.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from airflow_provider_copernica.client.limiter import ConcurrencyLimiter

log = logging.getLogger(__name__)

T = TypeVar("T")
_POLL = 0.1  # seconds between checks of the stop flag while a thread waits


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
