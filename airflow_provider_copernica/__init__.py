"""Apache Airflow 3 provider for Copernica marketing-automation data."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def get_provider_info() -> dict[str, Any]:
    """Provider metadata read by Airflow's ProvidersManager (entry point apache_airflow_provider)."""
    raise NotImplementedError  # filled in by the hook/connection work
