"""What the e2e modules share: the sandbox's days, the files a DAG lands, backfills and
their runs on an :class:`~tests.e2e.harness.AirflowStandalone`."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from .harness import AirflowStandalone

DATABASE_ID = 7616


def sandbox_day(sandbox: Any, days_before_anchor: int) -> date:
    """A UTC day inside the sandbox's data (its anchor is the exclusive end of the data)."""
    return sandbox.data.anchor - timedelta(days=days_before_anchor)


def file_name(day: date) -> str:
    following = day + timedelta(days=1)
    return f"{day:%Y%m%d}T000000Z_{following:%Y%m%d}T000000Z.jsonl"


def output_dir(airflow: AirflowStandalone, dag_id: str, dataset: str = "profiles") -> Path:
    return airflow.home / "data" / "copernica" / dag_id / dataset


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def expected_profile_ids(sandbox: Any, day: date) -> list[int]:
    ids = sandbox.data.expected_ids(
        "profiles", day, day + timedelta(days=1), database_id=DATABASE_ID
    )
    assert ids, f"the sandbox has no profile changes on {day}: pick another day"
    return ids


def assert_file_is_ground_truth(
    path: Path, sandbox: Any, day: date, metadata: bool = True
) -> list[dict[str, Any]]:
    rows = read_jsonl(path)
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), f"{path.name}: duplicated records"
    assert sorted(ids) == expected_profile_ids(sandbox, day), path.name
    if metadata:  # copernica_backfill adds _interval_start/_interval_end/_run_id
        assert {row["_interval_start"] for row in rows} == {f"{day.isoformat()}T00:00:00+00:00"}
    return rows


def backfill(airflow: AirflowStandalone, dag_id: str, first: date, last: date, *extra: str) -> None:
    airflow.cli(
        "backfill",
        "create",
        "--dag-id",
        dag_id,
        "--from-date",
        first.isoformat(),
        "--to-date",
        last.isoformat(),
        *extra,
    )


def runs_for(airflow: AirflowStandalone, dag_id: str, days: list[date]) -> list[dict[str, Any]]:
    wanted = {d.isoformat() for d in days}
    return airflow.wait_runs_done(
        dag_id, len(days), select=lambda run: run["data_interval_start"][:10] in wanted
    )
