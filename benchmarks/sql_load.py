"""Loading into PostgreSQL (``CopernicaToSqlOperator``): the targets of the database load.

Part of ``make bench`` (section ``sql_load``); alone: ``python -m benchmarks.sql_load
[--quick]``. Debian's PostgreSQL is started on a free port (as the Celery suite starts it);
every run is a fresh child process (``python -m benchmarks.sql_load --child '<json>'``), as
a worker would run the task, and is checked against the sandbox's ground truth:

- the snapshot of ``--large`` profiles (1,000,000; quick 100,000) at 200 ms per request,
  4 id-range partitions (4 processes at once) x ``max_concurrency`` 4, ``truncate_insert``;
- ``upsert`` of ``--profiles`` profiles (100,000; quick 20,000) at 50 ms per request, end to
  end against the file-only path (``CopernicaToStorageOperator`` -> JSONL), and its re-run
  (table checksum, duplicate keys);
- the load stage alone: the landed JSONL file into the table, rows/s;
- peak RSS of the upsert at ``--memory`` profiles (500,000; quick 50,000) against a tenth.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Any

from benchmarks.common import (
    CONN_ID,
    REPO,
    WORK_DIR,
    Report,
    SandboxProcess,
    setup_environment,
)

SQL_CONN_ID = "copernica_bench_postgres"
TABLE = "bench_profiles"
WINDOW = (datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))
SECTION = "sql_load"


# -- the child: one task as a worker runs it --------------------------------------------


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    from benchmarks.extract_run import peak_rss_mb

    os.environ.update(spec["env"])
    import airflow_provider_copernica.operators.copernica as operators
    from airflow_provider_copernica.testing import make_context

    imported = peak_rss_mb()
    context = make_context(*WINDOW, run_id="bench")
    kind = spec["kind"]
    started, cpu = time.perf_counter(), time.process_time()
    if kind == "file":
        result = operators.CopernicaToStorageOperator(
            task_id="bench_file",
            dataset=spec["dataset"],
            dataset_options=spec["options"],
            output_uri=spec["out"],
        ).execute(context)  # type: ignore[arg-type]
    elif kind == "sql":
        result = operators.CopernicaToSqlOperator(
            task_id="bench_sql",
            dataset=spec["dataset"],
            dataset_options=spec["options"],
            sql_conn_id=SQL_CONN_ID,
            table=TABLE,
            write_mode=spec["mode"],
            id_range=spec.get("id_range"),
            allow_empty=True,  # a partition may be empty
        ).execute(context)  # type: ignore[arg-type]
    else:  # the load stage alone, from a landed file
        result = _load_file(spec)
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "rows": result["rows"],
        "rss_imported_mb": imported,
        "rss_peak_mb": peak_rss_mb(),
    }


def _load_file(spec: dict[str, Any]) -> dict[str, Any]:
    """``TableLoad`` of a landed JSONL file (``truncate_insert``), pages of 1,000 rows."""
    import orjson

    from airflow_provider_copernica.catalog.datasets import get_dataset
    from airflow_provider_copernica.catalog.schema import Column
    from airflow_provider_copernica.output.sql.dialects import dialect_for, sql_hook
    from airflow_provider_copernica.output.sql.load import TableLoad
    from airflow_provider_copernica.output.sql.modes import MODES
    from airflow_provider_copernica.output.sql.tables import TableName

    columns = [Column(c["name"], c["type"]) for c in spec["columns"]]

    def pages() -> Any:
        page: list[dict[str, Any]] = []
        with open(spec["file"], "rb") as lines:
            for line in lines:
                page.append(orjson.loads(line))
                if len(page) == 1000:
                    yield page
                    page = []
        if page:
            yield page

    entry = get_dataset("profiles_snapshot")
    load = TableLoad(
        dialect_for(sql_hook(SQL_CONN_ID)),
        TableName(f"{TABLE}_from_file"),
        MODES["truncate_insert"],
        entry,
        columns,
        window=None,
        extracted_at=datetime.now(timezone.utc),
    )
    load.setup()
    return {"rows": load.run(pages()).rows}


def _run(spec: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.sql_load", "--child", json.dumps(spec)],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(child: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = child.communicate(timeout=1800)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if child.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark child failed: {err.strip()[-1500:]}")
    return json.loads(lines[-1])


# -- the parent: PostgreSQL, sandboxes, figures ------------------------------------------


class _Postgres:
    """The Celery suite's throw-away PostgreSQL (``tests/celery_cluster/services.py``)."""

    def __enter__(self) -> Any:
        sys.path[:0] = [str(REPO / "tests")]  # its free-port helper lives in tests/e2e
        from celery_cluster.services import Postgres

        self.server = Postgres().start()
        os.environ[f"AIRFLOW_CONN_{SQL_CONN_ID.upper()}"] = json.dumps(
            {
                "conn_type": "postgres",
                "host": "127.0.0.1",
                "port": self.server.port,
                "login": self.server.user,
                "schema": self.server.database,
            }
        )
        return self.server

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


def _drop(server: Any, table: str = TABLE) -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1",
        port=server.port,
        user=server.user,
        dbname=server.database,
        autocommit=True,
    ) as db:
        db.execute(f"DROP TABLE IF EXISTS {table}")


def _env(sandbox: SandboxProcess, token: str, **extra: Any) -> dict[str, str]:
    return {f"AIRFLOW_CONN_{CONN_ID.upper()}": sandbox.connection_uri_env(token, **extra)}


def _table(server: Any, table: str = TABLE) -> tuple[int, int, str, list[int]]:
    """Rows, duplicate keys, a checksum over every row in key order, and the ids."""
    ((rows, dupes, checksum),) = server.query(
        f"SELECT COUNT(*), COUNT(*) - COUNT(DISTINCT id), "
        f"md5(string_agg(t::text, ',' ORDER BY id)) FROM {table} t"
    )
    ids = [r[0] for r in server.query(f"SELECT id FROM {table} ORDER BY id")]
    return int(rows), int(dupes), str(checksum), ids


def _live_ids(sandbox: SandboxProcess, database_id: int) -> list[int]:
    """The sandbox's live profile ids, ascending (its ground truth)."""
    reply = sandbox.command(
        "ids",
        dataset="profiles",
        start=WINDOW[0].isoformat(),
        end=WINDOW[1].isoformat(),
        options={"database_id": database_id},
    )
    return list(reply["ids"])


def snapshot_partitions(report: Report, server: Any, token: str, profiles: int) -> None:
    """1M (quick 100k) profiles, 200 ms, 4 partitions x max_concurrency 4, truncate_insert."""
    from airflow_provider_copernica.engine.id_ranges import split_id_range

    with SandboxProcess(profiles=profiles) as sandbox:
        facts = sandbox.facts()
        db = facts["database_id"]
        live = facts["profiles_total"]
        truth = _live_ids(sandbox, db)
        ranges = split_id_range(max(truth), 4, after=min(truth) - 1)
        _drop(server)
        sandbox.fault("latency:0.2")
        env = _env(sandbox, token, max_concurrency=4)
        options = {"database_id": db}
        print(f"sql_load: {live:,} live profiles, 4 partitions x max_concurrency 4", flush=True)
        started = time.perf_counter()
        children = [
            _run(
                {
                    "env": env,
                    "kind": "sql",
                    "dataset": "profiles_snapshot",
                    "options": options,
                    "mode": "truncate_insert",
                    "id_range": r.as_dict(),
                }
            )
            for r in ranges
        ]
        results = [_wait(c) for c in children]
        seconds = time.perf_counter() - started
        sandbox.reset()
    rows, dupes, _, ids = _table(server)
    exact = ids == truth and rows == live and dupes == 0 and sum(r["rows"] for r in results) == live
    report.add(
        SECTION,
        f"{live:,} profiles, 200 ms, 4 partitions x max_concurrency 4, truncate_insert",
        f"{seconds:.0f} s ({live / seconds:,.0f} rows/s), {'exact' if exact else 'NOT exact'}",
        target="<= 180 s, exact",
        met=seconds <= 180 and exact,
    )


def upsert_against_file(
    report: Report, server: Any, token: str, profiles: int, memory: int
) -> None:
    """upsert at 50 ms against the file-only path; its re-run; the load stage alone; RSS."""
    with SandboxProcess(profiles=profiles) as sandbox:
        facts = sandbox.facts()
        db, live = facts["database_id"], facts["profiles_total"]
        options = {"database_id": db}
        truth = _live_ids(sandbox, db)
        sandbox.fault("latency:0.05")
        env = _env(sandbox, token)
        out = WORK_DIR / "out" / "sql_load_profiles.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        _drop(server)
        best = {"file": float("inf"), "sql": float("inf")}
        for _ in range(2):  # interleaved, best of two
            for kind in ("file", "sql"):
                if kind == "sql":
                    _drop(server)
                spec = {
                    "env": env,
                    "kind": kind,
                    "dataset": "profiles",
                    "options": options,
                    "mode": "upsert",
                    "out": str(out),
                }
                result = _wait(_run(spec))
                best[kind] = min(best[kind], result["seconds"])
        rows, dupes, checksum, ids = _table(server)
        exact = ids == truth and rows == live and dupes == 0
        ratio = best["file"] / best["sql"]
        report.add(
            SECTION,
            f"{live:,} profiles, 50 ms, upsert: end to end / file-only path",
            f"{ratio:.2f} ({best['sql']:.1f} s vs {best['file']:.1f} s), "
            f"{'exact' if exact else 'NOT exact'}",
            target=">= 0.85",
            met=ratio >= 0.85 and exact,
        )
        _wait(
            _run(
                {
                    "env": env,
                    "kind": "sql",
                    "dataset": "profiles",
                    "options": options,
                    "mode": "upsert",
                }
            )
        )
        sandbox.reset()
    again_rows, again_dupes, again, _ = _table(server)
    same = again == checksum and again_dupes == 0 and again_rows == rows
    report.add(
        SECTION,
        "re-run of the upsert: table checksum, duplicate keys",
        f"checksum {'identical' if again == checksum else 'DIFFERENT'}, {again_dupes} duplicate keys",
        target="identical, 0 duplicates",
        met=same,
    )
    from airflow_provider_copernica.output.sql.tables import family

    # the file's columns typed as the table the upsert created (catalog + field types)
    declared = server.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_name = '{TABLE}' ORDER BY ordinal_position"
    )
    columns = [{"name": name, "type": family(kind)} for name, kind in declared]
    result = _wait(_run({"env": {}, "kind": "file_load", "file": str(out), "columns": columns}))
    rate = result["rows"] / result["seconds"]
    report.add(
        SECTION,
        f"load stage alone: {result['rows']:,} rows of a landed JSONL file into PostgreSQL",
        f"{rate:,.0f} rows/s ({result['seconds']:.1f} s, CPU {result['cpu_seconds']:.1f} s)",
        target=">= 100,000 rows/s",
        met=rate >= 100_000,
    )
    peak = {}
    for size in (memory // 10, memory):
        with SandboxProcess(profiles=size) as sandbox:
            _drop(server)
            spec = {
                "env": _env(sandbox, token),
                "kind": "sql",
                "dataset": "profiles",
                "options": {"database_id": sandbox.facts()["database_id"]},
                "mode": "upsert",
            }
            peak[size] = _wait(_run(spec))
    small, large = peak[memory // 10], peak[memory]
    growth = large["rss_peak_mb"] - small["rss_peak_mb"]
    report.add(
        SECTION,
        f"peak RSS, upsert into PostgreSQL: {small['rows']:,} / {large['rows']:,} profiles",
        f"{small['rss_peak_mb']:.0f} / {large['rss_peak_mb']:.0f} MB (growth {growth:+.1f} MB)",
        target="growth <= 50 MB",
        met=growth <= 50,
    )


def run(
    report: Report,
    token: str,
    *,
    quick: bool,
    profiles: int | None = None,
    large: int | None = None,
    memory: int | None = None,
) -> None:
    """``make bench`` section ``sql_load``."""
    profiles = profiles or (20_000 if quick else 100_000)
    large = large or (100_000 if quick else 1_000_000)
    memory = memory or (50_000 if quick else 500_000)
    with _Postgres() as server:
        upsert_against_file(report, server, token, profiles, memory)
        snapshot_partitions(report, server, token, large)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profiles", type=int)
    parser.add_argument("--large", type=int)
    parser.add_argument("--memory", type=int)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0
    setup_environment()
    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN

    report = Report()
    run(
        report,
        SANDBOX_ACCESS_TOKEN,
        quick=args.quick,
        profiles=args.profiles,
        large=args.large,
        memory=args.memory,
    )
    for figure in report.figures:
        verdict = {True: "yes", False: "no", None: ""}[figure.met]
        print(f"{figure.name}: {figure.value} (target {figure.target}: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
