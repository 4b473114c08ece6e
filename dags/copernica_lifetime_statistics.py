"""Late-changing statistics: the emailings sent each day, with their statistics as of the run.

``emailing_statistics`` counts the events *in* an interval, so each day's file is final when
it is written, but an emailing's opens and clicks keep arriving for weeks.
``emailing_lifetime_statistics`` gives one row per emailing *sent* in the interval with its
statistics over all its events up to the run (no ``begintime``/``endtime``). Re-extracting
the last seven days on every run (``restate_intervals=7``) keeps each day's file current:
each file still holds exactly the emailings sent that day, replaced atomically, and its
figures converge as the late events arrive (``_extracted_at`` says as of when).
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag

from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator

_AIRFLOW_HOME = os.path.expanduser(os.environ.get("AIRFLOW_HOME", "~/airflow"))
OUTPUT_ROOT = f"file://{_AIRFLOW_HOME}/data/copernica/copernica_lifetime_statistics"


@dag(
    dag_id="copernica_lifetime_statistics",
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="Europe/Amsterdam"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Amsterdam"),
    catchup=False,
    max_active_runs=1,
    tags=["copernica", "example", "faithful-copy"],
    doc_md=__doc__,
)
def copernica_lifetime_statistics() -> None:
    CopernicaToStorageOperator(
        task_id="emailing_lifetime_statistics",
        dataset="emailing_lifetime_statistics",
        dataset_options={"product": "draganddrop"},
        metadata=("_interval_start", "_interval_end", "_extracted_at"),
        output_uri=OUTPUT_ROOT + "/{{ ds }}.jsonl",
        restate_intervals=7,
        allow_empty=True,  # a day without sendings is a valid, empty file
        retries=2,
    )


copernica_lifetime_statistics()
