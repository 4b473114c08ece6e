"""Extraction windows: the half-open UTC interval ``[start, end)`` one task run extracts.

Dates and naive datetimes are read as UTC; aware ones are converted to UTC, so a window is
the same instant range whatever the DAG's timezone and across daylight-saving changes.

Also the local-time helpers both the window styles and the records use: Copernica speaks
naive wall-clock times in the connection's time zone (``naive_to_utc``, ``utc_to_naive``,
``naive_bounds``, ``local_bounds``, ``local_days``, ``iso_utc``). How a task finds its window (the data interval, or the ``date_from``/``date_to`` params) is
:func:`airflow_provider_copernica.task_context.window_from_context`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_copernica.exceptions import CopernicaConfigError

ACCEPTED_FORMATS = (
    "YYYY-MM-DD, an ISO-8601 datetime such as 2026-10-25T06:30:00, 2026-10-25T06:30:00+02:00 "
    "or 2026-10-25T04:30:00Z (no offset = UTC), or a date/datetime object"
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


# --- local time: Copernica's naive wall-clock times in the connection's time zone ---------


def naive_to_utc(text: str, tz: ZoneInfo) -> datetime | None:
    """``"2026-10-25 02:30:00"`` in ``tz`` -> aware UTC datetime (fold=0; gaps shift forward).

    Dates (``YYYY-MM-DD``) mean local midnight. Empty, ``0000-00-00...`` and invalid values
    give None.
    """
    if not text or text.startswith("0000-00-00"):
        return None
    try:
        naive = datetime.fromisoformat(text)
        if naive.tzinfo is not None:
            return naive.astimezone(timezone.utc)
        # zoneinfo resolves fold=0 in a gap with the offset before the change: 02:30 CET is
        # 01:30 UTC = 03:30 CEST, i.e. shifted forward; in the repeated hour it is the first one.
        return naive.replace(tzinfo=tz).astimezone(timezone.utc)
    except (ValueError, OverflowError):  # not a time, or beyond year 1..9999 once in UTC
        return None


def utc_to_naive(moment: datetime, tz: ZoneInfo) -> datetime:
    """Aware moment -> naive wall-clock time in ``tz`` (what Copernica's filters compare)."""
    return moment.astimezone(tz).replace(tzinfo=None)


def naive_bounds(start: datetime, end: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Naive local ``[lo, hi)`` covering every naive time whose UTC reading is in [start, end).

    Naive -> UTC (fold=0) is monotonic, so this is an interval. Its lower end is the local
    time of ``start``; the upper end is widened when ``end`` falls in the repeated autumn
    hour, whose naive times belong to the first occurrence (an earlier window).
    """
    lo = utc_to_naive(start, tz)
    hi = utc_to_naive(end, tz)
    back = naive_to_utc(hi.isoformat(sep=" "), tz)
    if back is not None and back < end:
        hi += end - back
    return lo, hi


def iso_utc(moment: datetime | None) -> str | None:
    """Aware datetime -> ``2026-10-25T01:30:00+00:00`` (None stays None)."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat()


def local_days(start: datetime, end: datetime, tz: ZoneInfo) -> list[date]:
    """Local calendar days that end in ``(start, end]``: ``date(start) <= day < date(end)``.

    A day belongs to the window in which it is complete, so consecutive windows share none
    and miss none; a window shorter than a day that contains no local midnight has none.
    """
    first = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    return [first + timedelta(days=n) for n in range((last - first).days)]


def local_bounds(window: Window, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local naive ``[first, end)`` of ``window`` at 1-second resolution: ``first`` is its
    first second, ``end`` the first second after it (``end - 1 s`` is its last second)."""
    lo, hi = naive_bounds(window.start, window.end, tz)
    if hi.microsecond:
        hi = hi.replace(microsecond=0) + timedelta(seconds=1)
    return lo.replace(microsecond=0), hi
