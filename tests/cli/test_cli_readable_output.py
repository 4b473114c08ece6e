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

from airflow_provider_copernica.catalog import describe as catalog
from airflow_provider_copernica.catalog.datasets import DATASETS
from airflow_provider_copernica.engine.preview import preview_rows

REPO = Path(__file__).resolve().parents[2]
COPERNICA = Path(sys.executable).with_name("copernica")
WIDTH = 100  # the preview's bound: fits a log pane or a terminal of a normal window
WINDOW = ("--from", "2026-11-10", "--to", "2026-11-20")


def copernica(*argv: str, conn: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AIRFLOW_CONN_") and k != "AIRFLOW__CORE__UNIT_TEST_MODE"
    }
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    if conn is not None:
        env["AIRFLOW_CONN_COPERNICA_DEFAULT"] = conn
    done = subprocess.run(
        [str(COPERNICA), *argv], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def table_rows(out: str) -> list[list[str]]:
    """The rows of each aligned table in ``out``, a wrapped cell joined back into one text."""
    rows: list[list[str]] = []
    spans: list[tuple[int, int]] = []
    for line in out.splitlines():
        if line and set(line) <= {"-", " "}:  # the separator under a header: the columns
            spans = [m.span() for m in re.finditer(r"-+", line)]
            spans[-1] = (spans[-1][0], 10_000)
            continue
        if not line.strip() or not spans or line.endswith(":"):
            spans = [] if not line.strip() or line.endswith(":") else spans
            continue
        cells = [line[a:b].strip() for a, b in spans]
        if cells[0]:
            rows.append(cells)
        else:  # a continuation line of the row above
            rows[-1] = [f"{x} {y}".strip() for x, y in zip(rows[-1], cells, strict=True)]
    return rows


def test_datasets_prints_every_interval_filter_and_option_whole() -> None:
    out = copernica("datasets").stdout
    assert "…" not in out
    rows = {cells[0]: cells for cells in table_rows(out)}
    assert set(rows) == set(DATASETS)
    for name, entry in DATASETS.items():
        assert rows[name][1] == catalog.options_text(entry, values=False), name
        assert rows[name][2] == entry.interval_filter, name
    assert rows["profiles_snapshot"][2] == "snapshot: every live record as of the run"
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
    assert re.match(r"left out: \d+ row\(s\) \(raise limit\)", last), last


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
    assert "secret (masked: ***)" in out.splitlines()[-1]
