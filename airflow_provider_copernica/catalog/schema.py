"""Output columns: a name and a logical type, shared by the catalog, records and writers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["int", "float", "bool", "str", "timestamp", "list", "json"]
"""``timestamp``: ISO-8601 string in UTC with offset. ``list``: a list of strings.
``json``: any other nested value (kept as-is in JSONL, JSON-encoded in CSV/Parquet)."""


@dataclass(frozen=True)
class Column:
    """One output column."""

    name: str
    type: ColumnType = "str"
