"""What ``copernica datasets`` and ``copernica preview`` print, read as a person reads a
terminal: every column whole, nothing wider than a normal window, a last line that says
what was left out, and no profile's ``secret``. Each command runs as its own process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from airflow_provider_copernica.datasets import DATASETS
from airflow_provider_copernica.preview import preview_rows

REPO = Path(__file__).resolve().parents[2]
COPERNICA = Path(sys.executable).with_name("copernica")
WIDTH = 100  # the preview's bound: fits a log pane or a terminal of a normal window
WINDOW = ("--from", "2026-11-10", "--to", "2026-11-20")


def copernica(*argv: str, conn: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    if conn is not None:
        env["AIRFLOW_CONN_COPERNICA_DEFAULT"] = conn
    done = subprocess.run(
        [str(COPERNICA), *argv], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def unwrapped(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_datasets_prints_every_interval_filter_and_option_whole() -> None:
    out = copernica("datasets").stdout
    assert "…" not in out
    flat = unwrapped(out)
    for entry in DATASETS.values():
        assert entry.interval_filter in flat, entry.interval_filter
    assert "snapshot: every live record as of the run" in flat
    assert max(len(line) for line in out.splitlines()) <= 120


def test_a_profiles_preview_fits_a_window_and_says_what_was_left_out(
    sandbox: Any, copernica_conn: str
) -> None:
    conn = os.environ["AIRFLOW_CONN_COPERNICA_DEFAULT"]
    args = ("preview", "profiles", "--option", "database_id=7616", *WINDOW, "--limit", "3")
    out = copernica(*args, conn=conn).stdout
    lines = out.rstrip("\n").splitlines()
    assert max(len(line) for line in lines) <= WIDTH, max(lines, key=len)
    for column in ("id", "fields.email", "fields.newsletter", "interests"):
        assert any(line.split()[:1] == [column] for line in lines), column  # one record a block
    last = lines[-1]
    assert re.search(r"\d+ row\(s\) left out", last), last


def test_a_clicks_preview_shows_every_column(sandbox: Any, copernica_conn: str) -> None:
    conn = os.environ["AIRFLOW_CONN_COPERNICA_DEFAULT"]
    out = copernica("preview", "clicks", *WINDOW, "--limit", "2", conn=conn).stdout
    lines = out.rstrip("\n").splitlines()
    assert max(len(line) for line in lines) <= WIDTH, max(lines, key=len)
    for column in ("link", "ip", "useragent"):
        assert any(line.split()[:1] == [column] for line in lines) or column in lines[0], column
    assert "left out" in lines[-1]


def test_a_preview_masks_each_profiles_secret(hook: Any) -> None:
    conn = os.environ["AIRFLOW_CONN_COPERNICA_DEFAULT"]
    args = ("preview", "profiles", "--option", "database_id=7616", *WINDOW, "--limit", "5")
    out = copernica(*args, conn=conn).stdout
    # the same rows as data (what an extraction writes): their secrets, whole
    rows = preview_rows(
        hook,
        "profiles",
        options={"database_id": 7616},
        date_from=WINDOW[1],
        date_to=WINDOW[3],
        limit=5,
    ).rows
    secrets = [row["secret"] for row in rows]
    assert len(secrets) == 5 and all(len(s) == 32 for s in secrets)
    shown = [s for s in secrets if s in out or s[:12] in out]
    assert not shown, f"{len(shown)} profile secret(s) in the preview"
    assert any(line.split()[:1] == ["secret"] for line in out.splitlines())
    assert "secret masked" in out.splitlines()[-1]
