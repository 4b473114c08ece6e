"""Memory: peak RSS of a child process extracting a small vs a large number of profiles.

Each extraction runs in a fresh child (``benchmarks.extract_run``) against its own sandbox
process, so the figure is the client's resident memory alone. Streaming means the growth
from the small to the large run stays flat.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from benchmarks.common import CONN_ID, REPO, WORK_DIR, Report, SandboxProcess

TARGET_GROWTH_MB = 50.0


def extract_in_child(
    sandbox: SandboxProcess, token: str, options: dict[str, Any], file_format: str
) -> dict[str, Any]:
    out = WORK_DIR / "out" / f"memory.{file_format}"
    out.parent.mkdir(parents=True, exist_ok=True)
    spec = {
        "conn_env": f"AIRFLOW_CONN_{CONN_ID.upper()}",
        "conn_value": sandbox.connection_uri_env(token),
        "dataset": "profiles",
        "options": options,
        "format": file_format,
        "out": str(out),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.extract_run", json.dumps(spec)],
        cwd=REPO,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"memory child failed: {tail}")
    return json.loads(lines[-1])


def run(
    report: Report,
    token: str,
    sizes: tuple[int, int] = (10_000, 500_000),
    formats: tuple[str, ...] = ("jsonl", "parquet"),
    sandbox_options: dict[str, Any] | None = None,
) -> dict[str, dict[int, dict[str, Any]]]:
    print(f"memory: peak RSS, {sizes[0]:,} vs {sizes[1]:,} profiles", flush=True)
    results: dict[str, dict[int, dict[str, Any]]] = {f: {} for f in formats}
    for size in sizes:
        with SandboxProcess(profiles=size, **(sandbox_options or {})) as sandbox:
            facts = sandbox.facts()
            expected = facts["profiles_total"]
            for file_format in formats:
                figures = extract_in_child(
                    sandbox, token, {"database_id": facts["database_id"]}, file_format
                )
                if figures["rows"] != expected or figures["file_rows"] != expected:
                    raise AssertionError(
                        f"memory run wrote {figures['rows']} rows "
                        f"(file {figures['file_rows']}), ground truth {expected}"
                    )
                figures["records"] = expected
                results[file_format][size] = figures
    for file_format, by_size in results.items():
        small, large = (by_size[s] for s in sizes)
        growth = large["rss_peak_mb"] - small["rss_peak_mb"]
        report.add(
            "memory",
            f"peak RSS -> {file_format}: {small['records']:,} / {large['records']:,} profiles",
            f"{small['rss_peak_mb']:.0f} / {large['rss_peak_mb']:.0f} MB (growth {growth:+.1f} MB)",
            f"growth <= {TARGET_GROWTH_MB:.0f} MB",
            growth <= TARGET_GROWTH_MB,
            f"after imports: {small['rss_imported_mb']:.0f} MB",
        )
    return results
