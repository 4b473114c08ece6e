"""Weekly current-state snapshot of a database's profiles and a collection's subprofiles.

Shows:

* ``profiles_snapshot`` / ``subprofiles_snapshot``: every live (sub)profile as of the run,
  with the same columns as ``profiles``/``subprofiles`` (the database's fields included),
  in one file per run. The window is not a filter: it only names the file, so a re-run of
  a week replaces that week's snapshot with the state as of the re-run;
* the default output location,
  ``$AIRFLOW_HOME/data/copernica/copernica_snapshots/<dataset>/<start>_<end>.parquet``
  (give ``output_uri``/``output_conn_id`` for object storage);
* keyset paging (``fields[]=id>last``): exact while profiles are added or removed during the
  run, and memory does not grow with the database (docs/faithful-copy.md).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag

from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator


@dag(
    dag_id="copernica_snapshots",
    schedule=CronDataIntervalTimetable("0 3 * * 1", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 5, tz="UTC"),
    catchup=False,
    tags=["copernica", "example", "faithful-copy"],
    doc_md=__doc__,
)
def copernica_snapshots() -> None:
    CopernicaToStorageOperator(
        task_id="profiles_snapshot",
        dataset="profiles_snapshot",
        dataset_options={"database_id": 7616},
        file_format="parquet",
    )
    CopernicaToStorageOperator(
        task_id="subprofiles_snapshot",
        dataset="subprofiles_snapshot",
        dataset_options={"collection_id": 6312},
        file_format="parquet",
    )


copernica_snapshots()
