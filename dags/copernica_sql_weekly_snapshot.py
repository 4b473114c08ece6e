"""A weekly snapshot of every live profile, replacing the table atomically
(``write_mode="truncate_insert"``).

Readers see the previous week's table or the new one, never an empty or half-filled one: the
rows are staged first, then the old rows are deleted and the new ones inserted in one
transaction. A profile removed in Copernica is simply absent from the new snapshot.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag

from airflow_provider_copernica.operators.copernica import CopernicaToSqlOperator


@dag(
    dag_id="copernica_sql_weekly_snapshot",
    schedule=CronDataIntervalTimetable("0 3 * * 1", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 5, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["copernica", "example", "database"],
    doc_md=__doc__,
)
def copernica_sql_weekly_snapshot() -> None:
    CopernicaToSqlOperator(
        task_id="profiles_snapshot_to_table",
        dataset="profiles_snapshot",
        dataset_options={"database_id": 7616},
        sql_conn_id="copernica_warehouse",
        table="copernica_profiles_snapshot",
        write_mode="truncate_insert",
    )


copernica_sql_weekly_snapshot()
