"""The SQL load itself (``output/sql``) against real PostgreSQL, DuckDB and SQLite: the
version guard of ``upsert``, identifiers, misfits, and a SIGKILL in the middle of a load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sql_databases import DATABASES, Database, make_database, postgres_server  # noqa: F401

from airflow_provider_copernica.catalog.datasets import get_dataset
from airflow_provider_copernica.catalog.schema import Column
from airflow_provider_copernica.exceptions import CopernicaConfigError, CopernicaError
from airflow_provider_copernica.interval import Window
from airflow_provider_copernica.output.sql.dialects import dialect_for
from airflow_provider_copernica.output.sql.load import TableLoad
from airflow_provider_copernica.output.sql.modes import MODES, check_write_mode  # noqa: F401
from airflow_provider_copernica.output.sql.tables import TableName

DAY = datetime(2026, 11, 17, tzinfo=timezone.utc)
COLUMNS = [
    *get_dataset("profiles").columns_for(None),
    Column("fields.city", "str"),
    Column("fields.score", "float"),
]


@pytest.fixture(params=DATABASES)
def database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Database:
    return make_database(request.param, tmp_path, monkeypatch, request)


def profile(ident: int, modified: datetime, city: str) -> dict[str, Any]:
    return {
        "id": ident,
        "database": 7616,
        "secret": f"s{ident}",
        "created": DAY.isoformat(),
        "modified": modified.isoformat(),
        "removed": None,
        "interests": ["news", 'quote"d'],
        "fields.city": city,
        "fields.score": 1.5,
    }


def load(database: Database, mode: str | None, rows: list[dict[str, Any]], **kwargs: Any) -> Any:
    entry = get_dataset(kwargs.pop("dataset", "profiles"))
    table = TableLoad(
        dialect_for(database.hook()),
        TableName.parse(kwargs.pop("table", "profiles")),
        check_write_mode(mode, entry),
        entry,
        kwargs.pop("columns", COLUMNS),
        window=kwargs.pop("window", Window(DAY, DAY + timedelta(days=1))),
        extracted_at=DAY,
        **kwargs,
    )
    table.setup()
    return table.run([rows])


def test_upsert_never_replaces_a_newer_row_with_an_older_one(database: Database) -> None:
    newer, older = DAY + timedelta(days=2), DAY
    load(database, "upsert", [profile(1, newer, "Utrecht"), profile(2, older, "Delft")])
    # an out-of-order backfill brings an older version of 1 and a newer one of 2
    load(database, "upsert", [profile(1, older, "Old"), profile(2, newer, "Leiden")])
    rows = database.rows("profiles")
    assert [(r["id"], r["fields.city"]) for r in rows] == [(1, "Utrecht"), (2, "Leiden")]
    assert rows[0]["interests"] == ["news", 'quote"d']
    assert rows[0]["modified"] == newer.isoformat()


def test_quoted_identifiers_and_a_schema_qualified_table(database: Database) -> None:
    if database.kind == "sqlite":
        pytest.skip("SQLite has no schemas (an attached database would be one)")
    database.execute('CREATE SCHEMA "Marketing ""EU"""')
    load(database, None, [profile(1, DAY, "a\tb\nc\\d")], table='"Marketing ""EU""".Profiles')
    found = database.query('SELECT "fields.city" FROM "Marketing ""EU"""."profiles"')
    assert found == [("a\tb\nc\\d",)]


@pytest.mark.parametrize(
    "text",
    ["1abc", "a.b.c", "events; DROP TABLE x", '"unterminated', "", "a b", '""', None, 3],
)
def test_a_table_name_that_is_not_an_identifier_is_refused(text: Any) -> None:
    with pytest.raises(CopernicaConfigError, match="not a table name"):
        TableName.parse(text)


def test_plain_identifiers_fold_to_lower_case_and_quoted_ones_are_kept() -> None:
    assert TableName.parse("Analytics.Events") == TableName("events", "analytics")
    assert TableName.parse('"Analytics"."My ""T"""') == TableName('My "T"', "Analytics")


def test_a_row_that_does_not_fit_fails_the_load_and_writes_nothing(database: Database) -> None:
    load(database, "upsert", [profile(1, DAY, "Delft")])
    before = database.checksum("profiles")
    bad = profile(2, DAY, "Gouda") | {"fields.score": "n/a"}
    with pytest.raises(CopernicaError, match=r"fields\.score.*'n/a'.*Nothing was written"):
        load(database, "upsert", [profile(3, DAY, "Ede"), bad])
    assert database.checksum("profiles") == before


def test_insert_ignore_sets_misfits_aside_with_the_reason(database: Database) -> None:
    load(database, "insert_ignore", [profile(1, DAY, "Delft")])
    bad = profile(2, DAY, "Gouda") | {"fields.score": "n/a"}
    result = load(
        database, "insert_ignore", [profile(1, DAY, "Again"), bad, profile(3, DAY, "Ede")]
    )
    assert result.rejected == 1 and result.rows == 2
    assert [(r["id"], r["fields.city"]) for r in database.rows("profiles")] == [
        (1, "Delft"),
        (3, "Ede"),
    ]
    (rejected,) = database.rows("profiles__rejected", order=("reason",))
    assert "fields.score" in rejected["reason"] and "'n/a'" in rejected["reason"]
    assert rejected["row"]["id"] == 2


def test_an_existing_table_whose_columns_cannot_take_the_data_is_refused(
    database: Database,
) -> None:
    database.execute('CREATE TABLE profiles (id BIGINT PRIMARY KEY, "modified" BOOLEAN)')
    with pytest.raises(CopernicaError, match=r"cannot hold.*modified \(table type"):
        load(database, "upsert", [profile(1, DAY, "Delft")])
    assert database.count("profiles") == 0


@pytest.mark.parametrize("policy", ["evolve", "pin", "fail"])
def test_schema_policy_on_a_table_that_lacks_a_column(database: Database, policy: str) -> None:
    short = [c for c in COLUMNS if c.name != "fields.score"]
    load(database, "upsert", [profile(1, DAY, "Delft")], columns=short)
    if policy == "fail":
        with pytest.raises(CopernicaError, match=r"lacks column\(s\).*fields\.score"):
            load(database, "upsert", [profile(2, DAY, "Ede")], schema_policy=policy)
        assert database.count("profiles") == 1
        return
    load(database, "upsert", [profile(2, DAY, "Ede")], schema_policy=policy)
    assert ("fields.score" in database.columns("profiles")) == (policy == "evolve")
    assert database.count("profiles") == 2


_KILLED_LOAD = textwrap.dedent(
    """
    import sys, time
    sys.path[:0] = {paths!r}
    from datetime import datetime, timedelta, timezone
    import test_sql_load as t
    from sql_databases import Database
    from airflow_provider_copernica.output.sql import load as loading

    loading.BATCH_ROWS = 500
    phase = {phase!r}

    class Slow(t.MODES["truncate_insert"].__class__):
        def apply(self, load):
            super().apply(load)  # the old rows are deleted, the new ones inserted: no commit
            print("APPLIED", flush=True)
            time.sleep(600)

    db = Database.__new__(Database)
    db.conn_id = "copernica_sql_test"
    def pages():
        for page in range(10):
            yield [t.profile(10_000 + page * 500 + i, t.DAY, "New") for i in range(500)]
        if phase == "staging":
            print("STAGED", flush=True)
            time.sleep(600)
    entry = t.get_dataset("profiles")
    table = loading.TableLoad(
        t.dialect_for(db.hook()), t.TableName("profiles"), Slow(), t.get_dataset("profiles_snapshot"), t.COLUMNS,
        window=None, extracted_at=t.DAY)
    table.setup()
    table.run(pages())
    """
)


@pytest.mark.parametrize("phase", ["staging", "applied"])
def test_a_load_killed_with_sigkill_leaves_the_table_as_it_was(
    database: Database, tmp_path: Path, phase: str
) -> None:
    load(database, "upsert", [profile(i, DAY, f"City {i}") for i in range(1, 301)])
    before = database.checksum("profiles")
    script = tmp_path / "killed_load.py"
    here = Path(__file__).resolve()
    paths = [str(here.parent), str(here.parents[1])]
    script.write_text(_KILLED_LOAD.format(paths=paths, phase=phase))
    child = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        output = []
        assert child.stdout is not None
        for line in child.stdout:
            output.append(line)
            if line.startswith(("STAGED", "APPLIED")) or time.monotonic() > deadline:
                break
        assert output and output[-1].startswith(("STAGED", "APPLIED")), "".join(output[-30:])
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
    assert database.checksum("profiles") == before
    assert database.count("profiles") == 300


def test_the_compiled_copy_line_checks_and_formats_as_the_generic_converter() -> None:
    from airflow_provider_copernica.output.sql.dialects import (
        Misfit,
        RowConverter,
        _copy_text,
        copy_line_function,
    )

    columns = [
        Column(f"c{i}", kind)
        for i, kind in enumerate(("int", "float", "bool", "str", "timestamp", "list", "json"))
    ]
    line, generic = copy_line_function(columns), RowConverter(columns)
    rows = [
        {
            "c0": 1,
            "c1": 2,
            "c2": True,
            "c3": "a\tb\\c\nd\re",
            "c4": DAY.isoformat(),
            "c5": ['q"', None],
            "c6": {"k": "v\t"},
        },
        {"c1": 1.5, "c2": False, "c3": ""},
    ]
    for row in rows:
        assert line(row) + "\n" == _copy_text([generic(row)])
    for bad in ({"c0": "7"}, {"c0": True}, {"c2": 1}, {"c3": 5}, {"c4": "yesterday"}, {"c5": "x"}):
        with pytest.raises(Misfit):
            line(bad)
        with pytest.raises(Misfit):
            generic(bad)
