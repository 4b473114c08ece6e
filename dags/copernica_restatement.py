"""Restatement: every daily run lands its day of clicks and extracts the two days before again.

Clicks, opens and bounces can reach Copernica after their day was extracted (a late
delivery report, a click logged by a slow proxy). ``restate_intervals=2`` makes each run
extract its own data interval and then the two intervals before it again, each into its own
file, rendered from the same ``output_uri`` template as a run of that day would render it
(``{{ ds }}`` is that day's date) and replaced atomically. So a late event of a day appears
in that day's file with the next run, and in no other file: after three runs a day's file
is final for every event that arrived within two days.

``max_active_runs=1``: two runs restating the same day at once would only do the work twice
(each file is replaced atomically, so the result is the same, but the calls are billed).
Each run pays for three intervals; pick N as the time late data needs to settle.

Backfill it like any daily DAG (``airflow backfill create --dag-id copernica_restatement
--from-date ... --to-date ...``): every run restates its own previous N days.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag

from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator

_AIRFLOW_HOME = os.path.expanduser(os.environ.get("AIRFLOW_HOME", "~/airflow"))
OUTPUT_ROOT = f"file://{_AIRFLOW_HOME}/data/copernica/copernica_restatement"


@dag(
    dag_id="copernica_restatement",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["copernica", "example", "faithful-copy"],
    doc_md=__doc__,
)
def copernica_restatement() -> None:
    CopernicaToStorageOperator(
        task_id="clicks",
        dataset="clicks",
        dataset_options={"product": "draganddrop"},
        metadata=("_interval_start", "_interval_end", "_extracted_at"),
        output_uri=OUTPUT_ROOT + "/clicks/{{ ds }}.jsonl",
        restate_intervals=2,
        allow_empty=True,  # a quiet day is a valid, empty file
        retries=2,
    )


copernica_restatement()
