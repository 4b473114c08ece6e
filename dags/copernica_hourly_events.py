"""Hourly sync of the six drag-and-drop event datasets, one mapped task per dataset.

Shows:

* ``CronDataIntervalTimetable("0 * * * *", timezone="UTC")``: each run covers one whole
  hour ``[hh:00, hh+1:00)`` UTC;
* dynamic task mapping: ``CopernicaToStorageOperator.partial(...).expand(dataset=[...])``
  creates one task instance per event dataset (deliveries, impressions, clicks, errors,
  unsubscribes, abuses), labelled by dataset in the UI;
* an ``output_uri`` templated on the mapped dataset (``{{ task.dataset }}``) and on the
  interval; point ``output_root`` at ``s3://bucket/prefix`` (with an AWS connection) to land
  in object storage instead of local files.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag

from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator

EVENT_DATASETS = ["deliveries", "impressions", "clicks", "errors", "unsubscribes", "abuses"]
_AIRFLOW_HOME = os.path.expanduser(os.environ.get("AIRFLOW_HOME", "~/airflow"))


@dag(
    dag_id="copernica_hourly_events",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    params={
        "output_root": Param(
            f"file://{_AIRFLOW_HOME}/data/copernica",
            type="string",
            description="Where files land: file:///path, s3://bucket/prefix, gs://...",
        ),
    },
    tags=["copernica", "example"],
    doc_md=__doc__,
)
def copernica_hourly_events() -> None:
    CopernicaToStorageOperator.partial(
        task_id="extract_events",
        dataset_options={"product": "draganddrop"},
        output_uri=(
            "{{ params.output_root }}/{{ dag.dag_id }}/{{ task.dataset }}/"
            "{{ data_interval_start | ts_nodash }}Z_{{ data_interval_end | ts_nodash }}Z.jsonl"
        ),
        file_format="jsonl",
        # Quiet hours are normal for events (abuses especially): write an empty file.
        allow_empty=True,
        map_index_template="{{ task.dataset }}",
    ).expand(dataset=EVENT_DATASETS)


copernica_hourly_events()
