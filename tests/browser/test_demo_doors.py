"""Every door ``make demo`` names, tried in Debian's chromium with the demo's own settings.

The Airflow here is configured the way ``scripts/demo.sh`` configures its own: the OAuth
app's ``[copernica]`` settings come from ``bash scripts/demo.sh app-env PORT`` (what the demo
exports before it starts Airflow), and the DAGs folder is the repository's ``dags/``. A
newcomer authorizes a *new* connection from Plugins > Copernica and tests it with the
connection's Test button; then opens the preview DAG's Trigger form and runs a preview.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_copernica.catalog.datasets import DATASETS
from airflow_provider_copernica.sandbox import SandboxServer

from .ui import REPO, AirflowUI

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

ACCOUNT = "Connected to account Sandbox (Copernica Sandbox BV)"
RUN_FIELDS = ["dataset", "date_from", "date_to", "limit", "fields"]


def demo_app_env(port: int) -> dict[str, str]:
    """What ``scripts/demo.sh`` exports for the sandbox on ``port`` (KEY=VALUE lines)."""
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "demo.sh"), "app-env", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if line)


@pytest.fixture(scope="module")
def copernica() -> Iterator[SandboxServer]:
    """The demo's sandbox (default data: database 7616, anchored today)."""
    server = SandboxServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser_airflow_env(copernica: SandboxServer) -> dict[str, str]:
    """The demo's configuration: its dags/, its [copernica] app and copernica_default."""
    port = int(copernica.url.rsplit(":", 1)[1])
    app = demo_app_env(port)
    assert app, "scripts/demo.sh configures no [copernica] app"
    assert all(key.startswith("AIRFLOW__COPERNICA__") for key in app), app
    extra = copernica.connection_extra()  # the app the sandbox accepts
    assert app["AIRFLOW__COPERNICA__CLIENT_ID"] == extra["client_id"]
    assert app["AIRFLOW__COPERNICA__CLIENT_SECRET"] == extra["client_secret"]
    assert app["AIRFLOW__COPERNICA__AUTHORIZE_URL"] == extra["authorize_url"]
    return {
        **app,
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW_CONN_COPERNICA_DEFAULT": json.dumps(copernica.connection()),
        "PYTHONPATH": str(REPO),
    }


def test_a_new_connection_authorized_from_the_plugin_passes_the_test_button(
    airflow_ui: AirflowUI, copernica: SandboxServer, logged_in_page: Any, screenshot: Any
) -> None:
    from playwright.sync_api import expect

    page = logged_in_page
    page.get_by_role("button", name="Plugins").click()
    with page.context.expect_page() as opened:
        page.get_by_role("menuitem", name="Copernica", exact=True).click()
    tab = opened.value
    tab.wait_for_load_state()
    tab.get_by_label("Connection id").fill("copernica_newcomer")
    tab.get_by_role("button", name="Authorize", exact=True).click()  # -> consent -> back
    expect(tab.locator("#outcome")).to_have_text(
        f"{ACCOUNT}. Connection 'copernica_newcomer' created.", timeout=60_000
    )
    screenshot("authorized", tab)

    page.goto(f"{airflow_ui.url}/connections")
    row = page.get_by_role("row").filter(has_text="copernica_newcomer")
    with page.expect_response(re.compile(r"/api/v2/connections/test$")) as reply:
        row.get_by_role("button", name="Test Connection").click()
    assert reply.value.ok, reply.value.text()
    assert ACCOUNT in reply.value.json()["message"]
    expect(page.get_by_text(ACCOUNT)).to_be_visible()
    assert list(copernica.iter_requests("/v4/token"))  # a real code exchange happened


def _open_trigger_form(page: Any, ui: AirflowUI) -> Any:
    ui.airflow.wait_until(
        "copernica_preview to be parsed",
        lambda: ui.airflow.api("GET", "dags/copernica_preview"),
        240,
    )
    page.goto(f"{ui.url}/dags/copernica_preview")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Run Parameters").wait_for()
    return dialog


def _sections(dialog: Any) -> dict[str, list[tuple[str, str]]]:
    """Accordion title -> [(field label, help text)] of the form's parameter sections."""
    found: dict[str, list[tuple[str, str]]] = {}
    for item in dialog.locator(".chakra-accordion__item").all():
        title = item.locator(".chakra-accordion__itemTrigger").first.inner_text().strip()
        if title in ("Advanced Options",):
            continue
        trigger = item.locator(".chakra-accordion__itemTrigger").first
        if trigger.get_attribute("aria-expanded") != "true":
            trigger.click()
        fields = []
        for field in item.locator("[data-scope=field][data-part=root]").all():
            label = field.locator("label").first.inner_text().strip(" *\n")
            helper = field.locator("[data-part=helper-text]")
            fields.append((label, helper.first.inner_text() if helper.count() else ""))
        found[title] = fields
    return found


def test_the_preview_trigger_form_groups_options_by_dataset(
    airflow_ui: AirflowUI, logged_in_page: Any, screenshot: Any
) -> None:
    page = logged_in_page
    dialog = _open_trigger_form(page, airflow_ui)
    sections = _sections(dialog)
    screenshot("trigger-form")

    # The run's own fields first; every dataset option in a section named after its datasets.
    assert [label for label, _ in sections.pop("Run Parameters")] == RUN_FIELDS
    takers: dict[str, list[str]] = {}
    for entry in DATASETS.values():
        for name in entry.option_names:
            takers.setdefault(name, []).append(entry.name)
    placed = {
        label: (title, helper) for title, fields in sections.items() for label, helper in fields
    }
    assert set(placed) == set(takers)
    for option, datasets in takers.items():
        title, helper = placed[option]
        kinds = {DATASETS[d].kind for d in datasets}
        assert all(kind in title for kind in kinds), (option, title)
        for dataset in datasets:  # each help text says which datasets take the option
            assert re.search(rf"\b{re.escape(dataset)}\b", helper), (option, helper)
        assert not re.fullmatch(r"For \w+\.", helper), helper

    # No dropdown shows the word null, and nothing is prefilled that clicks does not take.
    form_text = dialog.inner_text()
    assert not re.search(r"\bnull\b", form_text), "a dropdown shows 'null'"
    assert dialog.locator("input[name=element_database_id]").input_value() == ""
    for option in takers:
        if option in DATASETS["clicks"].option_names:
            continue
        box = dialog.locator(f"input[name=element_{option}]")
        if box.count():  # a dropdown's empty value is the UI's "__null__"
            assert box.first.input_value() in ("", "__null__"), option


def test_the_trigger_form_refuses_a_limit_of_zero_and_runs_a_readable_preview(
    airflow_ui: AirflowUI, copernica: SandboxServer, logged_in_page: Any, screenshot: Any
) -> None:
    from playwright.sync_api import expect

    airflow = airflow_ui.airflow
    airflow.cli("dags", "unpause", "copernica_preview")
    page = logged_in_page
    dialog = _open_trigger_form(page, airflow_ui)
    limit = dialog.locator("input[name=element_limit]")
    limit.fill("0")
    limit.blur()
    assert limit.input_value() != "0", "the form kept a limit of 0"
    limit.fill("5")
    limit.blur()
    # the week before the sandbox's anchor (the default, the last full day, may hold no rows)
    anchor = copernica.data.anchor
    for name, day in (("date_from", anchor - timedelta(days=7)), ("date_to", anchor)):
        dialog.locator(f"input[name=element_{name}]").fill(day.isoformat())
    # profiles with the sandbox's database: type the dataset and the id the form asks for
    dialog.locator("#element_dataset").click()
    page.keyboard.type("profiles")
    page.get_by_role("option", name="profiles", exact=True).click()
    section = dialog.locator(".chakra-accordion__item").filter(
        has=page.locator("input[name=element_database_id]")
    )
    if not dialog.locator("input[name=element_database_id]").is_visible():
        section.locator(".chakra-accordion__itemTrigger").first.click()
    dialog.locator("input[name=element_database_id]").fill("7616")
    dialog.locator("input[name=element_database_id]").blur()
    screenshot("trigger-profiles")
    with page.expect_response(re.compile(r"/api/v2/dags/copernica_preview/dagRuns$")) as reply:
        dialog.get_by_role("button", name="Trigger").last.click()
    assert reply.value.ok, reply.value.text()
    run = reply.value.json()
    assert run["conf"]["limit"] == 5 and run["conf"]["database_id"] == 7616
    assert run["conf"]["date_from"] == (anchor - timedelta(days=7)).isoformat()
    run_id = run["dag_run_id"]

    started = time.monotonic()
    done = airflow.wait_until(
        "the preview run to finish",
        lambda: (
            (r := airflow.api("GET", f"dags/copernica_preview/dagRuns/{run_id}"))["state"]
            in ("success", "failed")
            and r
        ),
        300,
    )
    print(f"\npreview run: {time.monotonic() - started:.1f}s")
    log = _task_log(airflow, run_id)
    assert done["state"] == "success", log[-3000:]
    events = [e for e in log.splitlines() if e.strip()]
    assert any("left out" in e for e in events), log[-2000:]
    assert "secret (masked: ***)" in log
    # the sandbox's rows of that window: none of their secrets reached the log
    page.goto(f"{airflow_ui.url}/dags/copernica_preview/runs/{run_id}/tasks/preview")
    expect(page.get_by_text("left out").first).to_be_visible(timeout=60_000)
    screenshot("preview-log")
    first = next(i for i, e in enumerate(events) if e.startswith("profiles ["))
    last = next(i for i, e in enumerate(events) if e.startswith("left out: "))
    assert last == first + 5 * 17 + 2, events[first : last + 1]  # 5 blocks of 16 columns
    widest = max(events[first : last + 1], key=len)  # the preview's lines, not Airflow's
    assert len(widest) <= 100, f"a log line of {len(widest)} characters: {widest[:120]}"
    secrets = re.findall(r"\b[0-9a-f]{32}\b", log)
    assert not secrets, f"{len(secrets)} secret-like value(s) in the task log"


def _task_log(airflow: Any, run_id: str) -> str:
    """The preview task's log: one event's message per line (an error with its detail)."""
    content = airflow.api(
        "GET",
        f"dags/copernica_preview/dagRuns/{run_id}/taskInstances/preview/logs/1",
        params={"full_content": "true"},
    )["content"]
    lines = []
    for item in content:
        if not isinstance(item, dict):
            lines.append(str(item))
            continue
        lines.append(str(item.get("event", "")))
        if item.get("error_detail"):
            lines.append(json.dumps(item["error_detail"])[:3000])
    return "\n".join(lines)
