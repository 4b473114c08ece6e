"""Extraction windows: the half-open UTC interval ``[start, end)`` one task run extracts.

A scheduled run takes its window from the DAG run's data interval. A manual run without one
(Airflow 3 manual runs may have no logical date, and ``schedule=None`` runs get a zero-width
interval) takes it from the ``date_from``/``date_to`` params. Dates and naive datetimes are
read as UTC; aware ones are converted to UTC, so a window is the same instant range whatever
the DAG's timezone and across daylight-saving changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from airflow_provider_copernica.exceptions import CopernicaConfigError

ACCEPTED_FORMATS = (
    "YYYY-MM-DD, an ISO-8601 datetime such as 2026-10-25T06:30:00, 2026-10-25T06:30:00+02:00 "
    "or 2026-10-25T04:30:00Z (no offset = UTC), or a date/datetime object"
)

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


def _to_utc(value: datetime) -> datetime:
    """A plain ``datetime`` in UTC (pendulum instances become stdlib ones); naive means UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=timezone.utc,
    )


def compact_utc(moment: datetime) -> str:
    """File-name safe UTC time, e.g. ``20261025T063000Z`` (microseconds only when set)."""
    text = moment.strftime("%Y%m%dT%H%M%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


@dataclass(frozen=True)
class Window:
    """A half-open interval ``[start, end)`` of aware UTC datetimes, ``end > start``.

    Inputs may be any aware datetimes (pendulum included); they are stored as stdlib UTC
    datetimes. Naive datetimes are taken as UTC.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime):
                raise CopernicaConfigError(
                    f"Window.{name} must be a datetime, got {type(value).__name__} {value!r}"
                )
            object.__setattr__(self, name, _to_utc(value))
        if self.end <= self.start:
            raise CopernicaConfigError(
                f"A window's end must be after its start: start={self.start.isoformat()}, "
                f"end={self.end.isoformat()}"
            )

    def contains(self, moment: datetime) -> bool:
        """``start <= moment < end`` (a naive ``moment`` is taken as UTC)."""
        return self.start <= _to_utc(moment) < self.end

    @property
    def label(self) -> str:
        """Compact, file-name safe form, e.g. ``20261025T000000Z_20261026T000000Z``."""
        return f"{compact_utc(self.start)}_{compact_utc(self.end)}"

    @property
    def start_iso(self) -> str:
        """``2026-10-25T00:00:00+00:00``."""
        return self.start.isoformat()

    @property
    def end_iso(self) -> str:
        """``2026-10-26T00:00:00+00:00``."""
        return self.end.isoformat()

    def as_dict(self) -> dict[str, str]:
        """``{"interval_start": ..., "interval_end": ...}`` as ISO strings (XCom friendly)."""
        return {"interval_start": self.start_iso, "interval_end": self.end_iso}

    def __str__(self) -> str:
        return f"[{self.start_iso}, {self.end_iso})"


def parse_moment(value: Any, name: str = "value") -> datetime:
    """Read one window bound: str, date or datetime -> aware UTC datetime.

    A date (or ``YYYY-MM-DD``) is midnight UTC; a naive datetime is UTC.
    """
    if isinstance(value, datetime):
        return _to_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        # Python 3.10's fromisoformat does not know the "Z" suffix.
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return _to_utc(parsed)
    raise CopernicaConfigError(f"{name}={value!r} is not a valid date; use {ACCEPTED_FORMATS}")


def parse_window(date_from: Any, date_to: Any) -> Window:
    """Build a window from two bounds (see :func:`parse_moment` for the accepted inputs)."""
    start = parse_moment(date_from, "date_from")
    end = parse_moment(date_to, "date_to")
    if end <= start:
        raise CopernicaConfigError(
            f"date_from must be before date_to: date_from={date_from!r} "
            f"({start.isoformat()}), date_to={date_to!r} ({end.isoformat()})"
        )
    return Window(start, end)


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
