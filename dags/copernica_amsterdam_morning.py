"""Sync at 06:30 Europe/Amsterdam of the previous local (Amsterdam) day.

The data interval of each run is exactly one Amsterdam calendar day,
``[00:00, next 00:00)`` Europe/Amsterdam, from ``CronDataIntervalTimetable("0 0 * * *",
timezone="Europe/Amsterdam")``: 24 hours, or 23/25 hours on the days clocks change, so the
intervals neither overlap nor leave a gap. (``CronTriggerTimetable("30 6 * * *", ...,
interval=timedelta(days=1))`` would instead cover 06:30 to 06:30, and always 24 hours.)

The run is created at local midnight, when the day is over; its first task is a deferrable
``DateTimeSensorAsync`` that waits in the triggerer (no worker slot held) until 06:30 local
time of the next morning, so the extraction itself starts at 06:30 Amsterdam time, after
Copernica has settled the day. For past intervals (backfills) the wait is over at once.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import CronDataIntervalTimetable, dag

from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator

LOCAL_TZ = "Europe/Amsterdam"


@dag(
    dag_id="copernica_amsterdam_morning",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=LOCAL_TZ),
    start_date=pendulum.datetime(2026, 1, 1, tz=LOCAL_TZ),
    catchup=False,
    max_active_runs=1,
    tags=["copernica", "example"],
    doc_md=__doc__,
)
def copernica_amsterdam_morning() -> None:
    # data_interval_end is the local midnight that ends the day: 06:30 on that same date.
    wait = DateTimeSensorAsync(
        task_id="wait_until_0630_amsterdam",
        target_time=(
            "{{ data_interval_end.in_timezone('" + LOCAL_TZ + "')"
            ".replace(hour=6, minute=30, second=0, microsecond=0).isoformat() }}"
        ),
    )
    extract = CopernicaToStorageOperator(
        task_id="extract_emailings",
        dataset="emailings",
        dataset_options={"product": "draganddrop"},
        metadata=("_extracted_at", "_interval_start", "_interval_end"),
        allow_empty=True,
    )
    wait >> extract


copernica_amsterdam_morning()
