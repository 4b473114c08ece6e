"""Sensor-gated sync: wait until Copernica has profile changes for the day, then extract them.

Shows a deferrable ``CopernicaSensor``: it checks once on a worker (one ``limit=1`` call);
if no profile of database 7616 changed in the run's data interval yet, it hands the wait to
``CopernicaTrigger`` in the triggerer, which checks every ``poke_interval`` seconds without
holding a worker slot, and resumes the task once at least ``min_records`` profiles changed
in the interval. Only then does the extraction run, so a day Copernica has not filled yet
neither fails nor lands an empty file. ``timeout`` bounds the wait (then the sensor fails;
``soft_fail=True`` would skip instead).

``COPERNICA_EXAMPLE_POKE_INTERVAL`` (seconds, read when the DAG file is parsed) overrides the
poke interval for demos and tests; the default of 300 s keeps billed API calls low.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag

from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator
from airflow_provider_copernica.sensors.copernica import CopernicaSensor

POKE_INTERVAL = float(os.environ.get("COPERNICA_EXAMPLE_POKE_INTERVAL", "300"))


@dag(
    dag_id="copernica_sensor_gated",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["copernica", "example", "sensor"],
    doc_md=__doc__,
)
def copernica_sensor_gated() -> None:
    wait = CopernicaSensor(
        task_id="wait_for_profiles",
        dataset="profiles",
        dataset_options={"database_id": 7616},
        min_records=1,
        deferrable=True,
        poke_interval=POKE_INTERVAL,
        timeout=12 * 3600,
    )
    extract = CopernicaToStorageOperator(
        task_id="extract_profiles",
        dataset="profiles",
        dataset_options={"database_id": 7616},
    )
    wait >> extract


copernica_sensor_gated()
