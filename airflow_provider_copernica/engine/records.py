"""Raw Copernica record -> output row: flatten, type, convert timestamps, check the window.

The per-record work is the hot loop of every extraction, so a :class:`RowPlan` is compiled
once per extraction into a single Python function (no per-record dict walking over a column
list). Timestamps, the dearest part, are converted by text: the UTC hour of each naive local
hour is computed once per extraction and the minutes and seconds are copied (inlined in the
row function: two dict lookups and a concatenation), and the window check compares UTC ISO
strings (see :class:`TimestampConverter`). Output bytes are pinned by
``tests/output/test_output_bytes.py``; the garbage collector's share is in ``collector.py``.

Timestamps: Copernica sends naive ``YYYY-MM-DD hh:mm:ss`` in the connection's time zone. They
become UTC ISO-8601 strings with an offset. On the autumn DST change the naive hour 02:00-03:00
happens twice; such a time is read as its *first* occurrence (``fold=0``, summer time). In the
spring gap a nonexistent time (e.g. 02:30) is shifted forward by the gap (= 03:30 summer time).

Empty dates: Copernica sends ``0000-00-00`` (date fields) and ``0000-00-00 00:00:00``
(datetime fields) for "no date"; both are null in the output rows, in timestamp and text
columns alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_copernica.booleans import parse_bool
from airflow_provider_copernica.catalog.schema import Column
from airflow_provider_copernica.interval import iso_utc, naive_to_utc

Row = dict[str, Any]
RowFunction = Callable[[Mapping[str, Any]], "Row | None"]

_MISSING: Any = object()
# Copernica's empty date and datetime: null in every output row.
EMPTY_DATES = frozenset({"0000-00-00", "0000-00-00 00:00:00"})
_LAST_SECOND_OF_HOUR = timedelta(minutes=59, seconds=59)
_EMPTY: dict[str, Any] = {}
# The naive local hours the fast path reads: "YYYY-MM-DD hh" (any separator, as
# datetime.fromisoformat); anything else goes through naive_to_utc.
_HOUR_KEY = re.compile(r"\d{4}-\d\d-\d\d.\d\d", re.ASCII)


def _utc_hour(key: str, tz: ZoneInfo) -> str | None:
    """Naive local hour ``YYYY-MM-DD HH`` -> its UTC ``YYYY-MM-DDTHH``, or None when the hour
    is not one whole UTC hour (a DST change inside it, a half-hour offset, not a time)."""
    if not _HOUR_KEY.fullmatch(key):
        return None
    try:
        start = datetime.fromisoformat(f"{key}:00:00")
        # tz.utcoffset(naive) reads the wall time as fold=0, like naive_to_utc
        offset = tz.utcoffset(start)
        if offset is None or offset != tz.utcoffset(start + _LAST_SECOND_OF_HOUR):
            return None
        if offset.seconds % 3600:
            return None
        return (start - offset).isoformat()[:13]
    except (ValueError, OverflowError):
        return None


# ":mm:ss" -> ":mm:ss+00:00" for every valid minute and second: one lookup both checks the
# minutes and seconds of a "YYYY-MM-DD hh:mm:ss" text and gives the end of its UTC reading.
_MINUTES_SECONDS = {
    f":{m:02d}:{s:02d}": f":{m:02d}:{s:02d}+00:00" for m in range(60) for s in range(60)
}


class TimestampConverter:
    """``text -> UTC ISO-8601 string`` (``2026-10-25T00:30:00+00:00``); None if not a time.

    The UTC hour of each naive local hour is computed once (DST changes happen on whole
    hours) and kept in :attr:`hours` (``"YYYY-MM-DD hh"`` -> ``"YYYY-MM-DDThh"``, None when
    the hour is not one whole UTC hour); minutes and seconds are carried over as text.
    Anything unusual goes through :func:`naive_to_utc` (cached); both paths give the same
    string. :class:`RowPlan` inlines the common path (:meth:`inline`) and calls the
    converter only when an hour is not known yet or a text is unusual.
    """

    def __init__(self, tz: ZoneInfo, cache_size: int = 1 << 14) -> None:
        self.tz = tz
        self.hours: dict[str, str | None] = {}

        @lru_cache(maxsize=cache_size)
        def slow(text: str) -> str | None:
            return iso_utc(naive_to_utc(text, tz))

        self._slow = slow

    def __call__(self, text: str) -> str | None:
        if len(text) == 19 and text[13] == ":" == text[16]:  # YYYY-MM-DD hh:mm:ss
            key = text[:13]
            prefix = self.hours.get(key, _MISSING)
            if prefix is _MISSING:
                prefix = self.hours[key] = _utc_hour(key, self.tz)
            if prefix is not None:
                rest = _MINUTES_SECONDS.get(text[13:])
                return None if rest is None else prefix + rest
        return self._slow(text)

    @staticmethod
    def inline(value: str, hours: str, table: str, convert: str) -> str:
        """A Python expression converting the string ``value`` (a name), equal to
        ``convert(value)``: two dict lookups and one concatenation when the hour is known."""
        return (
            f"(h + m if (h := {hours}.get({value}[:13])) and (m := {table}.get({value}[13:])) "
            f"else {convert}({value}))"
        )


def timestamp_converter(tz: ZoneInfo, cache_size: int = 1 << 14) -> TimestampConverter:
    """The :class:`TimestampConverter` of ``tz``."""
    return TimestampConverter(tz, cache_size)


def to_int(value: Any) -> Any:
    """Numeric strings -> int; empty -> None. Anything else is kept (never silently lost)."""
    if value is None or value.__class__ is int:
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return value
            return int(number) if number.is_integer() else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_float(value: Any) -> Any:
    """A float, None for an empty or non-finite one ("nan", "inf": JSON has no such number,
    so every format writes null: JSONL ``null``, CSV an empty field, Parquet null), or the
    value unchanged when it is not a number."""
    if value is None:
        return value
    if value.__class__ is not float:
        if isinstance(value, str) and not value.strip():
            return None
        try:
            value = float(value)
        except (TypeError, ValueError):
            return value
    return value if value - value == 0.0 else None  # inf - inf and nan - nan are nan


def to_bool(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    parsed = parse_bool(value)
    return value if parsed is None else parsed


def to_str(value: Any) -> Any:
    """Strings stay; Copernica's empty dates (``0000-00-00``...) become None."""
    if value is None:
        return value
    if value.__class__ is str:
        return None if value in EMPTY_DATES else value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_list(value: Any) -> Any:
    """Lists stay lists; ``{"name": true/false}`` interest maps become the names set true."""
    if value is None or value.__class__ is list:
        return value
    if isinstance(value, dict):
        return [k for k, v in value.items() if v and parse_bool(v) is not False]
    if isinstance(value, str):
        return [value] if value else []
    return list(value) if isinstance(value, (tuple, set)) else [value]


def to_json(value: Any) -> Any:
    return value


def default_path(name: str) -> tuple[str, ...]:
    """Column name -> path into the record: ``from_address.email`` -> (from_address, email)."""
    return tuple(name.split("."))


class RowPlan:
    """Compiled ``record -> row | None`` for one extraction.

    ``None`` means the record is outside the half-open window (client-side check on
    ``timestamp_field``). ``constants`` are metadata columns with one value per extraction.
    """

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        tz: ZoneInfo,
        paths: Mapping[str, tuple[str, ...]] | None = None,
        window: tuple[datetime, datetime] | None = None,
        timestamp_field: str | None = None,
        constants: Mapping[str, Any] | None = None,
    ) -> None:
        self.columns = list(columns)
        self.convert_time = timestamp_converter(tz)
        self.function: RowFunction = self._compile(
            paths or {}, window, timestamp_field, dict(constants or {})
        )

    def __call__(self, record: Mapping[str, Any]) -> Row | None:
        return self.function(record)

    def rows(self, records: Sequence[Mapping[str, Any]]) -> list[Row]:
        """Convert a page; records outside the window are dropped."""
        fn = self.function
        return [row for row in map(fn, records) if row is not None]

    def _compile(
        self,
        paths: Mapping[str, tuple[str, ...]],
        window: tuple[datetime, datetime] | None,
        timestamp_field: str | None,
        constants: dict[str, Any],
    ) -> RowFunction:
        namespace: dict[str, Any] = {
            "_ts": self.convert_time,
            "_H": self.convert_time.hours,
            "_MS": _MINUTES_SECONDS,
            "_E": _EMPTY,
            "_int": to_int,
            "_float": to_float,
            "_bool": to_bool,
            "_str": to_str,
            "_Z": EMPTY_DATES,
            "_list": to_list,
            "_json": to_json,
            "_dict": dict,
        }
        lines = ["def _row(r):"]

        def inline_ts(name: str) -> str:
            return TimestampConverter.inline(name, "_H", "_MS", "_ts")

        parents: dict[tuple[str, ...], str] = {}

        def source(path: tuple[str, ...]) -> str:
            """Expression reading ``path``; nested parents are read once into locals."""
            if path == ("id",):
                return "r.get('ID', r.get('id'))"
            if len(path) == 1:
                return f"r.get({path[0]!r})"
            parent = path[:-1]
            if parent not in parents:
                var = f"p{len(parents)}"
                lines.append(f"    {var} = {source(parent)}")
                # PHP sends an empty object as [], and a missing object as null
                lines.append(f"    if {var}.__class__ is not _dict: {var} = _E")
                parents[parent] = var
            return f"{parents[parent]}.get({path[-1]!r})"

        if window is not None and timestamp_field:
            # UTC ISO-8601 strings of one format sort like the moments they name:
            # "...T00:30:00+00:00" is >= the bound "...T00:30:00" and < "...T00:30:00.5"
            namespace["LO"], namespace["HI"] = (
                moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat()
                for moment in window
            )
            ts_src = source(paths.get(timestamp_field, default_path(timestamp_field)))
            lines.append(f"    t = {ts_src}")
            lines.append(f"    t = {inline_ts('t')} if t.__class__ is str else None")
            lines.append("    if t is None or not (LO <= t < HI): return None")
        items = []
        for i, column in enumerate(self.columns):
            key = repr(column.name)
            if column.name in constants:
                namespace[f"K{i}"] = constants[column.name]
                items.append(f"{key}: K{i}")
                continue
            path = paths.get(column.name, default_path(column.name))
            if window is not None and column.name == timestamp_field and column.type == "timestamp":
                items.append(f"{key}: t")
                continue
            src = source(path)
            kind = column.type
            if kind == "timestamp":
                expr = f"({inline_ts('v')} if (v := {src}).__class__ is str else None)"
            elif kind == "int":
                expr = (
                    f"(v if (v := {src}).__class__ is int else "
                    "int(v) if v.__class__ is str and v.isdecimal() else _int(v))"
                )
            elif kind == "str":  # skip the call for plain strings (not an empty date)
                expr = f"(v if (v := {src}).__class__ is str and v not in _Z else _str(v))"
            elif kind == "list":  # skip the call when the type already matches
                expr = f"(v if (v := {src}).__class__ is {kind} else _{kind}(v))"
            elif kind == "json":
                expr = src
            else:
                expr = f"_{kind}({src})"
            items.append(f"{key}: {expr}")
        lines.append("    return {" + ", ".join(items) + "}")
        code = "\n".join(lines)
        exec(compile(code, "<copernica-row-plan>", "exec"), namespace)  # noqa: S102
        return namespace["_row"]
