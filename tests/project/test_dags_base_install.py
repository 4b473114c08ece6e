"""The example DAGs on a base install (no ``[parquet]`` extra: no pyarrow, no s3fs).

In Airflow 3 the dag-processor may run in another image than the workers, so a DAG file
must import where only the provider itself is installed; whether the worker has pyarrow
is checked when the task runs. The test parses dags/ in a fresh interpreter in which those
packages cannot be imported (a meta-path blocker from a ``sitecustomize`` on PYTHONPATH).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BLOCKED = ("pyarrow", "s3fs")

SITECUSTOMIZE = textwrap.dedent(
    """
    import sys

    BLOCKED = {blocked!r}


    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                raise ModuleNotFoundError(f"No module named {{name!r}} (base install)", name=name)
            return None


    sys.meta_path.insert(0, Blocker())
    """
)

PARSE = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
    try:
        import pyarrow  # noqa: F401
        blocked = False
    except ImportError:
        blocked = True
    from airflow_provider_copernica.exceptions import CopernicaConfigError
    from airflow_provider_copernica.output.writers import check_output_uri
    try:
        check_output_uri(sys.argv[2], file_format="parquet")  # what the task runs first
        at_run = None
    except CopernicaConfigError as exc:
        at_run = str(exc)
    print(json.dumps({"errors": {k: v for k, v in bag.import_errors.items()},
                      "dags": sorted(bag.dag_ids), "blocked": blocked, "at_run": at_run}))
    """
)


def test_every_example_dag_imports_without_the_parquet_extra(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(blocked=BLOCKED))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(site), str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow")
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    done = subprocess.run(
        [sys.executable, "-c", PARSE, str(REPO / "dags"), str(tmp_path / "out" / "x.parquet")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["blocked"], "pyarrow was importable: the blocker did not load"
    assert result["errors"] == {}
    assert {"copernica_snapshots", "copernica_schema_pinned"} <= set(result["dags"])
    assert result["dags"] == sorted(p.stem for p in (REPO / "dags").glob("copernica_*.py"))
    # ... and the worker's missing pyarrow is reported when the task runs, with the fix
    assert result["at_run"] is not None
    assert "pyarrow" in result["at_run"] and "[parquet]" in result["at_run"]
