"""What differs between databases in a SQL load: one :class:`SqlDialect` per family.

Everything goes through the connection's Airflow hook (a common.sql ``DbApiHook``): its
``get_conn()`` is the only way in, so no driver is configured here. A dialect says

- how identifiers are quoted: by the database's SQLAlchemy dialect (``quote_identifier``);
- how a transaction is opened on the hook's connection;
- how an existing table's columns are read;
- its bulk path into the staging table: ``COPY ... FROM STDIN`` for PostgreSQL
  (:class:`PostgresDialect`), an Arrow table for DuckDB (:class:`DuckDBDialect`), batched
  ``executemany`` for everything else (:class:`SqlDialect`, SQLite: :class:`SqliteDialect`);
- the table's Asset URI and OpenLineage naming.

:func:`dialect_for` picks one by the hook's ``dialect_name``; any other database with a
common.sql hook gets the generic :class:`SqlDialect` (standard SQL, one transaction).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar

import orjson

from airflow_provider_copernica.catalog.schema import Column
from airflow_provider_copernica.engine.records import iso_utc
from airflow_provider_copernica.exceptions import CopernicaConfigError, CopernicaError
from airflow_provider_copernica.output.sql.tables import TYPE_MAPS, TableName

LOCK_WAIT_SECONDS = 600.0
"""How long a DuckDB load waits for another process's write lock on the file."""
_WRITER_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


class Misfit(ValueError):
    """A value that does not fit its column (``column``, ``value``)."""

    def __init__(self, column: Column, value: Any) -> None:
        super().__init__(
            f"column {column.name!r} has type {column.type} but the row holds {value!r}"
        )
        self.column = column


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _converter(column: Column) -> Callable[[Any], Any]:
    """value -> the value the database gets (None stays None); raises :class:`Misfit`."""
    kind = column.type

    def exactly(cls: type) -> Callable[[Any], Any]:
        """A converter that passes None and values of exactly ``cls`` (no subclasses)."""

        def check(v: Any) -> Any:
            if v is None or v.__class__ is cls:
                return v
            raise Misfit(column, v)

        return check

    def to_float(v: Any) -> Any:
        if v is None or v.__class__ is float:
            return v
        if v.__class__ is int:
            return float(v)
        raise Misfit(column, v)

    def to_timestamp(v: Any) -> Any:
        if v is None:
            return v
        if v.__class__ is str and len(v) >= 10 and v[4] == "-" and v[7] == "-":
            return v
        raise Misfit(column, v)

    def to_list(v: Any) -> Any:
        if v is None:
            return v
        if isinstance(v, list):
            return _json(v)
        raise Misfit(column, v)

    def to_json(v: Any) -> Any:
        return None if v is None else _json(v)

    return {
        "int": exactly(int),
        "float": to_float,
        "bool": exactly(bool),
        "str": exactly(str),
        "timestamp": to_timestamp,
        "list": to_list,
        "json": to_json,
    }[kind]


class RowConverter:
    """Output rows -> tuples in column order, checked against the column types."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.names = [c.name for c in columns]
        self._convert = list(zip(self.names, map(_converter, columns), strict=True))

    def __call__(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(convert(row.get(name)) for name, convert in self._convert)


# One COPY text cell per column type, checked as _converter checks (``{v}``: the value).
_COPY_CELLS = {
    "int": "N if {v} is None else str({v}) if {v}.__class__ is int else bad({i}, {v})",
    "float": "N if {v} is None else repr({v}) if {v}.__class__ is float else "
    "repr(float({v})) if {v}.__class__ is int else bad({i}, {v})",
    "bool": "N if {v} is None else ('t' if {v} else 'f') if {v}.__class__ is bool "
    "else bad({i}, {v})",
    "str": "N if {v} is None else (esc({v}) if special({v}) else {v}) "
    "if {v}.__class__ is str else bad({i}, {v})",
    "timestamp": "N if {v} is None else {v} if {v}.__class__ is str and len({v}) >= 10 "
    "and {v}[4] == '-' and {v}[7] == '-' and not special({v}) else bad({i}, {v})",
    "list": "N if {v} is None else text(json({v})) if isinstance({v}, list) else bad({i}, {v})",
    "json": "N if {v} is None else text(json({v}))",
}


def copy_line_function(columns: Sequence[Column]) -> Callable[[dict[str, Any]], str]:
    """A row -> its line of PostgreSQL's COPY text format, compiled once per column list
    (the per-value checks of :class:`RowConverter` inlined); raises :class:`Misfit`."""

    def bad(index: int, value: Any) -> str:
        raise Misfit(columns[index], value)

    def esc(value: str) -> str:
        return _COPY_SPECIAL.sub(lambda m: _COPY_ESCAPES[m.group()], value)

    def text(value: str) -> str:
        return esc(value) if _COPY_SPECIAL.search(value) else value

    lines = ["def _line(r):"]
    for i, column in enumerate(columns):
        lines.append(f"    v{i} = r.get({column.name!r})")
        lines.append(f"    v{i} = " + _COPY_CELLS[column.type].format(v=f"v{i}", i=i))
    lines.append("    return '\t'.join((" + "".join(f"v{i}, " for i in range(len(columns))) + "))")
    namespace: dict[str, Any] = {
        "N": "\\N",
        "bad": bad,
        "esc": esc,
        "text": text,
        "json": _json,
        "special": _COPY_SPECIAL.search,
    }
    exec("\n".join(lines), namespace)  # noqa: S102 - code built from the column types only
    return namespace["_line"]


class SqlDialect:
    """The generic path: standard SQL, one transaction, batched ``executemany``."""

    name: ClassVar[str] = "generic"
    types: ClassVar[str] = "generic"
    sqlalchemy_name: ClassVar[str | None] = None
    asset_scheme: ClassVar[str | None] = None
    default_schema: ClassVar[str | None] = None

    def __init__(self, hook: Any) -> None:
        self.hook = hook
        self.type_map = TYPE_MAPS[self.types]
        self._preparer = _identifier_preparer(self.sqlalchemy_name or hook.dialect_name)
        self.placeholder = str(getattr(hook, "placeholder", "%s") or "%s")

    # -- SQL text --------------------------------------------------------------------------
    def quote(self, identifier: str) -> str:
        """``identifier`` quoted by the database's SQLAlchemy dialect (always quoted)."""
        return str(self._preparer.quote_identifier(identifier))

    def table(self, table: TableName) -> str:
        quoted = self.quote(table.name)
        return f"{self.quote(table.schema)}.{quoted}" if table.schema else quoted

    def column_type(self, column: Column) -> str:
        return self.type_map[column.type]

    def param(self, moment: datetime) -> Any:
        """A timestamp bound as a statement parameter (ISO text in UTC: the stored form)."""
        return iso_utc(moment)

    def sql(self, text: str) -> str:
        """``text`` with ``?`` placeholders in the hook's paramstyle."""
        return text.replace("?", self.placeholder) if self.placeholder != "?" else text

    # -- connection and transaction ----------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor inside one transaction: committed on success, rolled back otherwise."""
        with self.writer_lock():
            yield from self._transaction()

    def writer_lock(self) -> contextlib.AbstractContextManager[Any]:
        """Held for a whole transaction (where one process's writers must queue)."""
        return contextlib.nullcontext()

    def _transaction(self) -> Iterator[Any]:
        conn = self.connect()
        try:
            cursor = self.begin(conn)
            try:
                yield cursor
                self.commit(conn)
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.rollback()
                raise
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def connect(self) -> Any:
        return self.hook.get_conn()

    def begin(self, conn: Any) -> Any:
        with contextlib.suppress(Exception):
            self.hook.set_autocommit(conn, False)
        return conn.cursor()

    def commit(self, conn: Any) -> None:
        conn.commit()

    def lock_table(self, cursor: Any, table: TableName) -> None:
        """Serialise the table setup of concurrent loads (where the database needs it)."""

    # -- introspection -------------------------------------------------------------------
    def existing_columns(self, cursor: Any, table: TableName) -> dict[str, str] | None:
        """``{column: declared type}`` of ``table`` in order; None when it does not exist."""
        schema = "?" if table.schema else self.current_schema_sql()
        cursor.execute(
            self.sql(
                "SELECT column_name, data_type FROM information_schema.columns "
                f"WHERE table_schema = {schema} AND table_name = ? ORDER BY ordinal_position"
            ),
            (table.schema, table.name) if table.schema else (table.name,),
        )
        found = {str(name): str(kind) for name, kind in cursor.fetchall()}
        return found or None

    def current_schema_sql(self) -> str:
        return "current_schema()"

    # -- staging -------------------------------------------------------------------------
    def row_converter(self, columns: Sequence[Column]) -> Callable[[dict[str, Any]], Any]:
        """A row -> what :meth:`stage_rows` takes (here: a tuple in column order)."""
        return RowConverter(columns)

    def create_stage(self, cursor: Any, stage: TableName, columns: Sequence[Column]) -> None:
        body = ", ".join(f"{self.quote(c.name)} {self.column_type(c)}" for c in columns)
        cursor.execute(f"CREATE TEMPORARY TABLE {self.table(stage)} ({body})")

    def stage_rows(
        self, cursor: Any, stage: TableName, columns: Sequence[Column], rows: list[tuple]
    ) -> None:
        """Bulk-insert converted rows (tuples in column order) into the staging table."""
        names = ", ".join(self.quote(c.name) for c in columns)
        marks = ", ".join([self.placeholder] * len(columns))
        cursor.executemany(f"INSERT INTO {self.table(stage)} ({names}) VALUES ({marks})", rows)

    def stage_name(self, token: str) -> TableName:
        return TableName(f"copernica_stage_{token}")

    def create_index_sql(self, table: TableName, column: str) -> str:
        index = self.quote(f"{table.name}__{column}_idx"[:63])
        return f"CREATE INDEX {index} ON {self.table(table)} ({self.quote(column)})"

    # -- statements the write modes may specialise --------------------------------------
    upsert_native: ClassVar[bool] = False

    # -- naming ----------------------------------------------------------------------------
    def connection(self) -> Any:
        return self.hook.get_connection(self.hook.get_conn_id())

    def asset_uri(self, table: TableName) -> str:
        conn = self.connection()
        scheme = self.asset_scheme or str(getattr(conn, "conn_type", None) or self.name)
        host = conn.host or "localhost"
        where = f"{host}:{conn.port}" if conn.port else host
        database = f"/{conn.schema}" if conn.schema else ""
        schema = table.schema or self.default_schema
        path = "/".join(p for p in (schema, table.name) if p)
        return f"{scheme}://{where}{database}/{path}"

    def lineage_naming(self, table: TableName) -> tuple[str, str]:
        """``(namespace, name)`` of the table per the OpenLineage naming spec."""
        conn = self.connection()
        info = None
        with contextlib.suppress(Exception):
            info = self.hook.get_openlineage_database_info(conn)
        scheme = getattr(info, "scheme", None) or self.asset_scheme or self.name
        authority = getattr(info, "authority", None) or (
            f"{conn.host}:{conn.port}" if conn.port else (conn.host or "localhost")
        )
        database = getattr(info, "database", None) or conn.schema
        schema = table.schema or self.default_schema
        name = ".".join(p for p in (database, schema, table.name) if p)
        return f"{scheme}://{authority}", name


class PostgresDialect(SqlDialect):
    """PostgreSQL (``PostgresHook``): ``COPY ... FROM STDIN`` in text format."""

    name = "postgresql"
    types = "postgresql"
    sqlalchemy_name = "postgresql"
    asset_scheme = "postgres"
    default_schema = "public"
    upsert_native = True

    def param(self, moment: datetime) -> Any:
        return moment

    def lock_table(self, cursor: Any, table: TableName) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"copernica:{table}",))

    def row_converter(self, columns: Sequence[Column]) -> Callable[[dict[str, Any]], Any]:
        return copy_line_function(columns)

    def stage_rows(
        self, cursor: Any, stage: TableName, columns: Sequence[Column], rows: list[Any]
    ) -> None:
        """``rows``: COPY text lines (:meth:`row_converter`), or tuples."""
        names = ", ".join(self.quote(c.name) for c in columns)
        if rows and isinstance(rows[0], tuple):
            text = _copy_text(rows)
        else:
            text = "\n".join(rows) + "\n" if rows else ""
        data = text.encode("utf-8")
        statement = f"COPY {self.table(stage)} ({names}) FROM STDIN"
        if hasattr(cursor, "copy_expert"):  # psycopg2
            cursor.copy_expert(statement, io.BytesIO(data))
            return
        with cursor.copy(statement) as copy:  # psycopg 3
            copy.write(data)

    def lineage_naming(self, table: TableName) -> tuple[str, str]:
        conn = self.connection()
        port = conn.port or 5432
        schema = table.schema or self.default_schema
        return (
            f"postgres://{conn.host or 'localhost'}:{port}",
            f"{conn.schema}.{schema}.{table.name}",
        )

    def asset_uri(self, table: TableName) -> str:
        conn = self.connection()
        schema = table.schema or self.default_schema
        return (
            f"postgres://{conn.host or 'localhost'}:{conn.port or 5432}/{conn.schema}/"
            f"{schema}/{table.name}"
        )


def _copy_text(rows: list[tuple]) -> str:
    """Rows in PostgreSQL's COPY text format (tab-separated, ``\\N`` for null)."""
    out = []
    for row in rows:
        cells = []
        for value in row:
            if value is None:
                cells.append("\\N")
            elif value.__class__ is str:
                if _COPY_SPECIAL.search(value):
                    value = _COPY_SPECIAL.sub(lambda m: _COPY_ESCAPES[m.group()], value)
                cells.append(value)
            elif value.__class__ is bool:
                cells.append("t" if value else "f")
            else:
                cells.append(repr(value) if value.__class__ is float else str(value))
        out.append("\t".join(cells))
    out.append("")
    return "\n".join(out)


class DuckDBDialect(SqlDialect):
    """DuckDB (``apache-airflow-providers-duckdb``): each batch as an Arrow table.

    DuckDB allows one writing process per database file: a load waits (up to
    :data:`LOCK_WAIT_SECONDS`) for another process's lock, so concurrent loads queue.
    The hook's connection is used directly (a DuckDB cursor is a second connection with its
    own transaction)."""

    name = "duckdb"
    types = "duckdb"
    sqlalchemy_name = "postgresql"  # DuckDB quotes identifiers as PostgreSQL does
    asset_scheme = "duckdb"
    default_schema = "main"

    def param(self, moment: datetime) -> Any:
        return moment

    def writer_lock(self) -> contextlib.AbstractContextManager[Any]:
        # Connections of one process share the database and conflict on concurrent writes
        # (optimistic concurrency): the loads of one process queue here, those of other
        # processes on the file lock (connect).
        with _LOCKS_GUARD:
            return _WRITER_LOCKS.setdefault(self._path(), threading.Lock())

    def connect(self) -> Any:
        import duckdb

        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                return self.hook.get_conn()
            except duckdb.IOException as err:
                if "lock" not in str(err).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def begin(self, conn: Any) -> Any:
        conn.execute("BEGIN TRANSACTION")
        return _DuckCursor(conn)

    def stage_rows(
        self, cursor: Any, stage: TableName, columns: Sequence[Column], rows: list[tuple]
    ) -> None:
        try:
            import pyarrow as pa
        except ImportError:  # pragma: no cover - the duckdb extra installs it
            super().stage_rows(cursor, stage, columns, rows)
            return
        arrow = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
        values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        batch = pa.table(
            {
                f"c{i}": pa.array(list(vals), type=arrow.get(c.type, pa.string()))
                for i, (c, vals) in enumerate(zip(columns, values, strict=True))
            }
        )
        conn = cursor.conn
        view = f"copernica_batch_{os.getpid()}"
        conn.register(view, batch)
        try:
            names = ", ".join(self.quote(c.name) for c in columns)
            conn.execute(f"INSERT INTO {self.table(stage)} ({names}) SELECT * FROM {view}")
        finally:
            conn.unregister(view)

    def _path(self) -> str:
        database = str(self.hook.get_database())
        return os.path.abspath(database) if database != ":memory:" else database

    def asset_uri(self, table: TableName) -> str:
        schema = table.schema or self.default_schema
        return f"duckdb://{self._path()}/{schema}/{table.name}"

    def lineage_naming(self, table: TableName) -> tuple[str, str]:
        schema = table.schema or self.default_schema
        return f"duckdb://{self._path()}", f"{schema}.{table.name}"


class _DuckCursor:
    """The DB-API cursor surface the loader uses, on the DuckDB connection itself."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.rowcount = -1

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(sql, list(params))
        with contextlib.suppress(Exception):
            self.rowcount = int(self.conn.rowcount)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, [list(r) for r in rows])

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self.conn.fetchall())

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.conn.fetchone()


class SqliteDialect(SqlDialect):
    """SQLite (``apache-airflow-providers-sqlite``): the generic path, with an explicit
    ``BEGIN IMMEDIATE`` (the write lock is taken at once, so concurrent loads queue on the
    busy timeout instead of failing half-way)."""

    name = "sqlite"
    sqlalchemy_name = "sqlite"
    asset_scheme = "sqlite"

    def begin(self, conn: Any) -> Any:
        conn.isolation_level = None  # explicit transactions only
        cursor = conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(LOCK_WAIT_SECONDS * 1000)}")
        cursor.execute("BEGIN IMMEDIATE")
        return cursor

    def commit(self, conn: Any) -> None:
        conn.execute("COMMIT")

    def existing_columns(self, cursor: Any, table: TableName) -> dict[str, str] | None:
        if table.schema:
            cursor.execute(
                "SELECT name, type FROM pragma_table_info(?, ?)", (table.name, table.schema)
            )
        else:
            cursor.execute("SELECT name, type FROM pragma_table_info(?)", (table.name,))
        found = {str(name): str(kind) for name, kind in cursor.fetchall()}
        return found or None

    def create_index_sql(self, table: TableName, column: str) -> str:
        index = self.quote(f"{table.name}__{column}_idx"[:63])
        if table.schema:  # SQLite qualifies the index, not the table
            index = f"{self.quote(table.schema)}.{index}"
        return f"CREATE INDEX {index} ON {self.quote(table.name)} ({self.quote(column)})"

    def _path(self) -> str:
        conn = self.connection()
        return os.path.abspath(conn.host) if conn.host else ":memory:"

    def asset_uri(self, table: TableName) -> str:
        return f"sqlite://{self._path()}/{table.name}"

    def lineage_naming(self, table: TableName) -> tuple[str, str]:
        return f"sqlite://{self._path()}", table.name


DIALECTS: dict[str, type[SqlDialect]] = {
    "postgresql": PostgresDialect,
    "postgres": PostgresDialect,
    "duckdb": DuckDBDialect,
    "sqlite": SqliteDialect,
}


def _identifier_preparer(name: str | None) -> Any:
    from sqlalchemy.dialects import registry
    from sqlalchemy.engine.default import DefaultDialect

    try:
        dialect = registry.load(name or "")()
    except Exception:  # noqa: BLE001 - no SQLAlchemy dialect: ANSI quoting
        dialect = DefaultDialect()
    return dialect.identifier_preparer


def check_sql_hook(hook: Any, conn_id: str) -> None:
    """Refuse a hook that is not a common.sql ``DbApiHook``, naming its type."""
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    if not isinstance(hook, DbApiHook):
        kind = f"{type(hook).__module__}.{type(hook).__qualname__}"
        raise CopernicaConfigError(
            f"sql_conn_id {conn_id!r} gives a {kind}, which is not a SQL hook: "
            "CopernicaToSqlOperator needs a connection whose hook is a common.sql DbApiHook "
            "(postgres, duckdb, sqlite, mysql, mssql, ...)"
        )


def sql_hook(conn_id: str) -> Any:
    """The Airflow hook of ``conn_id``, checked to be a ``DbApiHook``."""
    from airflow.sdk import BaseHook

    try:
        hook = BaseHook.get_connection(conn_id).get_hook()
    except CopernicaError:
        raise
    except Exception as err:
        raise CopernicaConfigError(
            f"sql_conn_id {conn_id!r}: no usable hook ({type(err).__name__}: {err}). Install "
            "the database's Airflow provider (e.g. apache-airflow-providers-postgres, "
            "-duckdb or -sqlite) and check the connection's type"
        ) from None
    check_sql_hook(hook, conn_id)
    return hook


def dialect_for(hook: Any) -> SqlDialect:
    """The dialect of a ``DbApiHook`` (the generic one for a database not listed)."""
    name = str(getattr(hook, "dialect_name", "") or "").lower()
    return DIALECTS.get(name, SqlDialect)(hook)


__all__ = [
    "DIALECTS",
    "DuckDBDialect",
    "Misfit",
    "PostgresDialect",
    "RowConverter",
    "SqlDialect",
    "SqliteDialect",
    "check_sql_hook",
    "dialect_for",
    "sql_hook",
]
