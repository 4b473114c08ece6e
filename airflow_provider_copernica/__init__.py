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
    """The form's extra fields, from ``client.settings.EXTRA_FIELDS`` (no defaults: see ExtraField)."""
    from airflow_provider_copernica.client.settings import EXTRA_FIELDS

    return {
        f.name: {"label": f.label, "schema": f.json_schema(), "description": f.help_text()}
        for f in EXTRA_FIELDS
    }


PLUGIN_CLASS = "airflow_provider_copernica.plugins.CopernicaPlugin"


def _config_option(description: str, example: str | None = None, **more: Any) -> dict[str, Any]:
    return {
        "description": description,
        "version_added": "0.1.0",
        "type": "string",
        "example": example,
        "default": None,
        **more,
    }


# [copernica]: the registered app's credentials for the UI's Authorize button (a connection's
# own client_id/client_secret extras win), and where new connections point.
CONFIG_SECTION: dict[str, Any] = {
    "description": "Authorizing Copernica from the Airflow UI (the Copernica page).",
    "options": {
        "client_id": _config_option("The registered Copernica app's client key."),
        "client_secret": _config_option("The registered app's client secret.", sensitive=True),
        "host": _config_option(
            "REST API base URL of connections created by Authorize.", "https://api.copernica.com"
        ),
        "auth_url": _config_option("JWT exchange URL of connections created by Authorize."),
        "authorize_url": _config_option(
            "Copernica's consent page.", "https://www.copernica.com/en/authorize"
        ),
        "redirect_uri": _config_option(
            "Must be the API server's own callback, <[api] base_url>/copernica/callback "
            "(the default); anything else is refused."
        ),
    },
}


def get_provider_info() -> dict[str, Any]:
    """Provider metadata read by Airflow's ProvidersManager (entry point apache_airflow_provider)."""
    modules = {
        "hooks": ["airflow_provider_copernica.hooks.copernica"],
        "operators": [
            "airflow_provider_copernica.operators.copernica",
            "airflow_provider_copernica.operators.partitioned",
        ],
        "sensors": ["airflow_provider_copernica.sensors.copernica"],
        "triggers": ["airflow_provider_copernica.triggers.copernica"],
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
            kind: [{"integration-name": INTEGRATION, "python-modules": paths}]
            for kind, paths in modules.items()
        },
        "plugins": [{"name": "copernica", "plugin-class": PLUGIN_CLASS}],
        "config": {"copernica": CONFIG_SECTION},
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": HOOK_CLASS_NAME,
                "hook-name": HOOK_NAME,
                # Declarative form: Airflow >= 3.2 (this provider needs 3.3) reads these
                # without importing the hook, and then never asks the hook for a form.
                "conn-fields": _conn_fields(),
                "ui-field-behaviour": {
                    "hidden-fields": UI_FIELD_BEHAVIOUR["hidden_fields"],
                    "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
                    "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
                },
            }
        ],
    }
