"""OpenLineage for one extraction: the Copernica endpoint read, the file (or table) written.

Used by :meth:`CopernicaToStorageOperator.get_openlineage_facets_on_complete`; needs
``apache-airflow-providers-openlineage`` (imported only when lineage is asked for).

Naming follows the OpenLineage dataset naming spec: the input is
``copernica://<api host>`` + ``/v4/<endpoint path>`` (options not already in the path as a
sorted query string); the output is ``file`` + the absolute path for local files, and
``<scheme>://<bucket>`` + the object key for object stores (``s3://``, ``gs://``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from string import Formatter
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode, urlsplit

from airflow_provider_copernica.catalog.schema import Column

if TYPE_CHECKING:
    from airflow_provider_copernica.catalog.datasets import Dataset
    from airflow_provider_copernica.client.settings import CopernicaSettings


@dataclass(frozen=True)
class Landed:
    """What one successful run read and wrote (kept by the operator for its lineage)."""

    source_namespace: str
    source_name: str
    uri: str
    columns: tuple[Column, ...]
    rows: int
    output: tuple[str, str] | None = None
    """``(namespace, name)`` of the output when it is not a file (a database table)."""


def landed(
    settings: CopernicaSettings,
    dataset: Dataset,
    options: Mapping[str, Any],
    uri: str,
    columns: Sequence[Column],
    rows: int,
    output: tuple[str, str] | None = None,
) -> Landed:
    namespace, name = source_naming(settings, dataset, options)
    return Landed(namespace, name, uri, tuple(columns), rows, output)


def source_naming(
    settings: CopernicaSettings, dataset: Dataset, options: Mapping[str, Any]
) -> tuple[str, str]:
    """``(namespace, name)`` of the Copernica endpoint a dataset reads."""
    from airflow_provider_copernica.engine.plans import api_path

    in_path = {field for _, field, _, _ in Formatter().parse(dataset.path) if field}
    # A fan-out's per-item part (e.g. ``{id}`` of emailing statistics) stays a placeholder.
    unfilled = {field: "{" + field + "}" for field in in_path - set(options)}
    rest = sorted((k, str(v)) for k, v in options.items() if k not in in_path)
    api = urlsplit(settings.api_base)
    name = f"{api.path.rstrip('/')}/{api_path(dataset.path, options, settings, **unfilled)}"
    return f"copernica://{api.netloc}", name + (f"?{urlencode(rest)}" if rest else "")


def output_naming(uri: str) -> tuple[str, str]:
    """``(namespace, name)`` of a written file, from its canonical URI."""
    parts = urlsplit(uri)
    if parts.scheme in ("", "file", "local"):
        return "file", unquote(parts.path)
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")


def operator_lineage(done: Landed | None) -> Any:
    """An ``OperatorLineage`` for ``done`` (empty when nothing landed)."""
    from airflow.providers.common.compat.openlineage.facet import (
        InputDataset,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage

    if done is None:
        return OperatorLineage()
    schema = SchemaDatasetFacet(
        fields=[SchemaDatasetFacetFields(name=c.name, type=c.type) for c in done.columns]
    )
    namespace, name = done.output or output_naming(done.uri)
    output = OutputDataset(
        namespace=namespace,
        name=name,
        facets={"schema": schema},
        outputFacets={"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=done.rows)},
    )
    return OperatorLineage(
        inputs=[InputDataset(namespace=done.source_namespace, name=done.source_name)],
        outputs=[output],
    )
