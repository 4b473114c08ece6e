"""What a running task reads from its Airflow context: its window, run id and DAG id.

The one place these rules live, shared by the operators and the sensor (they had drifted
when each kept its own copy). A scheduled run takes its window from the DAG run's data
interval. A manual run without one (Airflow 3 manual runs may have no logical date, and
``schedule=None`` runs get a zero-width interval) takes it from the ``date_from``/``date_to``
params; a snapshot dataset needs none (:func:`task_window`). Not an operator module: it
holds no Airflow class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_copernica.exceptions import CopernicaConfigError
from airflow_provider_copernica.interval import Window, parse_moment, parse_window

# Run types whose window must come from the timetable: falling back to params there would
# silently extract the same (default) dates on every scheduled run.
_TIMETABLE_RUN_TYPES = frozenset({"scheduled", "backfill"})

_ZERO_WIDTH_HELP = (
    "In Airflow 3, schedule='@daily' (and any cron string) is a CronTriggerTimetable whose "
    "data_interval_start == data_interval_end. Give the DAG a real interval (timetables "
    "from airflow.sdk): schedule=CronDataIntervalTimetable('0 0 * * *', timezone='UTC'), "
    "CronTriggerTimetable('0 0 * * *', timezone='UTC', interval=timedelta(days=1)), or a "
    "timedelta schedule such as schedule=timedelta(days=1). For a manual run, set the params "
    "date_from and date_to (e.g. date_from='2026-10-25', date_to='2026-10-26')."
)


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _requested_dates(context: Mapping[str, Any]) -> tuple[Any, Any]:
    """``date_from``/``date_to`` from params, else from ``dag_run.conf``; ``None`` when unset."""
    params = context.get("params") or {}
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    found: list[Any] = []
    for key in ("date_from", "date_to"):
        value = params.get(key) if isinstance(params, Mapping) else None
        if not _present(value) and isinstance(conf, Mapping):
            value = conf.get(key)
        found.append(value if _present(value) else None)
    return found[0], found[1]


def window_from_context(context: Mapping[str, Any]) -> Window:
    """The window of the running task.

    1. ``data_interval_start``/``data_interval_end`` when both are set and ``end > start``.
    2. Otherwise (no interval, or a zero-width one on a run that is not scheduled/backfill),
       the ``date_from``/``date_to`` params (or the same keys in ``dag_run.conf``).
    3. Otherwise a :class:`CopernicaConfigError` saying what to change.
    """
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    has_interval = start is not None and end is not None
    if has_interval:
        start_utc, end_utc = (
            parse_moment(start, "data_interval_start"),
            parse_moment(end, "data_interval_end"),
        )
        if end_utc > start_utc:
            return Window(start_utc, end_utc)

    run_type = getattr(context.get("dag_run"), "run_type", None)
    timetable_run = run_type is not None and str(getattr(run_type, "value", run_type)) in (
        _TIMETABLE_RUN_TYPES
    )
    date_from, date_to = _requested_dates(context)
    if not timetable_run and (date_from is not None or date_to is not None):
        if date_from is None or date_to is None:
            missing = "date_from" if date_from is None else "date_to"
            raise CopernicaConfigError(
                f"Param {missing} is not set: give both date_from and date_to "
                f"(got date_from={date_from!r}, date_to={date_to!r})"
            )
        return parse_window(date_from, date_to)

    if has_interval:
        raise CopernicaConfigError(
            f"The data interval of this run is empty or reversed (data_interval_start="
            f"{start_utc.isoformat()}, data_interval_end={end_utc.isoformat()}), so there is "
            f"nothing to extract. {_ZERO_WIDTH_HELP}"
        )
    raise CopernicaConfigError(
        "This run has no data interval (Airflow 3 manual runs triggered without a logical "
        "date have none) and no date_from/date_to params. Trigger it with a logical date, or "
        "set the params date_from and date_to (YYYY-MM-DD or ISO datetime, date_to "
        "exclusive), e.g. params={'date_from': Param('2026-10-25', type='string'), "
        "'date_to': Param('2026-10-26', type='string')} on the DAG, or in the trigger conf."
    )


def task_window(context: Mapping[str, Any], snapshot: bool) -> Window | None:
    """:func:`window_from_context`, or None for a ``snapshot`` dataset (one that needs no
    window) when the run has none. ``snapshot`` is the entry *as configured by the run's
    options* (``Dataset.configured``): an option such as ``created_in_interval=true`` makes
    a snapshot entry windowed, and then the run is told how to give it an interval."""
    try:
        return window_from_context(context)
    except CopernicaConfigError:
        if snapshot:
            return None
        raise


def run_id(context: Mapping[str, Any]) -> str | None:
    """The DAG run's id: ``run_id``, else ``dag_run.run_id`` (None when neither is set)."""
    return context.get("run_id") or getattr(context.get("dag_run"), "run_id", None)


def dag_id(context: Mapping[str, Any], default: str) -> str:
    """The running DAG's id: ``dag.dag_id``, else ``dag_run.dag_id``, else ``default`` (the
    task's own ``dag_id``, e.g. when ``execute`` is called without a DAG)."""
    found = getattr(context.get("dag"), "dag_id", None)
    found = found or getattr(context.get("dag_run"), "dag_id", None)
    return str(found or default)
