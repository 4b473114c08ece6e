"""A fake clock for retry-budget tests: sleeping advances it at once, the HTTP stays real.

``FakeClock.install(mocker, sandbox)`` swaps it in for the retry budget's clock and sleeps
(:mod:`airflow_provider_copernica.client.retry`) and for the sandbox's fault clock, so a
``storm:180`` lasts 180 fake seconds and the client's waits add up to fake seconds too.
"""

from __future__ import annotations

import threading
from typing import Any


class FakeClock:
    """``monotonic()`` and ``sleep()``/``asleep()`` over a shared fake time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)

    @property
    def slept(self) -> float:
        return sum(self.sleeps)

    @classmethod
    def install(cls, mocker: Any, sandbox: Any = None) -> FakeClock:
        from airflow_provider_copernica.client import retry

        clock = cls()
        mocker.patch.object(retry, "clock", clock.monotonic)
        mocker.patch.object(retry, "pause", clock.sleep)
        mocker.patch.object(retry, "apause", clock.asleep)
        if sandbox is not None:
            mocker.patch.object(sandbox.faults, "clock", clock.monotonic)
        return clock
