"""How an extraction window becomes API filter parameters, described as data.

A :class:`WindowParams` record (after Airbyte's ``DatetimeBasedCursor`` request options)
says which parameters carry the window, in what form; :func:`window_filter` is the one
function that reads it. Catalog entries name a record of :data:`WINDOW_STYLES` (or give one
inline); a new style is one more record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from airflow_provider_copernica.interval import local_bounds, local_days

if TYPE_CHECKING:
    from airflow_provider_copernica.interval import Window

Pairs = list[tuple[str, str]]
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class WindowParams:
    """One way of sending a window. Times are local naive, Copernica's 1-second resolution."""

    start: str | None
    """Parameter (or, for conditions, field) name of the window's start; None = not sent."""
    end: str | None
    """Parameter (or field) name of the window's end; None = not sent."""
    value: Literal["datetime", "date"] = "datetime"
    """``YYYY-MM-DD hh:mm:ss`` or ``YYYY-MM-DD``."""
    end_bound: Literal["inclusive", "exclusive"] = "inclusive"
    """An inclusive end is the window's last second (``end - 1 s`` equals ``< end``)."""
    send_as: Literal["params", "conditions"] = "params"
    """``name=value`` parameters, or ``fields[]=name>=start`` / ``fields[]=name<end``."""
    span: Literal["exact", "local_days"] = "exact"
    """The window's own times, or the local calendar days that end in it (one request for
    them; no request when there is none)."""

    @property
    def counts_exactly(self) -> bool:
        """An envelope ``total`` under these filters counts exactly the window's records
        (whole-day filters also count records outside it, and a style that sends neither
        bound counts everything)."""
        bounded = self.start is not None and self.end is not None
        return bounded and self.value == "datetime" and self.span == "exact"


WINDOW_STYLES: Mapping[str, WindowParams] = MappingProxyType(
    {
        "begintime_endtime": WindowParams("begintime", "endtime"),
        "fromdate_todate": WindowParams("fromdate", "todate"),
        "fields_timestamp": WindowParams(
            "timestamp", "timestamp", end_bound="exclusive", send_as="conditions"
        ),
        "fields_modified": WindowParams(
            "modified", "modified", end_bound="exclusive", send_as="conditions"
        ),
        # whole days covering the window; rows are checked by their timestamp field
        "from_to_dates": WindowParams("from", "to", value="date"),
        "begin_end_dates": WindowParams("begin", "end", value="date", span="local_days"),
    }
)


def window_style(style: str | WindowParams) -> WindowParams:
    """The record of a style name (a record is returned as it is)."""
    if isinstance(style, WindowParams):
        return style
    try:
        return WINDOW_STYLES[style]
    except KeyError:  # a catalog bug, not user input
        raise ValueError(f"unknown window_params style {style!r}") from None


def window_filter(style: str | WindowParams, window: Window, tz: ZoneInfo) -> list[Pairs]:
    """API filter parameters covering the half-open window.

    One parameter list per request; none when the style's span holds nothing (a window
    without a complete local day has no ``local_days``).
    """
    spec = window_style(style)
    if spec.span == "local_days":
        days = local_days(window.start, window.end, tz)
        if not days:
            return []  # no local day ends in this window: nothing to ask
        first: date = days[0]
        last: date = days[-1]
    else:
        first, after = local_bounds(window, tz)
        last = after if spec.end_bound == "exclusive" else after - timedelta(seconds=1)
    texts = [_text(spec, first), _text(spec, last)]
    end_op = "<" if spec.end_bound == "exclusive" else "<="
    params: Pairs = []
    for name, op, text in ((spec.start, ">=", texts[0]), (spec.end, end_op, texts[1])):
        if name is None:
            continue
        conditions = spec.send_as == "conditions"
        params.append(("fields[]", f"{name}{op}{text}") if conditions else (name, text))
    return [params]


def _text(spec: WindowParams, moment: date) -> str:
    if spec.value == "date":
        return (moment.date() if isinstance(moment, datetime) else moment).isoformat()
    return moment.strftime(TIME_FORMAT)
