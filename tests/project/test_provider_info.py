"""Provider metadata: valid against the installed Airflow's schema, and discovered by Airflow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import airflow_provider_copernica
from airflow_provider_copernica import HOOK_CLASS_NAME, get_provider_info
from airflow_provider_copernica.client.settings import EXTRA_FIELDS


def _airflow_schema(name: str) -> dict[str, Any]:
    import airflow

    return json.loads((Path(airflow.__file__).parent / name).read_text())


@pytest.fixture(scope="module")
def info() -> dict[str, Any]:
    return get_provider_info()


def test_validates_against_airflows_provider_info_schema(info: dict[str, Any]) -> None:
    jsonschema.validate(info, _airflow_schema("provider_info.schema.json"))


def test_connection_type_matches_provider_yaml_schema(info: dict[str, Any]) -> None:
    # conn-fields / ui-field-behaviour are defined (strictly) in provider.yaml's schema.
    schema = _airflow_schema("provider.yaml.schema.json")["properties"]["connection-types"]
    jsonschema.validate(info["connection-types"], schema)


def test_declares_the_copernica_connection_form(info: dict[str, Any]) -> None:
    (conn,) = info["connection-types"]
    assert conn["connection-type"] == "copernica"
    assert conn["hook-class-name"] == "airflow_provider_copernica.hooks.copernica.CopernicaHook"
    assert conn["hook-name"] == "Copernica"
    behaviour = conn["ui-field-behaviour"]
    assert set(behaviour["hidden-fields"]) == {"login", "schema", "port"}
    assert behaviour["relabeling"]["password"] == "API access token"
    assert behaviour["placeholders"]["host"] == "https://api.copernica.com"
    contract_extras = {
        "auth_url",
        "api_version",
        "timezone",
        "client_id",
        "client_secret",
        "redirect_uri",
        "page_size",
        "max_retries",
        "timeout",
        "legacy_paths",
    }
    assert contract_extras <= set(conn["conn-fields"])
    assert conn["conn-fields"]["client_secret"]["schema"]["format"] == "password"
    page_size = conn["conn-fields"]["page_size"]
    # Bounds as Airflow's HTTP provider declares them; no default, so that the form stores only
    # what the user typed (a default would be written into every saved connection's extra).
    assert page_size["schema"] == {"type": ["integer", "null"], "minimum": 1, "maximum": 1000}
    assert page_size["description"] == "Records per request. Range 1..1000. Default: 1000."
    assert not any("default" in f["schema"] for f in conn["conn-fields"].values())
    assert conn["conn-fields"]["max_retry_duration"]["schema"]["minimum"] == 0


def test_airflow_builds_the_form_from_the_provider_info_alone(info: dict[str, Any]) -> None:
    from airflow.providers_manager import ProvidersManager

    from airflow_provider_copernica.hooks.copernica import CopernicaHook

    # Airflow 3.3 skips the hook's wtforms methods when the provider info declares the form,
    # so the hook defines none (code no Airflow this provider supports would call).
    for method in ("get_connection_form_widgets", "get_ui_field_behaviour"):
        assert method not in CopernicaHook.__dict__, method
    manager = ProvidersManager()
    assert manager.hooks["copernica"].hook_class_name == HOOK_CLASS_NAME
    widgets = {k for k in manager.connection_form_widgets if k.startswith("extra__copernica__")}
    assert widgets == {f"extra__copernica__{f.name}" for f in EXTRA_FIELDS}
    declared = info["connection-types"][0]["ui-field-behaviour"]
    behaviour = manager.field_behaviours["copernica"]
    assert behaviour["hidden_fields"] == declared["hidden-fields"]
    assert behaviour["relabeling"] == declared["relabeling"]
    assert behaviour["placeholders"] == declared["placeholders"]


def test_settings_accept_every_declared_default() -> None:
    from airflow_provider_copernica.client.settings import CopernicaSettings

    extra = {f.name: f.default for f in EXTRA_FIELDS if f.default is not None}
    settings = CopernicaSettings.from_fields(host=None, password="x", extra=extra)
    assert settings.page_size == 1000 and settings.api_base == "https://api.copernica.com/v4"
    assert settings == CopernicaSettings.from_fields(host=None, password="x", extra={})


def test_the_connection_form_plugin_is_registered() -> None:
    from airflow import plugins_manager

    from airflow_provider_copernica.plugins.connection_form import CopernicaConnectionFormMiddleware

    _, middlewares = plugins_manager.get_fastapi_plugins()
    assert CopernicaConnectionFormMiddleware in [m["middleware"] for m in middlewares]


def test_providers_manager_lists_the_copernica_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-copernica" in manager.providers
    assert manager.providers["airflow-provider-copernica"].version == (
        airflow_provider_copernica.__version__
    )
    assert manager.field_behaviours["copernica"]["relabeling"]["password"] == "API access token"
    widget = manager.connection_form_widgets["extra__copernica__client_secret"]
    assert widget.is_sensitive


def test_task_runtime_resolves_the_copernica_hook() -> None:
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hook = ProvidersManagerTaskRuntime().hooks["copernica"]
    assert hook is not None
    assert hook.hook_class_name.endswith("CopernicaHook")
    assert hook.connection_id_attribute_name == "copernica_conn_id"
    assert hook.hook_name == "Copernica"
    assert hook.connection_testable
