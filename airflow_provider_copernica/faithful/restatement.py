"""Restatement: the data intervals before a run's one, and the template context of each.

``CopernicaToStorageOperator(restate_intervals=N)`` extracts its run's interval and then the
``N`` intervals before it again, each into its own file (the ``output_uri`` template rendered
for that interval), so that data which changes after its interval (late events, statistics)
converges in the files. This module holds the two pure pieces: which intervals
(:func:`previous_windows`) and how a template sees one (:func:`interval_context`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from airflow_provider_copernica.exceptions import CopernicaConfigError
from airflow_provider_copernica.interval import Window

__all__ = ["check_restate_intervals", "interval_context", "previous_windows"]


def check_restate_intervals(value: object) -> int:
    """``restate_intervals`` as an int >= 0; anything else fails naming the valid values."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CopernicaConfigError(
            f"restate_intervals must be a whole number >= 0 (the intervals before the run's "
            f"one to extract again; 0 = none), got {value!r}"
        )
    return value


def previous_windows(window: Window, count: int, timetable: Any = None) -> list[Window]:
    """The ``count`` data intervals before ``window``, newest first.

    They come from the DAG's timetable where it can tell (``infer_manual_data_interval``, as a
    cron data-interval timetable answers: 23- and 25-hour local days stay exact); otherwise
    each has the length of ``window``.
    """
    result: list[Window] = []
    current = window
    for _ in range(count):
        current = _previous(current, timetable)
        result.append(current)
    return result


def _core(timetable: Any) -> Any:
    """The scheduler's own timetable for a DAG's (``airflow.sdk``) one: it alone answers
    ``infer_manual_data_interval``. None where it cannot be had (no Airflow core here)."""
    if timetable is None or hasattr(timetable, "infer_manual_data_interval"):
        return timetable
    try:
        from airflow.serialization.encoders import coerce_to_core_timetable

        return coerce_to_core_timetable(timetable)
    except Exception:  # noqa: BLE001 - no core timetable: intervals of the same length
        return None


def _previous(window: Window, timetable: Any) -> Window:
    infer = getattr(_core(timetable), "infer_manual_data_interval", None)
    if infer is not None:
        try:
            interval = infer(run_after=window.start)
        except Exception:  # noqa: BLE001 - a timetable that cannot tell: same length
            interval = None
        start = getattr(interval, "start", None)
        end = getattr(interval, "end", None)
        if start is not None and end is not None and end == window.start and start < end:
            return Window(_utc(start), _utc(end))
    return Window(window.start - (window.end - window.start), window.start)


def _utc(moment: datetime) -> datetime:
    return datetime.fromtimestamp(moment.timestamp(), tz=timezone.utc)


def interval_context(context: Mapping[str, Any], run_window: Window, window: Window) -> dict:
    """A copy of a task's template context as a run of ``window`` would see it.

    ``data_interval_start``/``end`` are ``window``'s; ``logical_date`` moves with the interval
    (it keeps its place: the interval's start, its end, or the same offset), and ``ds``,
    ``ds_nodash``, ``ts``, ``ts_nodash`` and ``ts_nodash_with_tz`` follow it. So
    ``output_uri="s3://bucket/clicks/{{ ds }}.jsonl"`` names each interval's own file.
    """
    import pendulum

    start, end = pendulum.instance(window.start), pendulum.instance(window.end)
    out = dict(context)
    out["data_interval_start"], out["data_interval_end"] = start, end
    logical = context.get("logical_date")
    if logical is not None:
        if logical == run_window.start:
            moved = start
        elif logical == run_window.end:
            moved = end
        else:
            moved = pendulum.instance(logical) + (window.start - run_window.start)
        out["logical_date"] = moved
    else:
        moved = start
    out["ds"] = moved.strftime("%Y-%m-%d")
    out["ds_nodash"] = moved.strftime("%Y%m%d")
    out["ts"] = moved.isoformat()
    out["ts_nodash"] = moved.strftime("%Y%m%dT%H%M%S")
    out["ts_nodash_with_tz"] = moved.isoformat().replace("-", "").replace(":", "")
    return out
