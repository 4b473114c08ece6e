"""Fewer cyclic garbage collections while an extraction streams records.

Every page is thousands of new containers (decoded records, output rows). With CPython's
default first threshold (a young collection every 700 allocations) a page's objects outlive
several young collections while the page is in flight, are promoted, and soon trigger a full
collection, which scans the worker's whole heap (Airflow, the DAG, the provider: a few
hundred thousand objects) every few pages. The benchmarks measured that at about a third of
the client's CPU per profile (``benchmarks/RESULTS.md``). With a higher first threshold a
page's objects are freed by reference counting, as rows are, before a collection sees them.
Garbage with reference cycles is still collected, in larger batches.

:class:`CollectorHold` raises the threshold; the previous thresholds come back when the last
hold is released. A threshold set higher by the user, or collection switched off
(threshold 0), is left alone.
"""

from __future__ import annotations

import gc
import threading
from types import TracebackType

GEN0_THRESHOLD = 10_000

_lock = threading.Lock()
_holds = 0
_saved: tuple[int, ...] | None = None


class CollectorHold:
    """Raises the collector's first threshold to :data:`GEN0_THRESHOLD` until released.

    Holds nest and may be taken from several threads; ``release()`` is idempotent. Also a
    context manager.
    """

    def __init__(self) -> None:
        global _holds, _saved
        with _lock:
            if _holds == 0:
                current = gc.get_threshold()
                if 0 < current[0] < GEN0_THRESHOLD:
                    _saved = current
                    gc.set_threshold(GEN0_THRESHOLD, *current[1:])
            _holds += 1
        self._held = True

    def release(self) -> None:
        global _holds, _saved
        with _lock:
            if not self._held:
                return
            self._held = False
            _holds -= 1
            if _holds == 0 and _saved is not None:
                if gc.get_threshold()[0] == GEN0_THRESHOLD:  # unless changed meanwhile
                    gc.set_threshold(*_saved)
                _saved = None

    def __enter__(self) -> CollectorHold:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
