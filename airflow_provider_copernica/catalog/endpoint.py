"""The generic ``endpoint`` dataset: any GET path of the connection's API version.

The escape hatch for endpoints the catalog lacks (a hosted connector's custom-schema mode).
Its options shape the catalog entry for one run (:func:`configure`): ``path`` (required,
relative to the API version, e.g. ``database/7616/interests``), ``key`` (default ``id``),
``columns`` (``name[:type]`` list; none: inferred from the first page and pinned for the run),
``timestamp_field`` (checked against the half-open interval) and the window parameters
(``window_params``: a style name of ``window_params.WINDOW_STYLES``, or ``begin_param`` /
``end_param``: names of parameters taking the window's first and last local second). Paged
with ``start``/``limit``. Every option is checked like an id: the path cannot climb out of
the API version or carry a query, and names are plain identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from airflow_provider_copernica.catalog.schema import Column, type_of_value
from airflow_provider_copernica.catalog.window_styles import WINDOW_STYLES, WindowParams
from airflow_provider_copernica.exceptions import CopernicaConfigError

if TYPE_CHECKING:
    from airflow_provider_copernica.catalog.datasets import Dataset

COLUMN_TYPES = ("int", "float", "bool", "str", "timestamp", "list", "json")
_SEGMENT = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
_NAME = re.compile(r"^[A-Za-z_][\w\-]*(\.[A-Za-z_][\w\-]*)*$")
_PARAM = re.compile(r"^[A-Za-z_][\w\-]*$")
# Parameters the request already sets (paging, auth): a window parameter may not take them.
_RESERVED_PARAMS = frozenset({"start", "limit", "total", "access_token", "fields[]", "fields"})


def check_path(dataset: str, value: object) -> str:
    """a GET path relative to the API version, e.g. 'database/7616/interests'"""
    text = value if isinstance(value, str) else ""
    segments = text.split("/")
    if not text or not all(_SEGMENT.match(s) for s in segments) or segments[0].lower() == "v4":
        raise CopernicaConfigError(
            f"Option 'path' of dataset {dataset!r} must be a path relative to the API version, "
            "made of segments of letters, digits, '_', '-' and '.' (no '..', no leading or "
            f"double '/', no '?', '&', '#' or '%'), e.g. 'database/7616/interests'; got {value!r}"
        )
    return text


def check_name(dataset: str, value: object, option: str = "key") -> str:
    """a record field name such as 'id' or 'from_address.email'"""
    if not isinstance(value, str) or not _NAME.match(value):
        raise CopernicaConfigError(
            f"Option {option!r} of dataset {dataset!r} must be a record field name (letters, "
            f"digits, '_', '-', nested with '.'), got {value!r}"
        )
    return value


def check_param(dataset: str, value: object, option: str) -> str:
    if not isinstance(value, str) or not _PARAM.match(value) or value.lower() in _RESERVED_PARAMS:
        raise CopernicaConfigError(
            f"Option {option!r} of dataset {dataset!r} must be a query parameter name (letters, "
            f"digits, '_', '-'; not one of {', '.join(sorted(_RESERVED_PARAMS))}), got {value!r}"
        )
    return value


def check_window_style(dataset: str, value: object) -> str:
    """one of the window_params styles"""
    if value not in WINDOW_STYLES:
        raise CopernicaConfigError(
            f"Unknown window_params {value!r} for dataset {dataset!r}; valid styles: "
            f"{', '.join(WINDOW_STYLES)} (or give begin_param/end_param)"
        )
    return str(value)


def check_columns(dataset: str, value: object) -> list[str]:
    """column names, optionally typed: ['id:int', 'name', 'created:timestamp']"""
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise CopernicaConfigError(
            f"Option 'columns' of dataset {dataset!r} must be a list of column names such as "
            f"['id:int', 'name'], got {value!r}"
        )
    columns: dict[str, str] = {}
    for item in items:
        name, _, kind = str(item).strip().partition(":")
        check_name(dataset, name, "columns")
        if (kind or "str") not in COLUMN_TYPES:
            raise CopernicaConfigError(
                f"Unknown column type {kind!r} in option 'columns' of dataset {dataset!r}; "
                f"valid types: {', '.join(COLUMN_TYPES)}"
            )
        columns[name] = f"{name}:{kind or 'str'}"
    return list(columns.values())  # plain strings: options travel in XCom and trigger kwargs


OPTION_CHECKS = {
    "path": check_path,
    "key": check_name,
    "timestamp_field": lambda d, v: check_name(d, v, "timestamp_field"),
    "columns": check_columns,
    "window_params": check_window_style,
    "begin_param": lambda d, v: check_param(d, v, "begin_param"),
    "end_param": lambda d, v: check_param(d, v, "end_param"),
}
OPTIONAL = ("key", "columns", "timestamp_field", "window_params", "begin_param", "end_param")


def configure(entry: Dataset, options: Mapping[str, Any]) -> Dataset:
    """The ``endpoint`` entry shaped by its validated options."""
    key = str(options.get("key") or "id")
    timestamp = options.get("timestamp_field")
    style: str | WindowParams | None = options.get("window_params")
    begin, end = options.get("begin_param"), options.get("end_param")
    if style is not None and (begin or end):
        raise CopernicaConfigError(
            f"Dataset {entry.name!r}: give either window_params or begin_param/end_param"
        )
    if begin or end:
        style = WindowParams(begin, end)
    if style is not None and not timestamp:
        raise CopernicaConfigError(
            f"Dataset {entry.name!r}: window parameters need timestamp_field (the record "
            "field checked against the interval), e.g. timestamp_field='timestamp'"
        )
    if timestamp and style is None:
        style = WindowParams(None, None)  # nothing sent: every page is read, rows checked
    columns = tuple(
        Column(name, kind)
        for name, _, kind in (spec.partition(":") for spec in options.get("columns") or ())
    )
    if columns:
        names = [c.name for c in columns]
        if key not in names:
            columns = (Column(key, "str"), *columns)
        if timestamp and timestamp not in names:
            columns = (*columns, Column(str(timestamp), "timestamp"))
    return replace(
        entry,
        key=key,
        timestamp_field=timestamp,
        window_params=style,
        interval_filter=f"{timestamp} in interval" if timestamp else entry.interval_filter,
        columns=columns,
        infer_columns=not columns,
        configure=None,
    )


def infer_columns(
    records: Iterable[Mapping[str, Any]], key: str, timestamp_field: str | None
) -> tuple[Column, ...]:
    """Columns of the first page's records, flattened with dots like the catalog's: nested
    objects become ``parent.child`` columns, lists become ``json``, and scalars keep their
    JSON type (numbers that Copernica sends as strings stay strings). The key comes first."""
    found: dict[str, str] = {}

    def walk(prefix: str, value: Mapping[str, Any]) -> None:
        for name, item in value.items():
            column = "id" if not prefix and name == "ID" else f"{prefix}{name}"
            if isinstance(item, Mapping) and item:
                walk(f"{column}.", item)
            elif column not in found or found[column] == "str" and item is not None:
                found[column] = type_of_value(item)

    for record in records:
        walk("", record)
    if timestamp_field:
        found[timestamp_field] = "timestamp"
    if key == "id" and "id" in found:
        found["id"] = "int" if found["id"] in ("int", "str") else found["id"]
    columns = [Column(name, kind) for name, kind in found.items()]  # type: ignore[arg-type]
    key_first = [c for c in columns if c.name == key] or [Column(key, "str")]
    return tuple(key_first + [c for c in columns if c.name != key])
