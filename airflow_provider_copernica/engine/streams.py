"""Several page streams at once, yielded in order: the engine's concurrency and read-ahead.

:class:`OrderedStreams` runs several page streams (offset pages, id-range partitions) at once,
each in its own thread with a small bounded queue, and yields their pages stream by stream in
order: the output order does not depend on which request finished first, and the pages held
in memory are at most ``window * depth``. :func:`prefetch` is one such stream: the
extraction reads its next pages while the current one is written. The requests' own bound
is the hook's
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


class OrderedStreams(Iterator[T]):
    """Items of ``streams[0]()``, then of ``streams[1]()``, ...; up to ``window`` streams run
    at once (one thread each, ``depth`` items queued at most), started when it is built, so
    the first requests are in flight while the caller does other work.

    A stream's exception is raised by ``next``, in order; :meth:`close` (also at the end, on
    an error, and when a ``yield from`` over it is closed) tells every thread to stop
    (``stop`` is set: streams that wait for each other watch it too) and joins them.
    """

    def __init__(
        self,
        streams: Sequence[Callable[[], Iterator[T]]],
        *,
        window: int,
        depth: int,
        gauge: ConcurrencyLimiter | None = None,
        stop: threading.Event | None = None,
        name: str = "copernica-fetch",
    ) -> None:
        self._stop = stop or threading.Event()
        self._pending = deque(streams)
        self._running: deque[tuple[queue.Queue, threading.Thread]] = deque()
        self._depth, self._gauge, self._name = max(1, depth), gauge, name
        self._closed = False
        for _ in range(max(1, window)):
            self._start_next()

    def _start_next(self) -> None:
        if not self._pending:
            return
        items: queue.Queue = queue.Queue(maxsize=self._depth)
        thread = threading.Thread(
            target=_produce,
            args=(self._pending.popleft(), items, self._stop, self._gauge),
            name=self._name,
            daemon=True,
        )
        thread.start()
        self._running.append((items, thread))

    def __iter__(self) -> OrderedStreams[T]:
        return self

    def __next__(self) -> T:
        while not self._closed and self._running:
            kind, value = self._running[0][0].get()
            if kind == "item":
                if self._gauge is not None:
                    self._gauge.page_ready(-1)
                return value
            if kind == "done":
                self._running.popleft()
                self._start_next()
                continue
            self.close()
            raise value
        self.close()
        raise StopIteration

    def close(self) -> None:
        """Stop every stream and join its thread (one wait for all, not one per thread)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        deadline = time.monotonic() + 120
        for _items, thread in self._running:
            if thread is not threading.current_thread():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def __del__(self) -> None:  # dropped unclosed: let the threads end (no join here)
        self._stop.set()


def prefetch(factory: Callable[[], Iterator[T]], depth: int) -> OrderedStreams[T]:
    """``factory()`` iterated in a worker thread, up to ``depth`` items ahead, started at once:
    one stream of :class:`OrderedStreams` (the extraction's read-ahead of pages)."""
    return OrderedStreams([factory], window=1, depth=depth, name="copernica-prefetch")


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
