"""One large profiles snapshot split across the Airflow workers: P id ranges, one mapped
task each, and a manifest written last (docs/scaling.md: "Partitioned extraction across workers").

Three tasks:

* ``plan`` (:class:`CopernicaPartitionsOperator`): removes the previous ``_manifest.json``,
  makes ONE probe request (the page of the highest profile ids) and returns ``partitions``
  small dicts ``{"id_range": {"after": N, "upto": M}, "output_uri": ".../part-00003-of-00008.jsonl"}``;
* ``extract_part``: ``CopernicaToStorageOperator.partial(...).expand_kwargs(plan.output)``,
  one mapped task per id range, each writing its own part file atomically; the Celery
  workers take them in parallel;
* ``manifest`` (:class:`CopernicaManifestOperator`): runs only when every part succeeded and
  writes ``_manifest.json`` (run id, interval, dataset, per part its uri, id range, rows,
  bytes, sha256). A reader takes the parts listed there and nothing else.

Each run lands every live profile of database 7616 (``profiles_snapshot``). Trigger it from
the UI form or the CLI::

    airflow dags trigger copernica_partitioned_snapshot --conf '{"partitions": 8}'

The parts land in ``$AIRFLOW_HOME/data/copernica/copernica_partitioned_snapshot/
profiles_snapshot/<run id>/`` (set the planner's ``output_dir`` for another place, e.g. one
fixed directory that each run replaces); running the same run again replaces its set, and
the manifest lists exactly the new parts. ``partitions`` is the number of mapped tasks; the
Celery workers run as many at once as they have slots.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag

from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator
from airflow_provider_copernica.operators.partitioned import (
    CopernicaManifestOperator,
    CopernicaPartitionsOperator,
)

DATASET = "profiles_snapshot"
OPTIONS = {"database_id": 7616}


@dag(
    dag_id="copernica_partitioned_snapshot",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one set per directory at a time
    params={
        "partitions": Param(4, type="integer", minimum=1, maximum=64),
    },
    tags=["copernica", "example", "partitioned"],
    doc_md=__doc__,
)
def copernica_partitioned_snapshot() -> None:
    plan = CopernicaPartitionsOperator(
        task_id="plan",
        dataset=DATASET,
        dataset_options=OPTIONS,
        partitions="{{ params.partitions }}",
    )
    parts = CopernicaToStorageOperator.partial(
        task_id="extract_part",
        dataset=DATASET,
        dataset_options=OPTIONS,
        allow_empty=True,  # an id range may hold no live profile
        retries=2,
    ).expand_kwargs(plan.output)
    CopernicaManifestOperator(task_id="manifest", plan=plan.output, parts=parts.output)


copernica_partitioned_snapshot()
