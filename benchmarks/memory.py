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


# (file format, max_concurrency): one child each, per sandbox size; plus JSONL at the
# highest concurrency measured
RUNS: tuple[tuple[str, int], ...] = (("jsonl", 1), ("parquet", 1))


def _spawn(
    sandbox: SandboxProcess,
    token: str,
    options: dict[str, Any],
    file_format: str,
    concurrency: int,
) -> subprocess.Popen[str]:
    out = WORK_DIR / "out" / f"memory_c{concurrency}.{file_format}"
    out.parent.mkdir(parents=True, exist_ok=True)
    spec = {
        "conn_env": f"AIRFLOW_CONN_{CONN_ID.upper()}",
        "conn_value": sandbox.connection_uri_env(token, max_concurrency=concurrency),
        "dataset": "profiles",
        "options": options,
        "format": file_format,
        "out": str(out),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.extract_run", json.dumps(spec)],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _collect(proc: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, stderr = proc.communicate(timeout=900)
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = " | ".join(stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"memory child failed: {tail}")
    return json.loads(lines[-1])


def run(
    report: Report,
    token: str,
    sandboxes: list[SandboxProcess],
    concurrency: int = 4,
) -> dict[tuple[str, int], dict[int, dict[str, Any]]]:
    """``sandboxes``: a small and a large one (may be started already, see ``start()``).

    The children of one size run at the same time: peak RSS does not depend on CPU share."""
    runs = RUNS + ((("jsonl", concurrency),) if concurrency > 1 else ())
    sizes = [s.options["profiles"] for s in sandboxes]
    print(f"memory: peak RSS, {sizes[0]:,} vs {sizes[1]:,} profiles", flush=True)
    results: dict[tuple[str, int], dict[int, dict[str, Any]]] = {r: {} for r in runs}
    for size, sandbox in zip(sizes, sandboxes, strict=True):
        with sandbox:
            facts = sandbox.facts()
            expected = facts["profiles_total"]
            options = {"database_id": facts["database_id"]}
            procs = {(f, c): _spawn(sandbox, token, options, f, c) for f, c in runs}
            for key, proc in procs.items():
                figures = _collect(proc)
                if figures["rows"] != expected or figures["file_rows"] != expected:
                    raise AssertionError(
                        f"memory run wrote {figures['rows']} rows "
                        f"(file {figures['file_rows']}), ground truth {expected}"
                    )
                figures["records"] = expected
                results[key][size] = figures
    for (file_format, concurrency), by_size in results.items():
        small, large = (by_size[size] for size in sizes)
        growth = large["rss_peak_mb"] - small["rss_peak_mb"]
        report.add(
            "memory",
            f"peak RSS -> {file_format}, max_concurrency={concurrency}: "
            f"{small['records']:,} / {large['records']:,} profiles",
            f"{small['rss_peak_mb']:.0f} / {large['rss_peak_mb']:.0f} MB (growth {growth:+.1f} MB)",
            f"growth <= {TARGET_GROWTH_MB:.0f} MB",
            growth <= TARGET_GROWTH_MB,
            f"after imports: {small['rss_imported_mb']:.0f} MB",
        )
    return results
