"""Daily clicks into a database table, one interval per run (``write_mode="replace_interval"``).

Shows:

* ``CopernicaToSqlOperator``: the same dataset arguments as ``CopernicaToStorageOperator``,
  plus ``sql_conn_id`` (any connection whose hook is a common.sql ``DbApiHook``: postgres,
  duckdb, sqlite, ...) and ``table``;
* ``replace_interval`` (the default for windowed datasets): each run deletes the table's
  rows of its interval and inserts the new ones in one transaction, so re-runs and backfills
  never duplicate and two runs at once (``max_active_runs=2``) lose nothing;
* the table is created on the first run (primary key ``id``, an index on ``timestamp``) and
  is the task's Asset (``postgres://host:5432/db/public/copernica_clicks``).

Set the connection, e.g. ``AIRFLOW_CONN_COPERNICA_WAREHOUSE='postgres://user:pw@host:5432/db'``
(needs ``airflow-provider-copernica[postgres]``) or ``'{"conn_type": "duckdb", "host":
"/data/copernica.duckdb"}'`` (``[duckdb]``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag

from airflow_provider_copernica.operators.copernica import CopernicaToSqlOperator


@dag(
    dag_id="copernica_sql_daily_events",
    schedule=CronDataIntervalTimetable("0 1 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    tags=["copernica", "example", "database"],
    doc_md=__doc__,
)
def copernica_sql_daily_events() -> None:
    CopernicaToSqlOperator(
        task_id="clicks_to_table",
        dataset="clicks",
        sql_conn_id="copernica_warehouse",
        table="copernica_clicks",
        write_mode="replace_interval",
    )


copernica_sql_daily_events()
