"""Real databases for the SQL load tests: Debian's PostgreSQL (started once per session as
the Celery suite starts it, a fresh database per test), and DuckDB and SQLite files in the
test's tmp_path, each reached through its Airflow connection and hook. No mocks."""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

DATABASES = ("postgres", "duckdb", "sqlite")
SQL_CONN_ID = "copernica_sql_test"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """Debian's PostgreSQL on 127.0.0.1:<free port> for the whole session."""
    from celery_cluster.services import Postgres, postgres_bin_dir

    assert postgres_bin_dir() is not None, "PostgreSQL is not installed (see .ci/run)"
    server = Postgres().start()
    yield server
    server.stop()


class Database:
    """One empty database and the Airflow connection ``copernica_sql_test`` to it."""

    def __init__(self, kind: str, conn: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
        self.kind = kind
        self.conn = conn
        self.conn_id = SQL_CONN_ID
        monkeypatch.setenv(f"AIRFLOW_CONN_{SQL_CONN_ID.upper()}", json.dumps(conn))

    def hook(self) -> Any:
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(self.conn_id).get_hook()

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with contextlib.closing(self.hook().get_conn()) as conn:
            cursor = conn if self.kind == "duckdb" else conn.cursor()
            cursor.execute(sql)
            return [tuple(r) for r in cursor.fetchall()]

    def execute(self, sql: str) -> None:
        with contextlib.closing(self.hook().get_conn()) as conn:
            cursor = conn if self.kind == "duckdb" else conn.cursor()
            cursor.execute(sql)
            conn.commit()

    def columns(self, table: str) -> list[str]:
        if self.kind == "sqlite":
            return [r[1] for r in self.query(f"PRAGMA table_info({self.quote(table)})")]
        return [
            r[0]
            for r in self.query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = "
                f"'{table}' ORDER BY ordinal_position"
            )
        ]

    def rows(self, table: str, order: Sequence[str] = ("id",)) -> list[dict[str, Any]]:
        """Every row as a dict of plain values (timestamps as UTC ISO text, JSON parsed)."""
        names = self.columns(table)
        by = ", ".join(self.quote(c) for c in order)
        found = self.query(f"SELECT * FROM {self.quote(table)} ORDER BY {by}")
        return [dict(zip(names, map(plain, r), strict=True)) for r in found]

    def count(self, table: str) -> int:
        return int(self.query(f"SELECT COUNT(*) FROM {self.quote(table)}")[0][0])

    def exists(self, table: str) -> bool:
        return bool(self.columns(table))

    def checksum(self, table: str, order: Sequence[str] = ("id",)) -> str:
        text = json.dumps(self.rows(table, order), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def plain(value: Any) -> Any:
    """A database value as the JSONL output would hold it."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in "[{":
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def make_database(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Database:
    if kind == "duckdb":
        return Database(
            kind, {"conn_type": "duckdb", "host": str(tmp_path / "copernica.duckdb")}, monkeypatch
        )
    if kind == "sqlite":
        return Database(
            kind, {"conn_type": "sqlite", "host": str(tmp_path / "copernica.sqlite")}, monkeypatch
        )
    server = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    import psycopg

    with psycopg.connect(
        host="127.0.0.1",
        port=server.port,
        user=server.user,
        dbname=server.database,
        autocommit=True,
    ) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    conn = {
        "conn_type": "postgres",
        "host": "127.0.0.1",
        "port": server.port,
        "login": server.user,
        "schema": name,
    }
    return Database(kind, conn, monkeypatch)


def bool_of(value: Any) -> bool | None:
    """SQLite keeps booleans as 0/1."""
    return None if value is None else bool(value)
