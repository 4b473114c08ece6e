"""One run's load into one table: table setup, then staging and the write mode in one
transaction.

1. :meth:`TableLoad.setup` (its own short transaction, before any data request): creates
   the table from the typed columns (primary key = the mode's key, an index on the
   interval/timestamp column), or checks an existing one: a column that cannot hold the data
   fails; ``schema_policy`` decides about columns the table lacks (``evolve``: ``ALTER TABLE
   ... ADD COLUMN``; ``pin``: left out, with a warning; ``fail``: refused).
2. :meth:`TableLoad.run` (one transaction): the rows go batch by batch through the
   database's bulk path (memory stays flat) into a temporary staging table, which the write
   mode then turns into the table's new state; a direct mode (replace_interval,
   truncate_insert, insert) deletes what it replaces first and bulk-loads the rows straight
   into the table. Then commit. A run that fails or is killed at
   any point before the commit leaves the table as it was.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_copernica.catalog.schema import Column
from airflow_provider_copernica.exceptions import (
    CopernicaConfigError,
    CopernicaError,
    CopernicaSchemaDriftError,
)
from airflow_provider_copernica.output.sql.dialects import Misfit, SqlDialect
from airflow_provider_copernica.output.sql.modes import DELETED_AT, SoftDelete, WriteMode
from airflow_provider_copernica.output.sql.tables import TableName, misfits

if TYPE_CHECKING:
    from airflow_provider_copernica.catalog.datasets import Dataset
    from airflow_provider_copernica.engine.extract import Log
    from airflow_provider_copernica.engine.id_ranges import IdRange
    from airflow_provider_copernica.interval import Window

BATCH_ROWS = 20_000
REJECTED_SUFFIX = "__rejected"
REJECTED_COLUMNS = (
    Column("_rejected_at", "timestamp"),
    Column("_run_id", "str"),
    Column("_interval_start", "timestamp"),
    Column("_interval_end", "timestamp"),
    Column("reason", "str"),
    Column("row", "json"),
)


@dataclass
class LoadResult:
    """What one load did: rows staged, rows rejected, and the statements' row counts."""

    rows: int = 0
    rejected: int = 0
    counts: dict[str, int] = field(default_factory=dict)


class TableLoad:
    """One run of one write mode into one table (see the module docstring)."""

    def __init__(
        self,
        dialect: SqlDialect,
        table: TableName,
        mode: WriteMode,
        entry: Dataset,
        columns: Sequence[Column],
        *,
        window: Window | None,
        extracted_at: datetime,
        run_id: str | None = None,
        schema_policy: str = "evolve",
        log: Log | None = None,
        id_range: IdRange | None = None,
    ) -> None:
        self.dialect = dialect
        self.table = table
        self.mode = mode
        self.entry = entry
        self.window = window
        self.extracted_at = extracted_at
        self.run_id = run_id
        self.schema_policy = schema_policy
        self.log = log or logging.getLogger(__name__)
        self.id_range = id_range
        self.data_columns = list(columns)
        self.key = "id" if entry.deletions_of is not None else entry.key
        self.target = dialect.table(table)
        self.bare = dialect.quote(table.name)
        self.stage = ""
        self.columns: list[str] = [c.name for c in columns]
        lacking = [c for c in mode.required_columns(entry) if c not in self.columns]
        if lacking:
            raise CopernicaConfigError(
                f"write_mode={mode.name!r} needs the column(s) {', '.join(lacking)} of "
                f"{entry.name}: add them to `fields` (or leave `fields` out)"
            )
        self._cursor: Any = None
        self.result = LoadResult()

    # -- SQL helpers for the write modes -------------------------------------------------
    def q(self, identifier: str) -> str:
        return self.dialect.quote(identifier)

    @property
    def names(self) -> str:
        """The loaded columns, quoted, comma-separated."""
        return ", ".join(self.q(c) for c in self.columns)

    def names_of(self, alias: str) -> str:
        return ", ".join(f"{alias}.{self.q(c)}" for c in self.columns)

    def execute(self, sql: str, params: Sequence[Any] = (), *, count: str | None = None) -> None:
        self._cursor.execute(self.dialect.sql(sql), tuple(params))
        if count is not None:
            affected = getattr(self._cursor, "rowcount", -1)
            if isinstance(affected, int) and affected >= 0:
                self.result.counts[count] = self.result.counts.get(count, 0) + affected

    def in_range(self) -> tuple[str, tuple[int, ...]]:
        """``" AND key > ? [AND key <= ?]"`` and its parameters for the load's id range
        (a partition replaces only its own rows); empty without one."""
        if self.id_range is None:
            return "", ()
        key = f"{self.bare}.{self.q(self.key)}"
        if self.id_range.upto is None:
            return f" AND {key} > ?", (self.id_range.after,)
        return f" AND {key} > ? AND {key} <= ?", (self.id_range.after, self.id_range.upto)

    # -- 1. setup ------------------------------------------------------------------------
    def setup(self) -> None:
        """Create or check the table (its own transaction, before any data request)."""
        d = self.dialect
        with d.transaction() as cursor:
            self._cursor = cursor
            d.lock_table(cursor, self.table)
            existing = d.existing_columns(cursor, self.table)
            if self.entry.deletions_of is not None:
                self._setup_deletions(existing)
            elif existing is None:
                self._create(self.mode.table_columns(self.data_columns))
            else:
                self._check(existing)
            if self.mode.rejects:
                rejected = self.table.suffixed(REJECTED_SUFFIX)
                if d.existing_columns(cursor, rejected) is None:
                    self._create(list(REJECTED_COLUMNS), table=rejected, key=(), index=None)
        self._cursor = None

    def _create(
        self,
        columns: Sequence[Column],
        *,
        table: TableName | None = None,
        key: tuple[str, ...] | None = None,
        index: str | None = "",
    ) -> None:
        d = self.dialect
        table = table or self.table
        key = self.mode.primary_key(self.entry) if key is None else key
        body = [f"{d.quote(c.name)} {d.column_type(c)}" for c in columns]
        if key:
            body.append(f"PRIMARY KEY ({', '.join(d.quote(k) for k in key)})")
        self.execute(f"CREATE TABLE {d.table(table)} ({', '.join(body)})")
        if index == "":
            index = self.entry.timestamp_field or (
                "_interval_start" if "_interval_start" in self.columns else None
            )
        if index and any(c.name == index for c in columns) and index not in key[:1]:
            self.execute(d.create_index_sql(table, index))
        self.log.info("Created table %s (%d columns, key %s)", table, len(columns), key)

    def _check(self, existing: dict[str, str]) -> None:
        wanted = self.mode.table_columns(self.data_columns)
        bad = misfits(wanted, existing)
        if bad:
            raise CopernicaSchemaDriftError(
                f"Table {self.table} cannot hold the data of {self.entry.name}: "
                f"{'; '.join(bad)}. Nothing was written. Change those columns' types, or load "
                "into another table."
            )
        missing = [c for c in wanted if c.name not in existing]
        if not missing:
            return
        names = ", ".join(c.name for c in missing)
        if self.schema_policy == "fail":
            raise CopernicaSchemaDriftError(
                f"Table {self.table} lacks column(s) the data of {self.entry.name} has: "
                f"{names} (schema_policy='fail'). Nothing was written. Add them, or use "
                "schema_policy='evolve' (adds them) or 'pin' (leaves them out)."
            )
        if self.schema_policy == "pin":
            self.log.warning(
                "schema_policy=pin: column(s) left out (not in table %s): %s", self.table, names
            )
            self.columns = [c for c in self.columns if c in existing]
            return
        for column in missing:
            self.execute(
                f"ALTER TABLE {self.target} ADD COLUMN {self.q(column.name)} "
                f"{self.dialect.column_type(column)}"
            )
        self.log.info("schema_policy=evolve: added column(s) to %s: %s", self.table, names)

    def _setup_deletions(self, existing: dict[str, str] | None) -> None:
        entry = self.entry
        if existing is None:
            raise CopernicaConfigError(
                f"write_mode={self.mode.name!r} applies {entry.name} to table {self.table}, "
                "which does not exist: load the records into it first (e.g. profiles with "
                "write_mode='upsert' or 'history'), or name that table in `table`"
            )
        if self.key not in existing:
            raise CopernicaConfigError(
                f"Table {self.table} has no {self.key!r} column to match the ids of "
                f"{entry.name}; its columns: {', '.join(existing)}"
            )
        if isinstance(self.mode, SoftDelete) and DELETED_AT.name not in existing:
            self.execute(
                f"ALTER TABLE {self.target} ADD COLUMN {self.q(DELETED_AT.name)} "
                f"{self.dialect.column_type(DELETED_AT)}"
            )

    # -- 2. the load -----------------------------------------------------------------------
    def run(
        self,
        pages: Iterable[list[dict[str, Any]]],
        before_apply: Callable[[LoadResult], None] | None = None,
    ) -> LoadResult:
        """Stage every page (a direct mode: insert it), apply the write mode, commit: one
        transaction."""
        d = self.dialect
        direct = self.mode.direct
        stage = self.table if direct else d.stage_name(uuid.uuid4().hex[:16])
        self.stage = d.table(stage)
        staged = [c for c in self.data_columns if c.name in self.columns]
        convert = d.row_converter(staged)
        rejected: list[tuple[Any, ...]] = []
        batch: list[Any] = []
        with d.transaction() as cursor:
            self._cursor = cursor
            if direct:
                self.mode.clear(self)
            else:
                d.create_stage(cursor, stage, staged)
            for page in pages:
                for row in page:
                    try:
                        batch.append(convert(row))
                    except Misfit as misfit:
                        if not self.mode.rejects:
                            raise CopernicaError(
                                f"A row of {self.entry.name} does not fit table {self.table}: "
                                f"{misfit} (key {row.get(self.key)!r}). Nothing was written. "
                                "write_mode='insert_ignore' sets such rows aside in "
                                f"{self.table.suffixed(REJECTED_SUFFIX)}."
                            ) from None
                        rejected.append(self._rejected_row(row, str(misfit)))
                if len(batch) >= BATCH_ROWS:
                    self._stage(cursor, stage, staged, batch)
                    batch = []
            if batch:
                self._stage(cursor, stage, staged, batch)
            self.result.rejected = len(rejected)
            if before_apply is not None:
                before_apply(self.result)
            self.mode.apply(self)
            if rejected:
                d.stage_rows(
                    cursor, self.table.suffixed(REJECTED_SUFFIX), REJECTED_COLUMNS, rejected
                )
                self.log.warning(
                    "%d row(s) did not fit %s: set aside in %s (with the reason)",
                    len(rejected),
                    self.table,
                    self.table.suffixed(REJECTED_SUFFIX),
                )
            if direct:
                self.result.counts["inserted"] = self.result.rows
            else:
                self.execute(f"DROP TABLE {self.stage}")
        self._cursor = None
        self.log.info(
            "Loaded %d rows into %s (write_mode=%s): %s",
            self.result.rows,
            self.table,
            self.mode.name,
            self.result.counts,
        )
        return self.result

    def _stage(self, cursor: Any, stage: TableName, columns: list[Column], rows: list) -> None:
        self.dialect.stage_rows(cursor, stage, columns, rows)
        self.result.rows += len(rows)
        self.log.info("Staged %d rows for %s", self.result.rows, self.table)

    def _rejected_row(self, row: dict[str, Any], reason: str) -> tuple[Any, ...]:
        from airflow_provider_copernica.engine.records import iso_utc
        from airflow_provider_copernica.output.sql.dialects import _json

        window = self.window
        return (
            iso_utc(self.extracted_at),
            self.run_id,
            iso_utc(window.start) if window else None,
            iso_utc(window.end) if window else None,
            reason,
            _json(row),
        )


__all__ = ["BATCH_ROWS", "LoadResult", "TableLoad"]
