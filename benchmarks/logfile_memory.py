"""Memory: peak RSS of a child process extracting a 2,000-row vs a 200,000-row logfile.

The sandbox runs in its own process with one synthetic clicks file of each size
(``sandbox.logfiles.Logfiles.bulk``); each extraction (``logfile_events`` -> JSONL writer)
runs in a fresh child, so the figure is the client's resident memory alone. The download
goes to a temporary file and is parsed streaming, so the growth stays flat.

Part of ``make bench`` (section ``logfile``); alone: ``.venv/bin/python -m
benchmarks.logfile_memory``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.common import Report
from benchmarks.extract_run import peak_rss_mb

REPO = Path(__file__).resolve().parent.parent
SIZES = {"small": 2_000, "large": 200_000}
TARGET_GROWTH_MB = 50.0
DAYS = {"small": date.today() - timedelta(days=12), "large": date.today() - timedelta(days=10)}

_SANDBOX = """
import json, sys
from airflow_provider_copernica.sandbox import SandboxServer
server = SandboxServer(port=0, profiles=500).start()
for day, rows in json.loads(sys.argv[1]):
    server.app.logfiles.bulk[("cdm-click", day)] = rows
print(json.dumps(server.connection()), flush=True)
sys.stdin.read()
server.stop()
"""


def child(day: str, expected: int) -> None:
    """Extract one local day of clicks logfiles into a JSONL file; print rows and peak RSS."""
    from airflow_provider_copernica.engine.extract import prepare
    from airflow_provider_copernica.hooks.copernica import CopernicaHook
    from airflow_provider_copernica.interval import Window
    from airflow_provider_copernica.output.writers import open_writer

    tz = ZoneInfo("Europe/Amsterdam")
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), tz)
    window = Window(
        start.astimezone(ZoneInfo("UTC")), (start + timedelta(days=1)).astimezone(ZoneInfo("UTC"))
    )
    hook = CopernicaHook("copernica_default")
    extraction = prepare(hook, "logfile_events", options={"log_type": "clicks"}, window=window)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clicks.jsonl"
        with open_writer(str(out), "jsonl", extraction.columns) as writer:
            for rows in extraction.pages():
                writer.write(rows)
            writer.commit()
        rows = writer.rows_written
    peak_mb = peak_rss_mb()  # VmHWM: ru_maxrss would carry the parent's peak over exec
    print(json.dumps({"rows": rows, "peak_rss_mb": round(peak_mb, 1), "api_calls": hook.api_calls}))
    assert rows >= expected, (rows, expected)


def measure(sizes: dict[str, int] | None = None) -> dict[str, dict]:
    """Rows, peak RSS and calls of each size's extraction, each in a fresh child process."""
    sizes = sizes or SIZES
    bulk = [(DAYS[k].isoformat(), sizes[k]) for k in sizes]
    sandbox = subprocess.Popen(
        [sys.executable, "-c", _SANDBOX, json.dumps(bulk)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        conn = sandbox.stdout.readline()  # type: ignore[union-attr]
        env = os.environ | {"AIRFLOW_CONN_COPERNICA_DEFAULT": conn.strip()}
        results = {}
        for name, rows in sizes.items():
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.logfile_memory",
                    "child",
                    DAYS[name].isoformat(),
                    str(rows),
                ],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            results[name] = {"size": rows, **json.loads(done.stdout.strip().splitlines()[-1])}
            print(f"  logfile {name}: {results[name]}", flush=True)
    finally:
        sandbox.stdin.close()  # type: ignore[union-attr]
        sandbox.wait(timeout=30)
    return results


def run(report: Report, details: dict[str, Any], large: int = SIZES["large"]) -> None:
    """``make bench`` section ``logfile``: peak RSS of a small and a large logfile day."""
    print("logfile: peak RSS of a logfile_events extraction, small vs large file", flush=True)
    sizes = {"small": min(SIZES["small"], large // 10), "large": large}
    results = measure(sizes)
    details["logfile"] = results
    small, big = results["small"], results["large"]
    for name, res in results.items():
        report.add(
            "logfile",
            f"logfile_events -> jsonl, one day, {res['size']:,}-row file ({name})",
            f"peak RSS {res['peak_rss_mb']:.1f} MB, {res['rows']:,} rows, {res['api_calls']} calls",
        )
    growth = big["peak_rss_mb"] - small["peak_rss_mb"]
    report.add(
        "logfile",
        f"peak RSS growth, {small['size']:,} -> {big['size']:,} rows",
        f"{growth:+.1f} MB",
        target=f"< {TARGET_GROWTH_MB:.0f} MB",
        met=growth < TARGET_GROWTH_MB,
    )


def markdown(results: dict[str, dict]) -> list[str]:
    """The RESULTS.md table of the logfile section."""
    lines = ["| file | rows | peak RSS | API calls |", "|---|---|---|---|"]
    for name, res in results.items():
        lines.append(
            f"| {name} | {res['rows']:,} | {res['peak_rss_mb']:.1f} MB | {res['api_calls']} |"
        )
    return lines


def main() -> int:
    results = measure()
    growth = results["large"]["peak_rss_mb"] - results["small"]["peak_rss_mb"]
    print(f"peak RSS growth from {SIZES['small']:,} to {SIZES['large']:,} rows: {growth:.1f} MB")
    return 0 if growth < TARGET_GROWTH_MB else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(main())
