"""`make demo`'s last step: the demo's days of clicks loaded into DuckDB, and one SQL answer.

``python scripts/demo_database.py DEMO_DIR FIRST_DAY DAYS``: runs ``CopernicaToSqlOperator``
(``write_mode="replace_interval"``) once per UTC day against the demo's sandbox (its
connection from ``DEMO_DIR/sandbox.log``) into ``DEMO_DIR/copernica.duckdb``, then prints
the clicks per day from ``SELECT ... GROUP BY``. A second demo replaces the same days.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

QUERY = """SELECT CAST(timezone('UTC', "timestamp") AS DATE) AS day, COUNT(*) AS clicks
FROM clicks GROUP BY day ORDER BY day"""


def main(demo: Path, first: date, days: int) -> None:
    log = (demo / "sandbox.log").read_text().splitlines()
    line = next(x for x in log if x.startswith("AIRFLOW_CONN_COPERNICA_DEFAULT="))
    os.environ["AIRFLOW_CONN_COPERNICA_DEFAULT"] = line.split("=", 1)[1].strip("'")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")  # the answer, not logs
    database = demo / "copernica.duckdb"
    os.environ["AIRFLOW_CONN_COPERNICA_DEMO_DUCKDB"] = json.dumps(
        {"conn_type": "duckdb", "host": str(database)}
    )
    from airflow_provider_copernica.operators.copernica import CopernicaToSqlOperator
    from airflow_provider_copernica.testing import make_context

    loaded = 0
    for n in range(days):
        start = datetime.combine(first + timedelta(days=n), datetime.min.time(), timezone.utc)
        result = CopernicaToSqlOperator(
            task_id="clicks_to_duckdb",
            dataset="clicks",
            sql_conn_id="copernica_demo_duckdb",
            table="clicks",
            allow_empty=True,
        ).execute(make_context(start, start + timedelta(days=1), run_id=f"demo__{start:%F}"))
        loaded += result["rows"]
    from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

    rows = DuckDBHook(duckdb_conn_id="copernica_demo_duckdb").get_records(QUERY)
    print(f"demo: {loaded} clicks of {days} days loaded into {database} (table clicks)")
    print(f"demo: SQL on {database.name} (DuckDB, through the Airflow DuckDB hook):")
    for text in QUERY.splitlines():
        print(f"demo:   {text}")
    print("  day          clicks")
    for day, clicks in rows:
        print(f"  {day}  {clicks:>6}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), int(sys.argv[3]))
