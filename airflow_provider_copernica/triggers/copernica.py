"""CopernicaTrigger: the async wait of a deferred CopernicaSensor (runs in the triggerer).

The count is the sensor's rule (:func:`~airflow_provider_copernica.engine.counting.acount_records`:
one ``limit=1`` request whose envelope ``total`` is the count, else the engine's pages), sent
through
:class:`~airflow_provider_copernica.hooks.copernica.CopernicaAsyncHook` (httpx; its own
connection lookup, JWT exchange and cache, retry rules).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowNotFoundException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_copernica.client.settings import DEFAULT_CONN_ID
from airflow_provider_copernica.exceptions import CopernicaError, CopernicaRetryError

if TYPE_CHECKING:
    from airflow_provider_copernica.client.settings import CopernicaSettings
    from airflow_provider_copernica.hooks.copernica import CopernicaAsyncHook, CopernicaHook
    from airflow_provider_copernica.interval import Window

DEFAULT_POKE_INTERVAL = 300.0
"""Seconds between checks. Copernica bills every call and marketing data is rarely needed
within minutes of arriving: at 300 s a 1-hour wait costs about a dozen calls."""


class CopernicaTrigger(BaseTrigger):
    """Poll Copernica until ``dataset`` has ``min_records`` records in the window, then fire.

    Fires once: ``{"status": "success", "count": n, ...}``, or ``{"status": "error",
    "message": ...}`` on an error that retrying will not fix (bad option, HTTP 400, refused
    token). Outages that outlast the hook's retry budget are logged and checked again at the
    next interval; the sensor's ``timeout`` bounds the wait. Its arguments hold no secret:
    only the connection id.

    :param dataset: the catalog name of the dataset.
    :param window_start: the window's start, an ISO-8601 string.
    :param window_end: the window's end (exclusive), an ISO-8601 string.
    :param dataset_options: the dataset's validated options.
    :param min_records: how many records make it fire ``success``.
    :param filters: Copernica conditions ANDed with the window.
    :param copernica_conn_id: the Copernica connection (default ``copernica_default``).
    :param poke_interval: seconds between checks.
    :param initial_delay: seconds before the first check.
    """

    def __init__(
        self,
        *,
        dataset: str,
        window_start: str,
        window_end: str,
        dataset_options: Mapping[str, Any] | None = None,
        min_records: int = 1,
        filters: Sequence[str] = (),
        copernica_conn_id: str = DEFAULT_CONN_ID,
        poke_interval: float = DEFAULT_POKE_INTERVAL,
        initial_delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.dataset = dataset
        self.dataset_options = dict(dataset_options or {})
        self.window_start = window_start
        self.window_end = window_end
        self.min_records = int(min_records)
        self.filters = list(filters)
        self.copernica_conn_id = copernica_conn_id
        self.poke_interval = float(poke_interval)
        self.initial_delay = float(initial_delay)
        self._sync_hook: CopernicaHook | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and kwargs to rebuild the trigger (the conn id, never a secret)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "dataset": self.dataset,
                "dataset_options": self.dataset_options,
                "window_start": self.window_start,
                "window_end": self.window_end,
                "min_records": self.min_records,
                "filters": self.filters,
                "copernica_conn_id": self.copernica_conn_id,
                "poke_interval": self.poke_interval,
                "initial_delay": self.initial_delay,
            },
        )

    def _event(self, **payload: Any) -> TriggerEvent:
        return TriggerEvent(
            {
                "dataset": self.dataset,
                "interval_start": self.window_start,
                "interval_end": self.window_end,
                "min_records": self.min_records,
                **payload,
            }
        )

    async def count(
        self, hook: CopernicaAsyncHook, settings: CopernicaSettings, window: Window
    ) -> int:
        """Records in the window, counted exactly as the sensor's poke counts them."""
        from airflow_provider_copernica.engine.counting import acount_records
        from airflow_provider_copernica.hooks.copernica import CopernicaHook

        def sync_hook() -> CopernicaHook:
            if self._sync_hook is None:  # kept for the trigger's life: one JWT, not one per check
                self._sync_hook = CopernicaHook(self.copernica_conn_id, settings=settings)
            return self._sync_hook

        return await acount_records(
            hook,
            sync_hook,
            self.dataset,
            self.dataset_options,
            window,
            self.min_records,
            self.filters,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Check every ``poke_interval`` seconds; yield one event and return."""
        from airflow_provider_copernica.client.masking import scrub
        from airflow_provider_copernica.hooks.copernica import CopernicaAsyncHook
        from airflow_provider_copernica.interval import parse_window

        hook = CopernicaAsyncHook(self.copernica_conn_id)
        secrets: list[str] = []
        try:
            window = parse_window(self.window_start, self.window_end)
            settings = await hook.get_settings()
            secrets = settings.secrets()
            if self.initial_delay > 0:
                await asyncio.sleep(self.initial_delay)
            while True:
                try:
                    count = await self.count(hook, settings, window)
                except CopernicaRetryError as exc:
                    # Copernica answers 503/504 for minutes under load: not an answer yet.
                    self.log.warning(
                        "Copernica unavailable (%s); next check in %.0f s",
                        scrub(str(exc), secrets),
                        self.poke_interval,
                    )
                else:
                    self.log.info(
                        "%s: %d record(s) in %s; waiting for %d",
                        self.dataset,
                        count,
                        window,
                        self.min_records,
                    )
                    if count >= self.min_records:
                        yield self._event(status="success", count=count)
                        return
                await asyncio.sleep(self.poke_interval)
        except (CopernicaError, AirflowNotFoundException) as exc:
            message = scrub(f"{type(exc).__name__}: {exc}", secrets)
            self.log.error("Waiting for Copernica %s failed: %s", self.dataset, message)
            yield self._event(status="error", message=message)
        finally:
            await hook.close()
            if self._sync_hook is not None:
                self._sync_hook.close()
                self._sync_hook = None
