"""Profiles kept current in a table: ``upsert`` by id, removals applied by ``soft_delete``.

Shows:

* ``upsert`` (the default for ``profiles``): each day's modified profiles replace the
  stored rows by ``id``, but only when their ``modified`` is not older, so backfilling an
  old interval never overwrites newer data; new database fields become new columns
  (``schema_policy="evolve"``: ``ALTER TABLE ... ADD COLUMN``);
* ``profile_deletions`` with ``soft_delete``: the profiles removed since the previous run get
  ``_deleted_at`` set in the same table (``delete`` would remove the rows). The id snapshots
  the deletions compare live under ``state_uri`` (default
  ``$AIRFLOW_HOME/data/copernica/<dag_id>/profile_deletions/_copernica_state``; use shared
  storage such as ``s3://`` when workers do not share a disk).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag

from airflow_provider_copernica.operators.copernica import CopernicaToSqlOperator


@dag(
    dag_id="copernica_sql_profiles",
    schedule=CronDataIntervalTimetable("30 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # deletions compare with the previous run's id snapshot
    tags=["copernica", "example", "database", "faithful-copy"],
    doc_md=__doc__,
)
def copernica_sql_profiles() -> None:
    # Both tasks write the one table of database 7616's profiles.
    profiles_table = {
        "dataset_options": {"database_id": 7616},
        "sql_conn_id": "copernica_warehouse",
        "table": "copernica_profiles",
    }
    profiles = CopernicaToSqlOperator(
        task_id="profiles_upsert", dataset="profiles", write_mode="upsert", **profiles_table
    )
    deletions = CopernicaToSqlOperator(
        task_id="profile_deletions_soft_delete",
        dataset="profile_deletions",
        write_mode="soft_delete",
        **profiles_table,
    )
    profiles >> deletions


copernica_sql_profiles()
