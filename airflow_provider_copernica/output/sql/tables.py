"""Table names, column types and the automatic table setup of a SQL load.

A table is ``name`` or ``schema.name``; each part is a plain identifier (letters, digits,
``_`` and ``$``, not starting with a digit; folded to lower case as PostgreSQL folds it) or a
double-quoted one (kept exactly, ``""`` for a quote inside). Every identifier is quoted by
the database's SQLAlchemy dialect when the SQL is built (:meth:`SqlDialect.quote`), never
formatted by hand.

The provider's column types (:data:`~airflow_provider_copernica.catalog.schema.ColumnType`)
map to each database's types in :data:`TYPE_MAPS`; an existing table's column "fits" a data
column when its type family can hold the values (:func:`fits`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from airflow_provider_copernica.catalog.schema import Column
from airflow_provider_copernica.exceptions import CopernicaConfigError

_PLAIN = r"[A-Za-z_][A-Za-z0-9_$]*"
_QUOTED = r'"(?:[^"]|"")+"'
_PART = rf"(?:{_PLAIN}|{_QUOTED})"
_TABLE = re.compile(rf"\A({_PART})(?:\.({_PART}))?\Z")
MAX_IDENTIFIER = 63
"""PostgreSQL's limit (the smallest of the three databases tested)."""

TYPE_MAPS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "postgresql": {
            "int": "BIGINT",
            "float": "DOUBLE PRECISION",
            "bool": "BOOLEAN",
            "str": "TEXT",
            "timestamp": "TIMESTAMPTZ",
            "list": "JSONB",
            "json": "JSONB",
        },
        "duckdb": {
            "int": "BIGINT",
            "float": "DOUBLE",
            "bool": "BOOLEAN",
            "str": "VARCHAR",
            "timestamp": "TIMESTAMPTZ",
            "list": "JSON",
            "json": "JSON",
        },
        # Standard SQL for any other database (SQLite takes these names as they are;
        # timestamps stay ISO-8601 text in UTC there, which sorts and compares correctly).
        "generic": {
            "int": "BIGINT",
            "float": "DOUBLE PRECISION",
            "bool": "BOOLEAN",
            "str": "TEXT",
            "timestamp": "TIMESTAMP",
            "list": "TEXT",
            "json": "TEXT",
        },
    }
)
_FAMILIES = (
    ("bool", ("BOOL",)),
    ("int", ("INT", "SERIAL")),
    ("float", ("DOUBLE", "FLOAT", "REAL", "NUMERIC", "DECIMAL")),
    ("timestamp", ("TIMESTAMP", "DATETIME")),
    ("json", ("JSON",)),
    ("str", ("CHAR", "TEXT", "CLOB", "STRING")),
)
# data column type -> the table type families that hold its values
_HOLDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "int": ("int", "float", "str"),
        "float": ("float", "str"),
        "bool": ("bool", "int", "str"),
        "str": ("str",),
        "timestamp": ("timestamp", "str"),
        "list": ("json", "str"),
        "json": ("json", "str"),
    }
)


@dataclass(frozen=True)
class TableName:
    """A parsed ``[schema.]name`` (identifiers unquoted, exact)."""

    name: str
    schema: str | None = None

    @classmethod
    def parse(cls, text: object) -> TableName:
        """``"events"``, ``"analytics.events"``, ``'"My Table"'``; anything else is refused."""
        found = _TABLE.match(text) if isinstance(text, str) else None
        if found is None:
            raise CopernicaConfigError(
                f"table {text!r} is not a table name: give 'name' or 'schema.name', each a "
                "plain identifier (letters, digits, _ and $, not starting with a digit) or a "
                'double-quoted one ("My Table", "" for a quote inside)'
            )
        first, second = (_unquote(p) if p is not None else None for p in found.groups())
        assert first is not None
        table = cls(second, first) if second is not None else cls(first)
        for part in (table.schema, table.name):
            if part is not None and len(part.encode()) > MAX_IDENTIFIER:
                raise CopernicaConfigError(
                    f"table {text!r}: identifier {part!r} is longer than {MAX_IDENTIFIER} bytes"
                )
        return table

    def suffixed(self, suffix: str) -> TableName:
        """The table beside this one named ``<name><suffix>`` (e.g. ``__rejected``)."""
        return TableName(self.name + suffix, self.schema)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


def _unquote(part: str) -> str:
    if part.startswith('"'):
        return part[1:-1].replace('""', '"')
    return part.lower()


def family(declared: str) -> str:
    """The type family of a database's declared column type (``str`` when unknown)."""
    upper = declared.upper()
    for name, markers in _FAMILIES:
        if any(marker in upper for marker in markers):
            return name
    return "str"


def fits(column: Column, declared: str) -> bool:
    """Whether a table column declared ``declared`` can hold ``column``'s values."""
    return family(declared) in _HOLDS[column.type]


def misfits(columns: Sequence[Column], existing: Mapping[str, str]) -> list[str]:
    """``name (table type X, data type Y)`` for each column the existing table cannot hold."""
    return [
        f"{c.name} (table type {existing[c.name]}, data type {c.type})"
        for c in columns
        if c.name in existing and not fits(c, existing[c.name])
    ]


__all__ = ["TYPE_MAPS", "TableName", "family", "fits", "misfits"]
