"""Helpers for driving the Airflow UI in Debian's chromium through Playwright.

Kept free of pytest so that other browser tests (and a person debugging one) can import them.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("COPERNICA_CHROMIUM", "/usr/bin/chromium")
# Screenshots land here (one sub-folder per test); CI can keep the folder as an artifact.
SCREENSHOT_DIR = Path(os.environ.get("COPERNICA_SCREENSHOTS", REPO / ".browser-screenshots"))
# Never let Playwright fetch a browser of its own: only the system chromium is used.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 30_000


def chromium_problem() -> str | None:
    """Why a browser test cannot run here, or None when it can."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install -e '.[test]')"
    return None


@dataclass(frozen=True)
class AirflowUI:
    """A running Airflow's web address and its admin login (simple auth manager)."""

    url: str
    username: str
    password: str
    airflow: Any  # tests.e2e.harness.AirflowStandalone: cli(), api(), home, log_tail()


def log_in(page: Any, ui: AirflowUI) -> None:
    """Log in through the simple auth manager's login form; returns on the home page."""
    page.goto(f"{ui.url}/")
    page.get_by_label(re.compile("username", re.I)).fill(ui.username)
    page.get_by_label(re.compile("password", re.I)).fill(ui.password)
    page.get_by_role("button", name=re.compile("sign in|log ?in", re.I)).click()
    wait_logged_in(page, ui)


def wait_logged_in(page: Any, ui: AirflowUI) -> None:
    """Until the page shows Airflow's navigation (the login page has none)."""
    page.wait_for_url(re.compile(rf"^{re.escape(ui.url)}/(?!auth)"))
    page.get_by_role("button", name="Admin").wait_for()
