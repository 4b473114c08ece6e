"""Backfill-ready sync of profile changes (database 7616), one file per UTC day.

Shows what makes a DAG safe to backfill: a real data interval per run
(``CronDataIntervalTimetable``), ``catchup=True`` with a ``start_date`` in the past (when
unpaused, the scheduler also creates the missed runs since ``start_date``),
``max_active_runs=3`` so a long backfill does not flood Copernica with calls, and output
that is idempotent: each interval's file ``<start>_<end>.jsonl`` is replaced atomically, so
running a day again never duplicates records.

Backfill 1 to 3 November 2026 (three runs; both dates are *logical dates*, i.e. interval
starts, inclusive)::

    airflow backfill create --dag-id copernica_backfill \\
        --from-date 2026-11-01 --to-date 2026-11-03 --reprocess-behavior none

``--reprocess-behavior`` decides what happens to days that already have a run:

* ``none`` (default): skip every day that already has a run; only missing days run;
* ``failed``: also run again the days whose last run failed;
* ``completed``: run every day again, including successful ones (their files are replaced
  with the same records).

Add ``--max-active-runs N`` to cap this backfill's concurrency, ``--run-backwards`` to do the
newest day first, ``--dry-run`` to list the runs without creating them. The backfill's runs
are executed by the scheduler, so the DAG must be unpaused (``airflow dags unpause
copernica_backfill``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag

from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator


@dag(
    dag_id="copernica_backfill",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=True,
    max_active_runs=3,
    tags=["copernica", "example", "backfill"],
    doc_md=__doc__,
)
def copernica_backfill() -> None:
    CopernicaToStorageOperator(
        task_id="extract_profiles",
        dataset="profiles",
        dataset_options={"database_id": 7616},
        metadata=("_interval_start", "_interval_end", "_run_id"),
        retries=2,
    )


copernica_backfill()
