"""The UI plugin is registered exactly once, whichever way Airflow 3.3 loads provider plugins:
the ``airflow.plugins`` entry point (default) or ``get_provider_info()["plugins"]``
(``[core] lazy_discover_providers = False``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_copernica import get_provider_info

AIRFLOW = Path(sys.executable).parent / "airflow"


@pytest.mark.parametrize("lazy", ["True", "False"])
def test_airflow_loads_the_plugin_once(lazy: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS": lazy,
    }
    result = subprocess.run(
        [str(AIRFLOW), "plugins", "-o", "json"],
        env=env, capture_output=True, text=True, timeout=180, check=True,
    )  # fmt: skip
    # Other providers may log to stdout first (even "[warning ]" lines): the JSON is its own line.
    plugins = json.loads(next(x for x in result.stdout.splitlines() if x.startswith("[{")))
    ours = [p for p in plugins if p["name"] == "copernica"]
    assert len(ours) == 1, plugins
    assert ours[0]["fastapi_apps"][0]["url_prefix"] == "/copernica"
    assert {v["name"]: v["href"] for v in ours[0]["external_views"]}["Copernica"] == "/copernica/"
    assert "already registered" not in result.stderr


def test_provider_info_declares_the_plugin_and_the_config_section() -> None:
    info = get_provider_info()
    assert info["plugins"] == [
        {"name": "copernica", "plugin-class": "airflow_provider_copernica.plugins.CopernicaPlugin"}
    ]
    options = info["config"]["copernica"]["options"]
    assert options["client_secret"]["sensitive"] is True
    assert {"client_id", "client_secret", "host", "auth_url", "authorize_url"} <= set(options)
