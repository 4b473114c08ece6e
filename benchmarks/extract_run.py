"""Run ``CopernicaToStorageOperator.execute`` the way a worker would, and check its output.

Also a child-process entry point (``python -m benchmarks.extract_run '<json>'``) used by the
memory benchmark: it runs one extraction and prints its figures and peak RSS as JSON.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow_provider_copernica.testing import make_context

# Wide enough for every record the sandbox seeds; the half-open window is still applied.
WINDOW = (datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))


@dataclass
class OperatorRun:
    seconds: float
    cpu_seconds: float  # this process's CPU (all threads); the sandbox runs elsewhere
    result: dict[str, Any]
    path: Path


def run_operator(
    dataset: str,
    options: dict[str, Any],
    file_format: str,
    out_path: Path,
    window: tuple[datetime, datetime] = WINDOW,
    **kwargs: Any,
) -> OperatorRun:
    """Build the operator and time its ``execute``: connection read, JWT, pages, write, commit."""
    from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator

    operator = CopernicaToStorageOperator(
        task_id=f"bench_{dataset}_{file_format}",
        dataset=dataset,
        dataset_options=options,
        output_uri=out_path.resolve().as_uri(),
        file_format=file_format,
        allow_empty=False,
        **kwargs,
    )
    context = make_context(*window, run_id="bench")
    start, cpu = time.perf_counter(), time.process_time()
    result = operator.execute(context)  # type: ignore[arg-type]
    return OperatorRun(time.perf_counter() - start, time.process_time() - cpu, result, out_path)


def count_output(path: Path, file_format: str) -> int:
    """Rows actually in the committed file (not what the operator says it wrote)."""
    if file_format == "parquet":
        import pyarrow.parquet as pq

        return pq.read_metadata(path).num_rows
    with path.open("rb") as handle:
        rows = sum(1 for _ in handle)
    return rows - 1 if file_format == "csv" else rows


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Not ``ru_maxrss``: Linux keeps that across
    execve, so a child would report its parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    import os

    os.environ[spec["conn_env"]] = spec["conn_value"]
    before = peak_rss_mb()
    # Import the whole stack before the extraction so the baseline is what a worker has loaded.
    import airflow_provider_copernica.operators.copernica  # noqa: F401

    imported = peak_rss_mb()
    out = Path(spec["out"])
    run = run_operator(spec["dataset"], spec["options"], spec["format"], out)
    return {
        "seconds": run.seconds,
        "rows": run.result.get("rows"),
        "file_rows": count_output(out, spec["format"]),
        "api_calls": run.result.get("api_calls"),
        "rss_start_mb": before,
        "rss_imported_mb": imported,
        "rss_peak_mb": peak_rss_mb(),
    }


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))))
