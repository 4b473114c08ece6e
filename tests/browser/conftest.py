"""Browser-test harness: a real ``airflow standalone`` with this provider, and Debian's chromium.

Fixtures (names are stable; other browser tests build on them):

``browser_airflow_env`` (module)
    Extra environment for the Airflow processes. Override it in a test module to change
    Airflow's configuration; the default runs no DAGs (an empty DAGs folder).
``airflow_ui`` (module)
    A started ``airflow standalone`` (SQLite, LocalExecutor, api-server on a free loopback
    port, Test Connection enabled), stopped after the module: an :class:`ui.AirflowUI` with
    ``url``, ``username``, ``password`` (the generated admin login) and ``airflow``, the
    :class:`e2e.harness.AirflowStandalone` (``cli()``, ``api()``, ``home``, ``log_tail()``).
``browser`` (module)
    A Playwright ``Browser`` on ``/usr/bin/chromium`` (headless, never a downloaded browser).
``page`` (function)
    A fresh Playwright ``Page`` (own context, 30 s default timeout). A failing test leaves a
    screenshot ``failure.png`` in its screenshot folder.
``logged_in_page`` (function)
    ``page`` after logging in through Airflow's login form as the admin.
``screenshot`` (function)
    ``screenshot("name")`` saves the current page to ``<SCREENSHOT_DIR>/<test name>/name.png``
    and returns the path (``SCREENSHOT_DIR``: ``$COPERNICA_SCREENSHOTS`` or
    ``.browser-screenshots/`` in the repository).

Without chromium or playwright the tests are skipped with the reason, except in CI
(``CI=true``), where that fails them: CI must run the browser tests.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.harness import AirflowStandalone, airflow_env, free_port

from .ui import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DEFAULT_TIMEOUT_MS,
    SCREENSHOT_DIR,
    AirflowUI,
    chromium_problem,
    log_in,
)


def _require_chromium() -> None:
    problem = chromium_problem()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests must run in CI: {problem}", pytrace=False)
    pytest.skip(problem)


@pytest.fixture(scope="module")
def browser_airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment overrides for the browser tests' Airflow (override per module)."""
    return {"AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path_factory.mktemp("no-dags"))}


@pytest.fixture(scope="module")
def airflow_ui(
    browser_airflow_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowUI]:
    """A started ``airflow standalone`` for the module's browser tests; see the module doc."""
    _require_chromium()
    started = time.monotonic()
    home: Path = tmp_path_factory.mktemp("airflow-browser")
    port = free_port()
    instance = AirflowStandalone(home, airflow_env(home, port, browser_airflow_env), port)
    try:
        instance.migrate()
        instance.start()
        instance.wait_until("the api-server", lambda: instance.api("GET", "monitor/health"), 240)
        print(f"\nAirflow UI ready after {time.monotonic() - started:.1f}s at {instance.base_url}")
        yield AirflowUI(
            url=instance.base_url,
            username="admin",
            password=instance._password(),
            airflow=instance,
        )
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Playwright's chromium: Debian's ``/usr/bin/chromium``, headless.

    Module-scoped: while Playwright's sync API runs, the main thread has a running event loop,
    and every later pytest-asyncio test fails ("Runner.run() cannot be called from a running
    event loop"); closing it after each browser module gives the loop back.
    """
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def _test_folder(request: pytest.FixtureRequest) -> Path:
    return SCREENSHOT_DIR / re.sub(r"[^\w.-]+", "_", request.node.name)


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    """``screenshot(name, page=None)``: save a PNG of the page; returns its path."""

    def take(name: str, page: Any = None) -> Path:
        target = page or request.getfixturevalue("page")
        path = _test_folder(request) / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        target.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page in its own browser context; a failure leaves ``failure.png``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    new_page = context.new_page()
    yield new_page
    if request.node.stash.get(_FAILED, False):
        path = _test_folder(request) / "failure.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            new_page.screenshot(path=str(path), full_page=True)
            print(f"\nscreenshot of the failure: {path}")
        except Exception as exc:  # the page may be gone; the test's own error matters more
            print(f"\nno failure screenshot: {exc!r}")
    context.close()


@pytest.fixture
def logged_in_page(page: Any, airflow_ui: AirflowUI) -> Any:
    """``page`` logged in to ``airflow_ui`` as the admin, on the home page."""
    log_in(page, airflow_ui)
    return page
