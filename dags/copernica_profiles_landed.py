"""Runs whenever ``copernica_daily_sync`` lands a profiles file: scheduled on its asset.

Shows:

* ``schedule=[PROFILES]``: an asset schedule, no timetable. Every successful extraction
  emits an event on the stable asset of its dataset and output location (one asset for all
  intervals; see docs/operator.md, "Asset events", for the naming rule), so this DAG runs after
  each daily run and after each day of a backfill (events that arrive together are consumed
  by one run);
* ``output_asset(...)``: the same function the operator uses to name its asset, so the URI
  is never spelled out by hand (here
  ``file://$AIRFLOW_HOME/data/copernica/copernica_daily_sync/profiles?dataset=profiles``);
* the event's ``extra``: ``uri`` (the file), ``rows``, ``dataset``, ``interval_start`` and
  ``interval_end``, read from ``triggering_asset_events`` without a single Copernica call.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import ObjectStoragePath, dag, task

from airflow_provider_copernica.output.assets import output_asset

PROFILES = output_asset("profiles", dag_id="copernica_daily_sync")


@dag(
    dag_id="copernica_profiles_landed",
    schedule=[PROFILES],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["copernica", "example", "assets"],
    doc_md=__doc__,
)
def copernica_profiles_landed() -> None:
    @task
    def summarise_new_files(triggering_asset_events: Any = None) -> dict[str, Any]:
        """Log each new file from its event's extra and check that it is there."""
        files = []
        for event in triggering_asset_events[PROFILES]:
            extra = event.extra
            present = ObjectStoragePath(extra["uri"]).exists()
            print(
                f"profiles {extra['interval_start']} .. {extra['interval_end']}: "
                f"{extra['rows']} rows in {extra['uri']}" + ("" if present else " (MISSING)")
            )
            files.append({"uri": extra["uri"], "rows": extra["rows"], "present": present})
        total = sum(f["rows"] for f in files)
        print(f"{len(files)} new profiles file(s), {total} rows in total")
        return {"files": len(files), "rows": total}

    summarise_new_files()


copernica_profiles_landed()
