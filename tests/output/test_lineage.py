"""OpenLineage facets of CopernicaToStorageOperator, read through the OpenLineage provider's
own extractor machinery (as its listener does at task success), after a real extraction."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest

from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator
from airflow_provider_copernica.output.lineage import output_naming

START = pendulum.datetime(2026, 11, 10, tz="UTC")
END = pendulum.datetime(2026, 11, 11, tz="UTC")
CLICKS_DAY = (  # a day with clicks in the sandbox (the DST day of test_operator.py)
    pendulum.datetime(2026, 10, 25, tz="Europe/Amsterdam"),
    pendulum.datetime(2026, 10, 26, tz="Europe/Amsterdam"),
)


def _context(start: Any = START, end: Any = END) -> dict[str, Any]:
    from airflow_provider_copernica.testing import make_context

    return make_context(start, end, run_id="scheduled__2026-11-10")


def _lineage(op: CopernicaToStorageOperator) -> Any:
    """What the OpenLineage listener gets for ``op`` on success."""
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    from airflow.utils.state import TaskInstanceState

    return ExtractorManager().extract_metadata(
        dagrun=SimpleNamespace(run_id="scheduled__2026-11-10"),
        task=op,
        task_instance_state=TaskInstanceState.SUCCESS,
        task_instance=SimpleNamespace(task=op),
    )


def test_jsonl_output_has_the_copernica_input_the_file_schema_and_row_count(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    target = tmp_path / "profiles.jsonl"
    op = CopernicaToStorageOperator(
        task_id="profiles",
        dataset="profiles",
        dataset_options={"database_id": 7616},
        metadata=("_interval_start",),
        output_uri=str(target),
    )
    op.execute(_context())
    lineage = _lineage(op)

    [source] = lineage.inputs
    assert source.namespace == f"copernica://{sandbox.url.removeprefix('http://')}"
    assert source.name == "/v4/database/7616/profiles"
    [output] = lineage.outputs
    assert (output.namespace, output.name) == ("file", str(target))
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    expected = sandbox.data.expected_ids("profiles", START, END, database_id=7616)
    assert sorted(r["id"] for r in rows) == sorted(expected) and rows
    assert output.outputFacets["outputStatistics"].rowCount == len(rows)
    names = [f.name for f in output.facets["schema"].fields]
    assert names == list(rows[0])  # every written column, in file order
    types = {f.name: f.type for f in output.facets["schema"].fields}
    assert (types["id"], types["created"]) == ("int", "timestamp"), types


def test_parquet_output_schema_matches_the_file(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    target = tmp_path / "clicks.parquet"
    op = CopernicaToStorageOperator(
        task_id="clicks",
        dataset="clicks",
        dataset_options={"product": "html"},
        output_uri=target.as_uri(),
        file_format="parquet",
    )
    op.execute(_context(*CLICKS_DAY))
    [output] = _lineage(op).outputs
    table = pq.read_table(target)
    assert [f.name for f in output.facets["schema"].fields] == table.schema.names
    assert output.outputFacets["outputStatistics"].rowCount == table.num_rows > 0
    [source] = _lineage(op).inputs
    assert source.name == "/v4/html/clicks", source.name


@pytest.mark.parametrize(
    ("uri", "naming"),
    [
        ("file:///data/a%20b/x.jsonl", ("file", "/data/a b/x.jsonl")),
        ("s3://bucket/copernica/x.parquet", ("s3://bucket", "copernica/x.parquet")),
        ("gs://bucket/x.csv", ("gs://bucket", "x.csv")),
    ],
)
def test_output_names_follow_the_openlineage_naming_spec(uri: str, naming: Any) -> None:
    assert output_naming(uri) == naming


def test_a_fan_out_input_keeps_its_per_item_placeholder() -> None:
    from airflow_provider_copernica.catalog.datasets import get_dataset
    from airflow_provider_copernica.client.settings import CopernicaSettings
    from airflow_provider_copernica.output.lineage import source_naming

    settings = CopernicaSettings.from_fields(host=None, password="x", extra={})
    entry = get_dataset("emailing_statistics")
    assert source_naming(settings, entry, {"product": "html"}) == (
        "copernica://api.copernica.com",
        "/v4/html/emailing/{id}/statistics",
    )


def test_no_lineage_before_a_successful_run() -> None:
    op = CopernicaToStorageOperator(
        task_id="t", dataset="profiles", dataset_options={"database_id": 1}
    )
    lineage = op.get_openlineage_facets_on_complete(None)
    assert lineage.inputs == [] and lineage.outputs == []


def test_the_operator_imports_and_builds_without_the_openlineage_provider(tmp_path: Path) -> None:
    """OpenLineage is optional: the client library and the provider's extractor API (all
    that lineage.py imports) are made unimportable, and the operator still works."""
    code = (
        "import sys\n"
        "BLOCKED = ('openlineage', 'airflow.providers.openlineage.extractors',\n"
        "           'airflow.providers.common.compat.openlineage')\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.startswith(BLOCKED):\n"
        "            raise ImportError(f'blocked {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator\n"
        "import airflow_provider_copernica.output.lineage\n"
        "CopernicaToStorageOperator(task_id='t', dataset='profiles',"
        " dataset_options={'database_id': 1})\n"
        "print(sorted(m for m in sys.modules if m.startswith(BLOCKED)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"AIRFLOW_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
