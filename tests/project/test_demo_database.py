"""`make demo`'s database step (scripts/demo_database.py): the demo's days of clicks in
DuckDB, and the clicks per day a newcomer sees, equal to the sandbox's ground truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sandbox_requests import truth

from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo_database.py"


def test_the_demo_prints_the_clicks_per_day_from_duckdb(sandbox: Any, tmp_path: Path) -> None:
    (tmp_path / "sandbox.log").write_text(
        f"Copernica sandbox listening\nAIRFLOW_CONN_COPERNICA_DEFAULT='{json.dumps(sandbox.connection(SANDBOX_ACCESS_TOKEN))}'\n"
    )
    first, days = date(2026, 11, 14), 7
    for _ in range(2):  # a second demo replaces the same days
        done = subprocess.run(
            [sys.executable, str(SCRIPT), str(tmp_path), first.isoformat(), str(days)],
            capture_output=True,
            text=True,
            timeout=300,
            env=os.environ.copy(),
        )
        assert done.returncode == 0, done.stderr[-2000:]
    start = datetime.combine(first, datetime.min.time(), timezone.utc)
    per_day = {
        (start + timedelta(days=n)).date().isoformat(): truth(
            sandbox, "clicks", (start + timedelta(days=n), start + timedelta(days=n + 1))
        )
        for n in range(days)
    }
    shown = {
        line.split()[0]: int(line.split()[1])
        for line in done.stdout.splitlines()
        if line.startswith("  20")
    }
    assert shown == {day: n for day, n in per_day.items() if n}
    assert f"demo: {sum(per_day.values())} clicks of {days} days loaded" in done.stdout
    assert "Task Runner" not in done.stdout  # the answer, not the logs
