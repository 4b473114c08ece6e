"""Daily profiles into Parquet with a pinned column set (schema drift policy).

Shows:

* ``schema_policy="pin"``: the first run stores its columns in
  ``$AIRFLOW_HOME/data/copernica/copernica_schema_pinned/profiles/_copernica_state/schema/
  profiles/database_id=7616.json``; later runs keep
  exactly those columns, so every Parquet file of the location has one schema. A field added
  to the database is left out (a warning names it); a removed field stays, as null;
* ``schema_policy="fail"`` instead stops the run before any data request, naming the added
  and removed fields; ``"evolve"`` (the default) follows the database's fields each run.
  To accept a change under ``pin``/``fail``, delete the schema file.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag

from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator


@dag(
    dag_id="copernica_schema_pinned",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["copernica", "example", "faithful-copy"],
    doc_md=__doc__,
)
def copernica_schema_pinned() -> None:
    CopernicaToStorageOperator(
        task_id="profiles",
        dataset="profiles",
        dataset_options={"database_id": 7616},
        file_format="parquet",
        schema_policy="pin",
        allow_empty=True,
    )


copernica_schema_pinned()
