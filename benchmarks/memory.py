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


def _spawn(
    sandbox: SandboxProcess, token: str, options: dict[str, Any], file_format: str
) -> subprocess.Popen[str]:
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
    formats: tuple[str, ...] = ("jsonl", "parquet"),
) -> dict[str, dict[int, dict[str, Any]]]:
    """``sandboxes``: a small and a large one (may be started already, see ``start()``).

    The formats' children run at the same time: peak RSS does not depend on CPU share."""
    sizes = [s.options["profiles"] for s in sandboxes]
    print(f"memory: peak RSS, {sizes[0]:,} vs {sizes[1]:,} profiles", flush=True)
    results: dict[str, dict[int, dict[str, Any]]] = {f: {} for f in formats}
    for size, sandbox in zip(sizes, sandboxes, strict=True):
        with sandbox:
            facts = sandbox.facts()
            expected = facts["profiles_total"]
            options = {"database_id": facts["database_id"]}
            procs = {f: _spawn(sandbox, token, options, f) for f in formats}
            for file_format, proc in procs.items():
                figures = _collect(proc)
                if figures["rows"] != expected or figures["file_rows"] != expected:
                    raise AssertionError(
                        f"memory run wrote {figures['rows']} rows "
                        f"(file {figures['file_rows']}), ground truth {expected}"
                    )
                figures["records"] = expected
                results[file_format][size] = figures
    for file_format, by_size in results.items():
        small, large = (by_size[size] for size in sizes)
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
