"""CopernicaSensor: wait until Copernica has data for the run's data interval."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, conf
from airflow.sdk.exceptions import AirflowSkipException

from airflow_provider_copernica.catalog.datasets import get_dataset, validate_options
from airflow_provider_copernica.client.settings import DEFAULT_CONN_ID
from airflow_provider_copernica.engine.filters import check_filterable
from airflow_provider_copernica.exceptions import (
    CopernicaConfigError,
    CopernicaRetryError,
    CopernicaSensorError,
)
from airflow_provider_copernica.faithful.deletions import refuse_outside_operator
from airflow_provider_copernica.task_context import window_from_context
from airflow_provider_copernica.triggers.copernica import DEFAULT_POKE_INTERVAL, CopernicaTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_copernica.hooks.copernica import CopernicaHook
    from airflow_provider_copernica.interval import Window


class CopernicaSensor(BaseSensorOperator):
    """Wait until ``dataset`` has at least ``min_records`` records in the run's data interval.

    The window follows the operator's rules (the data interval, or the ``date_from``/
    ``date_to`` params of a manual run); snapshot datasets count all their records. A check
    is one ``limit=1`` request read for its ``total`` (datasets without one are paged and
    counted up to ``min_records``). A check that still meets 429/5xx after the retry budget
    counts as "not yet". ``mode``, ``timeout``, ``exponential_backoff``, ``max_wait`` and
    ``soft_fail`` are ``BaseSensorOperator``'s. See docs/sensor-preview.md.

    :param dataset: the catalog name of the dataset; checked when the DAG is parsed.
    :param dataset_options: what the dataset needs or takes, as for the operator; checked at
        the first check, before any request. (templated)
    :param filters: Copernica conditions ANDed with the interval (profiles, subprofiles), so
        the filtered records are counted. (templated)
    :param min_records: how many records make the sensor succeed (a whole number >= 1).
    :param copernica_conn_id: the Copernica connection (default ``copernica_default``).
    :param deferrable: check once on the worker, then wait in the triggerer
        (:class:`~airflow_provider_copernica.triggers.copernica.CopernicaTrigger`), holding no
        worker slot; default ``[operators] default_deferrable``.
    :param poke_interval: seconds between checks; default 300 (Copernica bills every call).
    """

    template_fields: Sequence[str] = ("dataset_options", "filters")
    template_fields_renderers = {"dataset_options": "json", "filters": "json"}
    ui_color = "#d8f0e6"

    def __init__(
        self,
        *,
        dataset: str,
        dataset_options: Mapping[str, Any] | None = None,
        filters: Sequence[str] | None = None,
        min_records: int = 1,
        copernica_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: timedelta | float = DEFAULT_POKE_INTERVAL,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        entry = get_dataset(dataset)  # an unknown name fails here, listing the valid ones
        refuse_outside_operator(entry, "CopernicaSensor")
        if "{{" not in repr(filters) and "{%" not in repr(filters):
            check_filterable(entry, filters)  # syntax now; field names when it counts
        if isinstance(min_records, bool) or not isinstance(min_records, int) or min_records < 1:
            raise CopernicaConfigError(
                f"min_records must be a whole number >= 1, got {min_records!r}"
            )
        self.dataset = dataset
        self.dataset_options = dataset_options
        self.filters = filters
        self.min_records = min_records
        self.copernica_conn_id = copernica_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> CopernicaHook:
        from airflow_provider_copernica.hooks.copernica import CopernicaHook

        return CopernicaHook(self.copernica_conn_id)

    def count(self, window: Window) -> int:
        """Records of the dataset in ``window`` (paging stops at ``min_records``)."""
        from airflow_provider_copernica.engine.counting import count_records

        # count_records validates the options (same rules as the operator) before any call.
        return count_records(
            self.hook, self.dataset, self.dataset_options, window, self.min_records, self.filters
        )

    def _check(self, window: Window) -> bool:
        try:
            count = self.count(window)
        except CopernicaRetryError as exc:
            # Copernica answers 503/504 for minutes under load: not an answer, ask again later.
            self.log.warning("Copernica unavailable (%s); checking again later", exc)
            return False
        self.log.info(
            "%s: %d record(s) in %s; need %d", self.dataset, count, window, self.min_records
        )
        return count >= self.min_records

    def poke(self, context: Context) -> bool:
        return self._check(window_from_context(context))

    def execute(self, context: Context) -> None:
        if not self.deferrable:
            return super().execute(context)
        window = window_from_context(context)
        if self._check(window):
            return None
        self.defer(
            trigger=CopernicaTrigger(
                dataset=self.dataset,
                dataset_options=validate_options(get_dataset(self.dataset), self.dataset_options),
                window_start=window.start_iso,
                window_end=window.end_iso,
                min_records=self.min_records,
                filters=list(self.filters or ()),
                copernica_conn_id=self.copernica_conn_id,
                poke_interval=self.poke_interval,
                # We have just checked; the next check is one interval away (calls are billed).
                initial_delay=self.poke_interval,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: Mapping[str, Any] | None = None) -> None:
        """Resume after the trigger fired: return on success, else fail (skip with soft_fail)."""
        if event and event.get("status") == "success":
            self.log.info(
                "%s: %s record(s) in [%s, %s)",
                self.dataset,
                event.get("count"),
                event.get("interval_start"),
                event.get("interval_end"),
            )
            return
        reason = (event or {}).get("message") or f"unexpected trigger event {event!r}"
        message = f"Waiting for Copernica dataset {self.dataset!r} failed: {reason}"
        if self.soft_fail:
            raise AirflowSkipException(f"{message} (skipped: soft_fail=True)")
        raise CopernicaSensorError(message)
