"""Daily sync of profiles and drag-and-drop clicks.

Shows:

* an interval timetable: ``CronDataIntervalTimetable("0 0 * * *", timezone="UTC")`` gives
  every run the real data interval ``[midnight, next midnight)`` UTC, and the run starts
  once that day is over (``schedule="@daily"`` would be a zero-width trigger in Airflow 3);
* a DAG ``Param`` (``database_id``, default 7616) fed into the templated ``dataset_options``;
  change it in the UI's Trigger form or with ``--conf '{"database_id": 1234}'``;
* the default output location:
  ``$AIRFLOW_HOME/data/copernica/copernica_daily_sync/<dataset>/<start>_<end>.jsonl``,
  replaced atomically when the same interval runs again.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag

from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator


@dag(
    dag_id="copernica_daily_sync",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=3,
    params={
        "database_id": Param(
            7616, type="integer", minimum=1, description="Copernica database to sync profiles of."
        ),
    },
    tags=["copernica", "example"],
    doc_md=__doc__,
)
def copernica_daily_sync() -> None:
    CopernicaToStorageOperator(
        task_id="extract_profiles",
        dataset="profiles",
        dataset_options={"database_id": "{{ params.database_id }}"},
        # A day without profile changes is normal: land an empty file rather than fail.
        allow_empty=True,
    )
    CopernicaToStorageOperator(
        task_id="extract_clicks",
        dataset="clicks",
        dataset_options={"product": "draganddrop"},
        allow_empty=True,
    )


copernica_daily_sync()
