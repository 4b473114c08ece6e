"""Time helpers for the sandbox: UTC epochs internally, naive Europe/Amsterdam strings outside.

Every sandbox record keeps its true instant as an integer UTC epoch. Copernica renders naive
local ``YYYY-MM-DD hh:mm:ss`` strings and compares its filters on those naive values, so the
sandbox also keeps a "naive local epoch" (the local wall clock read as if it were UTC) to
compare against filter values quickly.
"""

from __future__ import annotations

import calendar
import time
from datetime import date, datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

TIMEZONE = "Europe/Amsterdam"
TZ = ZoneInfo(TIMEZONE)
DAY = 86400


@lru_cache(maxsize=65536)
def _offset_for_hour(hour: int) -> int:
    # Zone offsets only change on whole UTC hours, so one zoneinfo lookup per hour suffices.
    moment = datetime.fromtimestamp(hour * 3600, timezone.utc).astimezone(TZ)
    offset = moment.utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def local_naive(ts: int) -> int:
    """The local wall-clock time of UTC epoch ``ts``, as a naive epoch."""
    return ts + _offset_for_hour(ts // 3600)


@lru_cache(maxsize=8192)
def _day_text(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * DAY))


def fmt_naive(naive: int) -> str:
    """``YYYY-MM-DD hh:mm:ss`` of a naive epoch (hot path: rendering every record)."""
    day, rest = divmod(naive, DAY)
    hour, rest = divmod(rest, 3600)
    minute, second = divmod(rest, 60)
    return f"{_day_text(day)} {hour:02d}:{minute:02d}:{second:02d}"


def fmt_local(ts: int) -> str:
    """``YYYY-MM-DD hh:mm:ss`` in Europe/Amsterdam for UTC epoch ``ts``."""
    return fmt_naive(local_naive(ts))


def parse_naive(text: str) -> int:
    """Parse ``YYYY-MM-DD[ hh:mm[:ss]]`` into a naive epoch; ValueError when malformed."""
    text = text.strip()
    for layout in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return calendar.timegm(time.strptime(text, layout))
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a YYYY-MM-DD hh:mm:ss timestamp")


def utc_epoch(moment: datetime | date | str) -> int:
    """UTC epoch of an aware datetime (naive datetimes and dates are taken as UTC)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if not isinstance(moment, datetime):
        return calendar.timegm(moment.timetuple())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def to_datetime(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def local_midnight(day: date) -> int:
    """UTC epoch of 00:00 local time on ``day``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp())


def transitions(start: int, end: int) -> list[tuple[int, str]]:
    """DST changes in ``[start, end)``: (UTC epoch of the change, "spring" | "autumn")."""
    found = []
    hour = start // 3600
    previous = _offset_for_hour(hour)
    for h in range(hour + 1, end // 3600 + 1):
        current = _offset_for_hour(h)
        if current != previous:
            found.append((h * 3600, "spring" if current > previous else "autumn"))
            previous = current
    return found
