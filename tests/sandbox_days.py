"""Picking test windows from the sandbox's ground truth, so tests hold for any seeded data."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

Window2 = tuple[datetime, datetime]


def day_window(day: date, days: int = 1) -> Window2:
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return start, start + timedelta(days=days)


def pick_days(sandbox: Any, dataset: str, **options: Any) -> tuple[Window2, Window2]:
    """(busiest, latest empty) UTC day of ``dataset`` in the sandbox's ground truth."""
    per_day = Counter(t.date() for t in sandbox.data.record_times(dataset, **options).values())
    busiest = max(sorted(per_day), key=lambda day: per_day[day])
    anchor = sandbox.data.anchor
    empty = next(d for d in (anchor - timedelta(days=n) for n in range(1, 400)) if not per_day[d])
    return day_window(busiest), day_window(empty)
