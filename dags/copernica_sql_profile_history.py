"""Every version of every profile (``write_mode="history"``, like an SCD type 2 table).

Each row is one version: ``_valid_from`` (its ``modified``), ``_valid_to`` (when the next
version replaced it; null for the current one) and ``_is_current``. A re-run adds nothing;
an out-of-order backfill slots its versions in between. ``profile_deletions`` in history
mode closes the current version of a profile removed in Copernica (``_valid_to`` = when the
removal was observed, ``_is_current`` false).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag

from airflow_provider_copernica.operators.copernica import CopernicaToSqlOperator


@dag(
    dag_id="copernica_sql_profile_history",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["copernica", "example", "database", "faithful-copy"],
    doc_md=__doc__,
)
def copernica_sql_profile_history() -> None:
    # Both tasks write the one history table of database 7616's profiles.
    history_table = {
        "dataset_options": {"database_id": 7616},
        "sql_conn_id": "copernica_warehouse",
        "table": "copernica_profile_history",
        "write_mode": "history",
    }
    versions = CopernicaToSqlOperator(
        task_id="profile_versions", dataset="profiles", **history_table
    )
    removals = CopernicaToSqlOperator(
        task_id="close_removed_profiles", dataset="profile_deletions", **history_table
    )
    versions >> removals


copernica_sql_profile_history()
