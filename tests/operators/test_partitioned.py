"""Partitioned extraction: plan (one probe), one part per id range, the manifest written last.

Run as Airflow runs it: the operators' ``execute`` with a task context, and the example DAG
with ``dag.test()`` (mapped tasks, trigger rules) against the sandbox's ground truth.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest
from sandbox_requests import DATABASE, PROFILES, data_calls, profile_ids

from airflow_provider_copernica.engine.id_ranges import IdRange, IdSample
from airflow_provider_copernica.exceptions import CopernicaConfigError, CopernicaError
from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator
from airflow_provider_copernica.operators.partitioned import (
    CopernicaManifestOperator,
    CopernicaPartitionsOperator,
)
from airflow_provider_copernica.output.manifest import MANIFEST_NAME, read_manifest

OPTIONS = {"database_id": DATABASE}
# Every profile of the sandbox was modified in this window: the whole database.
FROM, TO = "2000-01-01", "2100-01-01"
PAGE = 1000  # the connection's default page size
KEYSET = (
    "miniview_subprofiles, profiles, profiles_snapshot, subprofiles, subprofiles_snapshot, "
    "view_profiles"
)


def manual_context(run_id: str = "manual__1", **params: Any) -> dict[str, Any]:
    run = SimpleNamespace(run_id=run_id, run_type="manual", conf={})
    return {
        "run_id": run_id,
        "dag_run": run,
        "params": {"date_from": FROM, "date_to": TO} | params,
    }


def every_profile(sandbox: Any) -> list[int]:
    start = datetime(2000, 1, 1, tzinfo=timezone.utc)
    end = datetime(2100, 1, 1, tzinfo=timezone.utc)
    return sorted(int(i) for i in sandbox.data.expected_ids("profiles", start, end, **OPTIONS))


def ids_in(uri: str) -> list[int]:
    path = Path(unquote(uri.removeprefix("file://")))
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def run_partitioned(
    tmp_path: Path, partitions: int, run_id: str = "manual__1"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Plan, every part, then the manifest, as the example DAG's three tasks."""
    ctx = manual_context(run_id)
    plan = CopernicaPartitionsOperator(
        task_id="plan",
        dataset="profiles",
        dataset_options=OPTIONS,
        partitions=partitions,
        output_dir=str(tmp_path / "set"),
    ).execute(ctx)
    parts = [
        CopernicaToStorageOperator(
            task_id=f"extract_part_{k}",
            dataset="profiles",
            dataset_options=OPTIONS,
            allow_empty=True,
            **kwargs,
        ).execute(ctx)
        for k, kwargs in enumerate(plan)
    ]
    manifest = CopernicaManifestOperator(task_id="manifest", plan=plan, parts=parts).execute(ctx)
    return plan, parts, manifest


def test_parts_cover_every_record_once_and_the_manifest_lists_them(
    sandbox: Any, copernica_conn: str, tmp_path: Path, fresh_log: None
) -> None:
    expected = every_profile(sandbox)
    plan, parts, result = run_partitioned(tmp_path, 4)

    assert [p["output_uri"].rsplit("/", 1)[1] for p in plan] == [
        f"part-0000{k}-of-00004.jsonl" for k in range(4)
    ]
    ranges = [p["id_range"] for p in plan]
    assert ranges[0]["after"] == 0 and ranges[-1]["upto"] is None
    assert all(a["upto"] == b["after"] for a, b in itertools.pairwise(ranges))  # contiguous
    union: list[int] = []
    for part in parts:
        ids = ids_in(part["uri"])
        after, upto = part["id_range"]["after"], part["id_range"]["upto"]
        assert ids and all(after < i and (upto is None or i <= upto) for i in ids), part
        assert part["rows"] == len(ids)
        union += ids
    assert sorted(union) == expected and len(set(union)) == len(union)  # exact, no overlap
    rows = [p["rows"] for p in parts]
    assert max(rows) <= 1.5 * min(rows), rows  # the probe's density estimate balances them

    manifest = json.loads((tmp_path / "set" / MANIFEST_NAME).read_text())
    assert result == {
        "manifest_uri": (tmp_path / "set" / MANIFEST_NAME).as_uri(),
        "parts": 4,
        "rows": len(expected),
    }
    assert manifest["run_id"] == "manual__1" and manifest["dataset"] == "profiles"
    assert manifest["interval_start"] == "2000-01-01T00:00:00+00:00"
    assert manifest["interval_end"] == "2100-01-01T00:00:00+00:00"
    assert manifest["rows"] == len(expected)
    for listed, part in zip(manifest["parts"], parts, strict=True):
        body = Path(unquote(part["uri"].removeprefix("file://"))).read_bytes()
        assert listed == {
            "uri": part["uri"],
            "id_range": part["id_range"],
            "rows": part["rows"],
            "bytes": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
    assert read_manifest((tmp_path / "set").as_uri()) == manifest
    assert not [p for p in (tmp_path / "set").iterdir() if ".tmp-" in p.name]


def test_the_probe_page_estimates_where_the_ids_begin() -> None:
    # ids every 2 up to 1000, 100 records: the 10 highest span 18 ids
    sample = IdSample(max_id=1000, total=100, lowest_sampled=982, sampled=10)
    assert sample.low_estimate == 800
    assert [r.as_dict() for r in sample.split(4)] == [
        {"after": 0, "upto": 850},  # from 0: ids below the estimate are not lost
        {"after": 850, "upto": 900},
        {"after": 900, "upto": 950},
        {"after": 950, "upto": None},  # open-ended: ids created after the probe
    ]
    # the page held every record: the lowest id is known exactly
    assert IdSample(max_id=500, total=3, lowest_sampled=100, sampled=3).low_estimate == 99
    assert IdSample(0, 0, 0, 0).split(3) == [IdRange(0, None)]


def test_calls_are_one_probe_plus_what_each_part_needs(
    sandbox: Any, copernica_conn: str, tmp_path: Path, fresh_log: None
) -> None:
    """The planner makes exactly one request; each part its field list and its keyset pages
    (a short last page ends it): nothing grows with the number of parts but those two."""
    plan = CopernicaPartitionsOperator(
        task_id="plan",
        dataset="profiles",
        dataset_options=OPTIONS,
        partitions=3,
        output_dir=str(tmp_path),
    ).execute(manual_context())
    [probe] = data_calls(sandbox)
    query = parse_qsl(probe.query)
    assert probe.path == f"/v4/{PROFILES}"
    assert query == [  # the window (local time), then the probe's own parameters
        ("fields[]", "modified>=2000-01-01 01:00:00"),
        ("fields[]", "modified<2100-01-01 01:00:00"),
        ("orderby", "id"),
        ("order", "desc"),
        ("limit", str(PAGE)),
        ("total", "true"),
    ]
    sandbox.requests.clear()
    rows = []
    for kwargs in plan:
        rows.append(
            CopernicaToStorageOperator(
                task_id="part",
                dataset="profiles",
                dataset_options=OPTIONS,
                allow_empty=True,
                **kwargs,
            ).execute(manual_context())["rows"]
        )
    calls = data_calls(sandbox)
    fields = [c for c in calls if c.path == f"/v4/database/{DATABASE}/fields"]
    pages = [c for c in calls if c.path == f"/v4/{PROFILES}"]
    assert len(fields) == len(plan) == 3
    assert len(pages) == sum(n // PAGE + 1 for n in rows)
    for kwargs in plan:  # each part's pages carry its own bounds
        bounds = [f"id>{kwargs['id_range']['after']}"] if kwargs["id_range"]["after"] else []
        if kwargs["id_range"]["upto"] is not None:
            bounds.append(f"id<={kwargs['id_range']['upto']}")
        assert any(all(("fields[]", b) in parse_qsl(p.query) for b in bounds) for p in pages)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"dataset": "clicks", "dataset_options": {"product": "html"}, "id_range": {}},
            f"'clicks' cannot be split by id_range: it is not paged by record id; datasets "
            f"that can: {KEYSET}",
        ),
        ({"id_range": {"after": 9, "upto": 3}}, "need 0 <= after <= upto"),
        ({"id_range": {"after": 1, "to": 3}}, "unknown keys ['to']; valid keys: after, upto"),
        ({"id_range": {"after": "ten"}}, "after must be a whole number, got 'ten'"),
        ({"id_range": "1-3"}, "id_range must be {'after': N, 'upto': M} or (N, M)"),
    ],
)
def test_bad_id_ranges_are_refused_when_the_dag_is_parsed(
    kwargs: dict[str, Any], message: str
) -> None:
    arguments = {"task_id": "t", "dataset": "profiles", "dataset_options": OPTIONS} | kwargs
    with pytest.raises(CopernicaConfigError, match=re.escape(message)):
        CopernicaToStorageOperator(**arguments)


def test_a_rendered_bad_id_range_is_refused_before_any_request(
    sandbox: Any, copernica_conn: str, tmp_path: Path, fresh_log: None
) -> None:
    op = CopernicaToStorageOperator(
        task_id="t",
        dataset="profiles",
        dataset_options=OPTIONS,
        id_range={"after": "{{ params.after }}", "upto": 5},
        output_uri=str(tmp_path / "out.jsonl"),
    )
    op.id_range = {"after": "50", "upto": 5}  # as rendered from params.after=50
    with pytest.raises(CopernicaConfigError, match="need 0 <= after <= upto"):
        op.execute(manual_context())
    assert list(sandbox.iter_requests("/")) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dataset": "emailings"}, "'emailings' cannot be split by id_range"),
        ({"partitions": 0}, "partitions must be a whole number from 1 to 1024, got 0"),
        ({"partitions": "many"}, "partitions must be a whole number from 1 to 1024"),
    ],
)
def test_the_planner_refuses_bad_input_when_the_dag_is_parsed(
    kwargs: dict[str, Any], message: str
) -> None:
    arguments = {"task_id": "plan", "dataset": "profiles", "dataset_options": OPTIONS} | kwargs
    with pytest.raises(CopernicaConfigError, match=re.escape(message)):
        CopernicaPartitionsOperator(**arguments)


@pytest.mark.parametrize("condition", ["id>1.5", "id>1e3", "id<=", "ID>abc"])
def test_id_filters_take_whole_numbers_only(
    sandbox: Any, hook: Any, fresh_log: None, condition: str
) -> None:
    from airflow_provider_copernica.engine.extract import prepare
    from airflow_provider_copernica.interval import parse_window

    extraction = prepare(
        hook, "profiles", options=OPTIONS, window=parse_window(FROM, TO), filters=[condition]
    )
    with pytest.raises(CopernicaConfigError, match="not a number"):
        list(extraction.pages())
    assert [r.path for r in data_calls(sandbox)] == [f"/v4/database/{DATABASE}/fields"]


def test_a_rerun_with_fewer_parts_replaces_the_set_and_the_manifest_lists_only_it(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    run_partitioned(tmp_path, 4)
    _, parts, _ = run_partitioned(tmp_path, 2, run_id="manual__2")
    manifest = read_manifest(str(tmp_path / "set"))
    assert manifest["run_id"] == "manual__2"
    assert [p["uri"] for p in manifest["parts"]] == [p["uri"] for p in parts]
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == [
        MANIFEST_NAME,
        "part-00000-of-00002.jsonl",
        "part-00001-of-00002.jsonl",
    ]
    assert sorted(i for p in parts for i in ids_in(p["uri"])) == every_profile(sandbox)


def test_the_reader_refuses_a_set_without_manifest_or_with_a_changed_part(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    _, parts, _ = run_partitioned(tmp_path, 2)
    part = Path(unquote(parts[1]["uri"].removeprefix("file://")))
    part.write_text(part.read_text() + "{}\n")  # as a re-run replacing the set would
    with pytest.raises(CopernicaError, match="differs from .* read later"):
        read_manifest(str(tmp_path / "set"))
    # The next plan removes the manifest before anything else: the set is incomplete.
    CopernicaPartitionsOperator(
        task_id="plan",
        dataset="profiles",
        dataset_options=OPTIONS,
        partitions=2,
        output_dir=str(tmp_path / "set"),
    ).execute(manual_context())
    with pytest.raises(CopernicaError, match="No _manifest.json .* not complete"):
        read_manifest(str(tmp_path / "set"))


def test_the_manifest_refuses_parts_that_are_not_the_plan(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    plan, parts, _ = run_partitioned(tmp_path, 3)
    (tmp_path / "set" / MANIFEST_NAME).unlink()
    with pytest.raises(CopernicaError, match=r"not the planned ones \(3\): missing"):
        CopernicaManifestOperator(task_id="m", plan=plan, parts=parts[:2]).execute(manual_context())
    assert not (tmp_path / "set" / MANIFEST_NAME).exists()


# -- the example DAG, run by Airflow (dag.test: mapped tasks, trigger rules) ---------------


@pytest.fixture
def metadata_db() -> Iterator[None]:
    from airflow.utils.db import initdb

    initdb()
    yield


def _run_example(
    conf: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[Any, dict[str, str]]:
    """``dag.test()`` of dags/copernica_partitioned_snapshot.py (alone in a DAGs folder, as
    tests/client/test_exceptions.py runs its DAG); the states of its task instances."""
    import shutil

    from airflow import settings
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    dags = tmp_path / "dags"
    dags.mkdir(exist_ok=True)
    shutil.copy(
        Path(__file__).resolve().parents[2] / "dags/copernica_partitioned_snapshot.py", dags
    )
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(dags))
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(dags))  # read once at import
    dag = DagBag(str(dags)).get_dag("copernica_partitioned_snapshot")
    dag.get_task("extract_part").retry_delay = timedelta(0)  # retries now, not in 5 min
    run = dag.test(run_conf=conf)
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=run.run_id).all()
        states = {f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in tis}
    return run, states


def test_example_dag_lands_the_set_and_a_failed_part_leaves_no_manifest(
    sandbox: Any,
    copernica_conn: str,
    metadata_db: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from sandbox_requests import CONN_ENV

    from airflow_provider_copernica.output.assets import default_output_dir

    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    conn = sandbox.connection(max_retries=0, timeout=10)
    monkeypatch.setenv(CONN_ENV, json.dumps(conn))
    out = default_output_dir("copernica_partitioned_snapshot", "profiles_snapshot")

    run, states = _run_example({"partitions": 3}, monkeypatch, tmp_path)
    assert str(run.state) == "success", states
    assert states["extract_part[2]"] == "success" and "extract_part[3]" not in states
    directory = out / re.sub(r"[^\w.-]", "_", run.run_id)
    manifest = read_manifest(directory.as_uri())
    assert len(manifest["parts"]) == 3 and manifest["run_id"] == run.run_id
    assert manifest["dataset"] == "profiles_snapshot"
    union = [i for p in manifest["parts"] for i in ids_in(p["uri"])]
    assert sorted(union) == profile_ids(sandbox) and len(set(union)) == len(union)
    assert sorted(p.name for p in directory.iterdir()) == [
        MANIFEST_NAME,
        *(f"part-0000{k}-of-00003.jsonl" for k in range(3)),
    ]

    sandbox.faults.set("outage_after:2")  # the probe and one more request, then 503s
    run, states = _run_example({"partitions": 2}, monkeypatch, tmp_path)
    sandbox.faults.reset()
    assert str(run.state) == "failed", states
    assert "failed" in {states["extract_part[0]"], states["extract_part[1]"]}, states
    assert states["manifest[-1]"] == "upstream_failed", states
    directory = out / re.sub(r"[^\w.-]", "_", run.run_id)
    assert not (directory / MANIFEST_NAME).exists()
    with pytest.raises(CopernicaError, match="not complete"):
        read_manifest(directory.as_uri())


def test_the_manifest_names_the_dag_of_the_dag_run_without_a_dag_in_the_context(
    tmp_path: Path,
) -> None:
    part = tmp_path / "part-00000-of-00001.jsonl"
    part.write_bytes(b'{"id":1}\n')
    run = SimpleNamespace(run_id="manual__9", run_type="manual", conf={}, dag_id="from_the_run")
    result = CopernicaManifestOperator(
        task_id="m", parts=[{"uri": part.as_uri(), "rows": 1, "dataset": "profiles"}]
    ).execute({"dag_run": run})
    manifest = json.loads(Path(unquote(result["manifest_uri"].removeprefix("file://"))).read_text())
    assert (manifest["dag_id"], manifest["run_id"]) == ("from_the_run", "manual__9")
