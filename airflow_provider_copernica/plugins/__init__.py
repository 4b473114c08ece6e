"""Authorize Copernica from the Airflow UI: a "Copernica" page and the OAuth callback on the
API server (see :mod:`airflow_provider_copernica.plugins.app`)."""

from __future__ import annotations

from airflow.sdk.plugins_manager import AirflowPlugin

from airflow_provider_copernica.plugins.app import URL_PREFIX, app

API_DOCS = "https://www.copernica.com/en/documentation/rest-api"


class CopernicaPlugin(AirflowPlugin):
    """The Copernica page in the Airflow UI's Plugins menu, served by the plugin's FastAPI app.

    The page opens in a tab of its own (no ``url_route``): the UI would frame it in a sandboxed
    iframe, which may not send the window on to Copernica's consent page, and a consent page
    belongs in the address bar, where the user sees whose page it is. Airflow 3.3's nav shows
    a lone external link as a dead top-level button, and a menu of links from two, hence the
    second entry (Copernica's API documentation).
    """

    name = "copernica"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "Copernica authorization"}]
    external_views = [
        {"name": "Copernica", "href": f"{URL_PREFIX}/"},
        {"name": "Copernica API docs", "href": API_DOCS},
    ]


def _provider_plugins_loaded() -> bool:
    from airflow.configuration import conf

    return not conf.getboolean("core", "lazy_discover_providers", fallback=True)


# Airflow loads the plugins a provider lists in get_provider_info() only when
# [core] lazy_discover_providers is False; by default (True) it loads the ``airflow.plugins``
# entry point instead. The entry point offers the plugin only in that case, so exactly one of
# the two registers it (Airflow skips a non-class entry point silently).
entry_point_plugin: type[CopernicaPlugin] | None = (
    None if _provider_plugins_loaded() else CopernicaPlugin
)
