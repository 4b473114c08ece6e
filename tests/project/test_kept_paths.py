"""The import paths the README, the example DAGs and the design's contract used before the
package was split into wings still import, and give the very same objects."""

from __future__ import annotations

import importlib

import pytest

KEPT = {
    "airflow_provider_copernica.config": "airflow_provider_copernica.client.settings",
    "airflow_provider_copernica.datasets": "airflow_provider_copernica.catalog.datasets",
    "airflow_provider_copernica.preview": "airflow_provider_copernica.engine.preview",
    "airflow_provider_copernica.assets": "airflow_provider_copernica.output.assets",
    "airflow_provider_copernica.partitioned": "airflow_provider_copernica.operators.partitioned",
}


@pytest.mark.parametrize("old", sorted(KEPT))
def test_an_old_path_is_the_new_module(old: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(KEPT[old])


def test_the_names_old_dags_imported_are_there() -> None:
    from airflow_provider_copernica.assets import output_asset
    from airflow_provider_copernica.config import PRODUCTS
    from airflow_provider_copernica.datasets import DATASETS
    from airflow_provider_copernica.output.assets import output_asset as new_output_asset
    from airflow_provider_copernica.partitioned import (
        CopernicaManifestOperator,
        CopernicaPartitionsOperator,
    )
    from airflow_provider_copernica.preview import preview_rows

    assert output_asset is new_output_asset
    assert "draganddrop" in PRODUCTS and "profiles" in DATASETS and callable(preview_rows)
    assert (
        CopernicaPartitionsOperator.__module__ == "airflow_provider_copernica.operators.partitioned"
    )
    assert (
        CopernicaManifestOperator.__module__ == "airflow_provider_copernica.operators.partitioned"
    )
