"""Helpers for running the operator outside a scheduler: tests, benchmarks, notebooks.

Lives in the package (not in ``tests/``) so that ``benchmarks/`` and the test suites share
one definition without the benchmarks importing the tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def make_context(start: datetime, end: datetime, run_id: str = "manual") -> dict[str, Any]:
    """The slice of an Airflow task context the operator reads: the data interval, the
    logical date, the run id and empty params."""
    import pendulum

    return {
        "data_interval_start": pendulum.instance(start),
        "data_interval_end": pendulum.instance(end),
        "logical_date": pendulum.instance(start),
        "run_id": run_id,
        "params": {},
    }
