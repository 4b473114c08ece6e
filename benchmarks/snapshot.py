"""The cost of a current-state snapshot (issue 12): calls, seconds and peak RSS of
``profiles_snapshot`` (and of the id snapshot ``profile_ids`` the deletions datasets take)
against a sandbox of 100,000 profiles, each in a fresh child process.

Part of ``make bench`` (section ``snapshot``); alone: ``python -m benchmarks.snapshot [--profiles 100000] [--page-size 1000]``. The rows
are checked against the sandbox's ground truth; the figures go to stdout as a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

from benchmarks.common import (
    CONN_ID,
    REPO,
    WORK_DIR,
    Report,
    SandboxProcess,
    setup_environment,
)

CASES = (("profiles_snapshot", "jsonl"), ("profiles_snapshot", "parquet"), ("profile_ids", "jsonl"))


def _child(sandbox: SandboxProcess, token: str, dataset: str, fmt: str, **extra: Any) -> dict:
    out = WORK_DIR / "out" / f"snapshot_{dataset}.{fmt}"
    out.parent.mkdir(parents=True, exist_ok=True)
    spec = {
        "conn_env": f"AIRFLOW_CONN_{CONN_ID.upper()}",
        "conn_value": sandbox.connection_uri_env(token, **extra),
        "dataset": dataset,
        "options": {"database_id": sandbox.facts()["database_id"]},
        "format": fmt,
        "out": str(out),
    }
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.extract_run", json.dumps(spec)],
        cwd=REPO,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{dataset} child failed: {done.stderr.strip()[-800:]}")
    return json.loads(lines[-1])


def measure(profiles: int, page_size: int = 1000) -> dict[str, Any]:
    """Seed a sandbox of ``profiles`` profiles and run each case once in a fresh child."""
    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN

    results: dict[str, Any] = {"profiles": profiles, "page_size": page_size, "cases": []}
    with SandboxProcess(profiles=profiles) as sandbox:
        live = sandbox.facts()["profiles_total"]
        results["live"] = live
        print(
            f"snapshot cost: {profiles:,} seeded profiles, {live:,} live in database 7616,"
            f" page_size {page_size}",
            flush=True,
        )
        for dataset, fmt in CASES:
            figures = _child(sandbox, SANDBOX_ACCESS_TOKEN, dataset, fmt, page_size=page_size)
            if figures["rows"] != live or figures["file_rows"] != live:
                raise AssertionError(f"{dataset}: {figures['rows']} rows, ground truth {live}")
            results["cases"].append({"dataset": dataset, "format": fmt, **figures})
    return results


def run(report: Report, details: dict[str, Any], profiles: int = 100_000) -> None:
    """``make bench`` section ``snapshot``: one line per case in the results table, at
    ``profiles`` and at a tenth of it (peak RSS must not grow with the database)."""
    small, large = measure(profiles // 10), measure(profiles)
    details["snapshot"] = {"small": small, "large": large}
    for results in (small, large):
        for case in results["cases"]:
            report.add(
                "snapshot",
                f"{case['dataset']} -> {case['format']} ({results['live']:,} live of "
                f"{results['profiles']:,} profiles)",
                f"{case['api_calls']} calls, {case['seconds']:.1f} s, peak RSS "
                f"{case['rss_peak_mb']:.0f} MB ({case['rss_imported_mb']:.0f} MB after imports)",
            )
    for few, many in zip(small["cases"], large["cases"], strict=True):
        growth = many["rss_peak_mb"] - few["rss_peak_mb"]
        report.add(
            "snapshot",
            f"{many['dataset']} -> {many['format']}: peak RSS growth for 10x the profiles",
            f"{growth:.0f} MB",
            target="< 150 MB (pages streamed; Parquet holds one row group)",
            met=growth < 150,
        )


def markdown(details: dict[str, Any]) -> list[str]:
    """The RESULTS.md table of the snapshot section (both sizes, every case)."""
    lines = [
        "| dataset | format | profiles (live) | billed calls | seconds | peak RSS (after imports) |",
        "|---|---|---|---|---|---|",
    ]
    for size in ("large", "small"):
        results = details[size]
        for case in results["cases"]:
            lines.append(
                f"| `{case['dataset']}` | {case['format']} | {results['profiles']:,} "
                f"({results['live']:,}) | {case['api_calls']} | {case['seconds']:.1f} "
                f"| {case['rss_peak_mb']:.0f} MB ({case['rss_imported_mb']:.0f} MB) |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args(argv)
    setup_environment()
    results = measure(args.profiles, args.page_size)
    print(f"{'dataset':<20}{'format':<9}{'rows':>9}{'calls':>7}{'seconds':>9}{'peak RSS MB':>13}")
    for case in results["cases"]:
        print(
            f"{case['dataset']:<20}{case['format']:<9}{case['rows']:>9,}{case['api_calls']:>7}"
            f"{case['seconds']:>9.1f}{case['rss_peak_mb']:>13.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
