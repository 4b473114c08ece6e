"""The Copernica connection in the Airflow 3 UI, driven in headless chromium like a person does.

One ``airflow standalone`` serves the module; each test uses its own connection id. The
connections point at the session's sandbox, which the api-server calls for the Test button.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from airflow_provider_copernica.client.settings import EXTRA_FIELDS
from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN

from .ui import AirflowUI

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SUCCESS = "Test Connection Successful"


def _open_add_form(page: Any, ui: AirflowUI) -> Any:
    """The "Add Connection" dialog with the Copernica type chosen."""
    page.goto(f"{ui.url}/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("combobox").click()
    page.keyboard.type("Copernica")
    page.keyboard.press("Enter")
    dialog.get_by_text("REST API base URL").wait_for()
    return dialog


def _test_button_toast(page: Any, ui: AirflowUI, conn_id: str) -> str:
    """Click the connection's Test button in the list; returns the toast's text."""
    page.goto(f"{ui.url}/connections")
    row = page.get_by_role("row").filter(has_text=conn_id)
    with page.expect_response(re.compile(r"/api/v2/connections/test$")) as reply:
        row.get_by_role("button", name="Test Connection").click()
    toast = page.get_by_role("status").filter(has_text="Test Connection")
    toast.wait_for()
    text = toast.inner_text()
    assert reply.value.ok, f"{reply.value.status} {reply.value.text()} (toast: {text!r})"
    return text


def test_form_shows_the_copernica_fields(
    logged_in_page: Any, airflow_ui: AirflowUI, screenshot: Any
) -> None:
    dialog = _open_add_form(logged_in_page, airflow_ui)
    dialog.get_by_text("Extra Fields", exact=True).click()
    dialog.get_by_text(EXTRA_FIELDS[-1].label).wait_for()
    screenshot("add-form")

    labels = [text.strip(" *\n") for text in dialog.locator("label").all_inner_texts()]
    assert {"Description", "REST API base URL", "API access token"} <= set(labels)
    assert [f.label for f in EXTRA_FIELDS] == [x for x in labels if x in _extra_labels()]
    # login, schema and port are hidden; host and password carry the Copernica placeholders.
    for hidden in ("login", "schema", "port"):
        assert dialog.locator(f"input[name={hidden}]").count() == 0
    assert dialog.locator("input[name=host]").get_attribute("placeholder") == (
        "https://api.copernica.com"
    )
    assert "copernica authorize" in dialog.locator("input[name=password]").get_attribute(
        "placeholder"
    )
    assert dialog.locator("input[name=element_client_secret]").get_attribute("type") == "password"
    # Extras start empty (the default is in the help text), so nothing untyped is stored.
    assert dialog.locator("input[name=element_page_size]").input_value() == ""
    assert dialog.get_by_text("Records per request. Range 1..1000. Default: 1000.").is_visible()


def _extra_labels() -> set[str]:
    return {f.label for f in EXTRA_FIELDS}


def test_connection_saved_through_the_form_stores_what_was_typed_and_tests_green(
    logged_in_page: Any, airflow_ui: AirflowUI, sandbox: Any, screenshot: Any
) -> None:
    page = logged_in_page
    dialog = _open_add_form(page, airflow_ui)
    dialog.locator("input[name=connection_id]").fill("copernica_form")
    dialog.locator("input[name=host]").fill(sandbox.url)
    dialog.locator("input[name=password]").fill(SANDBOX_ACCESS_TOKEN)
    dialog.get_by_text("Extra Fields", exact=True).click()
    dialog.locator("input[name=element_auth_url]").fill(f"{sandbox.url}/authenticate")
    dialog.locator("input[name=element_page_size]").fill("500")
    screenshot("filled-form")
    with page.expect_response(re.compile(r"/api/v2/connections$")) as saved:
        dialog.get_by_role("button", name="Save").click()
    assert saved.value.status == 201, saved.value.text()

    stored = airflow_ui.airflow.api("GET", "connections/copernica_form")
    assert stored["host"] == sandbox.url
    assert stored["port"] is None
    assert json.loads(stored["extra"]) == {
        "auth_url": f"{sandbox.url}/authenticate",
        "page_size": 500,
    }

    toast = _test_button_toast(page, airflow_ui, "copernica_form")
    screenshot("form-connection-tested")
    assert SUCCESS in toast
    assert "Connected to account Sandbox" in toast


def test_connection_added_by_the_cli_tests_green(
    logged_in_page: Any, airflow_ui: AirflowUI, sandbox: Any, screenshot: Any
) -> None:
    # As the demo stores it: `airflow connections add`, no port (null in the metadata DB).
    conn = sandbox.connection()
    airflow_ui.airflow.cli(
        "connections",
        "add",
        "copernica_cli",
        "--conn-type",
        conn["conn_type"],
        "--conn-host",
        conn["host"],
        "--conn-password",
        conn["password"],
        "--conn-extra",
        json.dumps(conn["extra"]),
    )
    assert airflow_ui.airflow.api("GET", "connections/copernica_cli")["port"] is None

    toast = _test_button_toast(logged_in_page, airflow_ui, "copernica_cli")
    screenshot("cli-connection-tested")
    assert SUCCESS in toast
    assert "Connected to account Sandbox" in toast
