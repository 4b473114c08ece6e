"""Apache Airflow 3 provider for Copernica marketing-automation data."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

HOOK_CLASS_NAME = "airflow_provider_copernica.hooks.copernica.CopernicaHook"
CONN_TYPE = "copernica"
HOOK_NAME = "Copernica"
INTEGRATION = "Copernica"

# Standard connection form fields: what the Copernica connection uses them for.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["login", "schema", "port"],
    "relabeling": {"password": "API access token", "host": "REST API base URL"},
    "placeholders": {
        "host": "https://api.copernica.com",
        "password": "dashboard access token, or run `copernica authorize`",
    },
}


def _conn_fields() -> dict[str, Any]:
    """The form's extra fields, from ``config.EXTRA_FIELDS`` (no defaults: see ExtraField)."""
    from airflow_provider_copernica.config import EXTRA_FIELDS

    return {
        f.name: {"label": f.label, "schema": f.json_schema(), "description": f.help_text()}
        for f in EXTRA_FIELDS
    }


def get_provider_info() -> dict[str, Any]:
    """Provider metadata read by Airflow's ProvidersManager (entry point apache_airflow_provider)."""
    modules = {
        "hooks": "airflow_provider_copernica.hooks.copernica",
        "operators": "airflow_provider_copernica.operators.copernica",
        "sensors": "airflow_provider_copernica.sensors.copernica",
        "triggers": "airflow_provider_copernica.triggers.copernica",
    }
    return {
        "package-name": "airflow-provider-copernica",
        "name": "Copernica",
        "description": "Extract Copernica marketing data (profiles, emailings, events, "
        "statistics), one data interval at a time, into storage.",
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://www.copernica.com/en/documentation/rest-api",
                "tags": ["service"],
            }
        ],
        **{
            kind: [{"integration-name": INTEGRATION, "python-modules": [module]}]
            for kind, module in modules.items()
        },
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": HOOK_CLASS_NAME,
                "hook-name": HOOK_NAME,
                # Declarative form (Airflow >= 3.2 reads these without importing the hook);
                # the hook's get_connection_form_widgets/get_ui_field_behaviour serve older 3.x.
                "conn-fields": _conn_fields(),
                "ui-field-behaviour": {
                    "hidden-fields": UI_FIELD_BEHAVIOUR["hidden_fields"],
                    "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
                    "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
                },
            }
        ],
    }
