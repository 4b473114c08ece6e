"""The cost of a current-state snapshot (issue 12): calls, seconds and peak RSS of
``profiles_snapshot`` (and of the id snapshot ``profile_ids`` the deletions datasets take)
against a sandbox of 100,000 profiles, each in a fresh child process.

Usage: ``python -m benchmarks.snapshot [--profiles 100000] [--page-size 1000]``. The rows
are checked against the sandbox's ground truth; the figures go to stdout as a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

from benchmarks.common import CONN_ID, REPO, WORK_DIR, SandboxProcess, setup_environment

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args(argv)
    setup_environment()
    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN

    with SandboxProcess(profiles=args.profiles) as sandbox:
        live = sandbox.facts()["profiles_total"]
        print(
            f"snapshot cost: {args.profiles:,} seeded profiles, {live:,} live in database 7616,"
            f" page_size {args.page_size}"
        )
        print(
            f"{'dataset':<20}{'format':<9}{'rows':>9}{'calls':>7}{'seconds':>9}{'peak RSS MB':>13}"
        )
        for dataset, fmt in CASES:
            figures = _child(sandbox, SANDBOX_ACCESS_TOKEN, dataset, fmt, page_size=args.page_size)
            if figures["rows"] != live or figures["file_rows"] != live:
                raise AssertionError(f"{dataset}: {figures['rows']} rows, ground truth {live}")
            print(
                f"{dataset:<20}{fmt:<9}{figures['rows']:>9,}{figures['api_calls']:>7}"
                f"{figures['seconds']:>9.1f}{figures['rss_peak_mb']:>13.0f}"
                f"{figures['rss_imported_mb']:>15.0f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
