"""Output columns: a name and a logical type, shared by the catalog, records and writers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ColumnType = Literal["int", "float", "bool", "str", "timestamp", "list", "json"]
"""``timestamp``: ISO-8601 string in UTC with offset. ``list``: a list of strings.
``json``: any other nested value (kept as-is in JSONL, JSON-encoded in CSV/Parquet)."""


@dataclass(frozen=True)
class Column:
    """One output column."""

    name: str
    type: ColumnType = "str"


def type_of_value(value: Any) -> ColumnType:
    """The column type of one JSON value: bool, int, float, json (list or object), else str."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "json" if isinstance(value, (list, Mapping)) else "str"
