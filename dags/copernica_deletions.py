"""Daily deletions: the profiles removed since the previous day's run.

Shows:

* ``profile_deletions``: each run takes an id snapshot (``database/{id}/profileids``) and
  writes the ids that were in the previous interval's snapshot and are absent now, with
  ``observed_at`` (when this run saw them gone), ``last_seen_at`` (when the previous
  snapshot saw them) and the run's interval;
* the state lives beside the output: ``.../profile_deletions/_copernica_state/profile_ids/
  database_id=7616/<interval>.jsonl`` (+ ``.json`` manifest), one per interval. Re-running
  an interval re-reads its stored snapshot, so the file is the same;
* the limits: the first run only takes the baseline (empty file, a warning); a backfill of
  an interval before one already observed writes an empty file with a warning, because a
  deletion can only be observed forward in time. ``catchup=False`` for that reason.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag

from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator


@dag(
    dag_id="copernica_deletions",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # each run compares with the previous run's snapshot
    tags=["copernica", "example", "faithful-copy"],
    doc_md=__doc__,
)
def copernica_deletions() -> None:
    CopernicaToStorageOperator(
        task_id="profile_deletions",
        dataset="profile_deletions",
        dataset_options={"database_id": 7616},
        # default output: $AIRFLOW_HOME/data/copernica/copernica_deletions/profile_deletions/
        # <start>_<end>.jsonl; the state: _copernica_state/ in that directory (or state_uri=)
    )


copernica_deletions()
