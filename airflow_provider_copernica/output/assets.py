"""The Asset a ``CopernicaToStorageOperator`` emits its events on, named at DAG parse time.

Naming rule (no template is rendered, no storage is touched):

* static ``output_uri``: the file itself, :func:`~airflow_provider_copernica.output.writers.canonical_output_uri`
  (``file:///abs/out.jsonl``, ``s3://bucket/key.parquet``);
* templated ``output_uri``: its fixed directory (the text before the first ``{{``/``{%``, cut
  back to the last ``/``, canonical) plus ``?dataset=<dataset>``:
  ``s3://lake/copernica/{{ ds }}/profiles.jsonl`` -> ``s3://lake/copernica?dataset=profiles``
  (Airflow's normal form: a bare bucket gets a ``/``, ``s3://lake/?dataset=...``);
* no ``output_uri``: the default directory, ``file://$AIRFLOW_HOME/data/copernica/<dag_id>/<dataset>?dataset=<dataset>``;
* a template in the scheme, host or bucket (no fixed directory):
  ``x-copernica://<dag_id>/<task_id>?dataset=<dataset>``.

So one asset per dataset and output location, the same for every interval; each event's
extra says which file, how many rows and which interval. Downstream DAGs use the same
function: ``schedule=[output_asset("profiles", dag_id="copernica_daily_sync")]``.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlencode

from airflow.sdk import Asset

from airflow_provider_copernica.output.writers import canonical_output_uri

TEMPLATE_MARKERS = ("{{", "{%")


def default_output_dir(dag_id: str, dataset: str) -> Path:
    """``$AIRFLOW_HOME/data/copernica/<dag_id>/<dataset>``: where a task without
    ``output_uri`` writes its files."""
    home = Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
    return (home / "data" / "copernica" / dag_id / dataset).absolute()


def fixed_directory(output_uri: str) -> str | None:
    """The part of a templated ``output_uri`` before its first template, cut back to the last
    ``/``; None when that leaves no directory (the scheme, host or bucket is templated)."""
    start = min((i for i in map(output_uri.find, TEMPLATE_MARKERS) if i >= 0), default=-1)
    fixed = output_uri if start < 0 else output_uri[:start]
    scheme, sep, rest = fixed.rpartition("://")
    if sep and "/" not in rest:  # "s3://" or "s3://bucket-{{ env }}": the bucket is templated
        return None
    if not sep and "/" not in fixed:  # "{{ params.uri }}" or "out_{{ ds }}.jsonl"
        return None if start == 0 else "."
    directory = fixed[: fixed.rfind("/") + 1]
    return directory if directory.strip("/") or not sep else None


def _asset(uri: str) -> Asset:
    # Named by its URI in Airflow's normal form, so that Asset("<the uri>") in a downstream
    # DAG is this very asset (name and URI both match).
    return Asset(Asset(uri=uri).uri)


def output_asset(
    dataset: str,
    output_uri: str | None = None,
    *,
    dag_id: str | None = None,
    task_id: str | None = None,
    conn_id: str | None = None,
) -> Asset | None:
    """The Asset an extraction of ``dataset`` to ``output_uri`` emits its events on.

    See the module docstring for the rule. Returns None only when the rule needs a DAG id
    (default location, or the fallback) and none is given.
    """
    query = "?" + urlencode({"dataset": dataset})
    if output_uri and not any(m in output_uri for m in TEMPLATE_MARKERS):
        return _asset(canonical_output_uri(output_uri, conn_id))
    if output_uri:
        directory = fixed_directory(output_uri)
        if directory is not None:
            return _asset(canonical_output_uri(directory, conn_id, directory=True) + query)
        if dag_id is None or task_id is None:
            return None
        return _asset(f"x-copernica://{dag_id}/{task_id}{query}")
    if dag_id is None:
        return None
    return _asset(default_output_dir(dag_id, dataset).as_uri() + query)
