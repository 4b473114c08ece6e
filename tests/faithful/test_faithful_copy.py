"""Keeping a faithful copy (issue 12 items 1, 2, 5): current-state snapshots, id snapshots,
deletions between runs, and the schema-drift policies. Real HTTP against the sandbox;
outcomes compared with its ground truth."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

import pyarrow.parquet as pq
import pytest
import requests
from airflow.sdk.exceptions import AirflowFailException
from sandbox_requests import DATABASE, calls_to, profile_ids, task_context

from airflow_provider_copernica.engine.paging import iter_pages
from airflow_provider_copernica.exceptions import CopernicaConfigError, CopernicaRetryError
from airflow_provider_copernica.faithful.drift import CopernicaSchemaDriftError
from airflow_provider_copernica.hooks.copernica import CopernicaHook
from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator
from airflow_provider_copernica.sandbox import snapshots

COLLECTION = 6312
DAYS = [datetime(2026, 11, d, tzinfo=timezone.utc) for d in (17, 18, 19, 20, 21)]
ALL_TIME = (datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))


def context(start: datetime, end: datetime) -> dict[str, Any]:
    return task_context(start, end, f"scheduled__{start.date()}")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def run(dataset: str, out: Path, window: tuple[datetime, datetime], **kwargs: Any) -> dict:
    option = {"database_id": DATABASE} if "profile" in dataset else {}
    if dataset.startswith("subprofile"):
        option = {"collection_id": COLLECTION}
    op = CopernicaToStorageOperator(
        task_id=f"t_{dataset}",
        dataset=dataset,
        dataset_options=kwargs.pop("dataset_options", option),
        output_uri=str(out),
        **kwargs,
    )
    return op.execute(context(*window))


def live_ids(sandbox: Any, dataset: str, **options: Any) -> list[int]:
    return sorted(int(r["ID"]) for r in sandbox.data.records(dataset, **options))


def churned(sandbox: Any) -> list[int]:
    return [m["deleted"] for m in sandbox.data.mutations if m["op"] == "churn"]


# -- current-state snapshots ------------------------------------------------------------


@pytest.mark.parametrize("max_concurrency", [1, 3])
@pytest.mark.parametrize(
    ("dataset", "records", "options"),
    [
        ("profiles_snapshot", "profiles", {"database_id": DATABASE}),
        ("subprofiles_snapshot", "subprofiles", {"collection_id": COLLECTION}),
    ],
)
def test_snapshot_equals_the_live_records_with_churn_between_pages(
    sandbox: Any,
    connect: Callable[..., str],
    tmp_path: Path,
    dataset: str,
    records: str,
    options: dict[str, int],
    max_concurrency: int,
) -> None:
    connect(page_size=400, max_concurrency=max_concurrency)
    before = set(live_ids(sandbox, records, **options))
    sandbox.faults.set("churn")
    out = tmp_path / f"{dataset}.jsonl"
    result = run(dataset, out, (DAYS[0], DAYS[1]), dataset_options=options)
    rows = read_jsonl(out)
    ids = [r["id"] for r in rows]
    assert churned(sandbox), "the churn fault changed the data between pages"
    after = live_ids(sandbox, records, **options)
    assert ids == sorted(set(ids))  # ascending, none twice
    if max_concurrency == 1:
        # the sequential walk: every churned record was deleted ahead of the cursor and
        # re-inserted at the end, so the file is the live state at the end of the run
        assert ids == after
    else:
        # id-range partitions read parts of the list at once (docs/scaling.md, Concurrency): every
        # record live for the whole run is there, nothing that never existed is; a record
        # deleted or created during the run may or may not be
        assert before & set(after) <= set(ids) <= before | set(after)
    assert result["rows"] == len(rows)
    # same columns and values as the interval dataset (its field discovery included)
    sandbox.faults.reset()
    full = tmp_path / f"{records}.jsonl"
    run(records, full, ALL_TIME, dataset_options=options)
    by_id = {r["id"]: r for r in read_jsonl(full)}
    assert list(rows[0]) == list(next(iter(by_id.values())))
    assert any(key.startswith("fields.") for key in rows[0])
    unchurned = [r for r in rows if r["id"] in by_id]
    assert unchurned and all(r == by_id[r["id"]] for r in unchurned)


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_snapshot_has_the_types_and_columns_of_the_interval_dataset(
    sandbox: Any, conn: str, tmp_path: Path, file_format: str
) -> None:
    snap, full = tmp_path / f"snap.{file_format}", tmp_path / f"full.{file_format}"
    run("profiles_snapshot", snap, (DAYS[0], DAYS[1]), file_format=file_format)
    run("profiles", full, ALL_TIME, file_format=file_format)
    if file_format == "parquet":
        assert pq.read_schema(snap) == pq.read_schema(full)  # names and Arrow types
        assert pq.read_table(snap).equals(pq.read_table(full))  # all live, all modified
    else:
        assert snap.read_text().splitlines()[0] == full.read_text().splitlines()[0]
    assert calls_to(sandbox, f"database/{DATABASE}/fields")  # the same field discovery


def test_snapshot_pages_by_key_without_a_window_filter(
    sandbox: Any, connect: Callable[..., str], tmp_path: Path
) -> None:
    connect(page_size=1000)
    sandbox.requests.clear()
    run("profiles_snapshot", tmp_path / "s.jsonl", (DAYS[0], DAYS[1]))
    pages = calls_to(sandbox, f"database/{DATABASE}/profiles")
    assert len(pages) == len(profile_ids(sandbox)) // 1000 + 1
    first = parse_qsl(pages[0].query)
    assert ("orderby", "id") in first and not [v for k, v in first if "modified" in v]
    assert [v for k, v in parse_qsl(pages[1].query) if k == "fields[]"][0].startswith("id>")


# -- id snapshots -----------------------------------------------------------------------


def test_id_snapshot_is_exact_when_ids_behind_the_offset_are_removed(
    sandbox: Any, connect: Callable[..., str]
) -> None:
    before = profile_ids(sandbox)
    hook = CopernicaHook(connect(page_size=500))
    path = f"database/{DATABASE}/profileids"
    ids, removed = [], []
    for page in iter_pages(hook, path, paging="id_array"):
        ids += [r["id"] for r in page]
        # between pages, three listed profiles are removed: the offsets behind shift left
        for row in page[1:4]:
            sandbox.data.remove_record("profiles", row["id"], database_id=DATABASE)
            removed.append(row["id"])
    assert len(removed) > 6 and not set(removed) & set(profile_ids(sandbox))
    assert ids == before  # none skipped, none twice: every id alive when its page was read
    sent = calls_to(sandbox, path)
    assert {k for r in sent for k, _ in parse_qsl(r.query)} == {"start", "limit"}
    starts = [int(dict(parse_qsl(r.query))["start"]) for r in sent]
    assert len(starts) > len(set(starts)) or sorted(starts) != starts  # it stepped back


def test_profile_ids_dataset_with_churn(
    sandbox: Any, connect: Callable[..., str], tmp_path: Path
) -> None:
    connect(page_size=300)
    sandbox.faults.set("churn")
    out = tmp_path / "ids.jsonl"
    run("profile_ids", out, (DAYS[0], DAYS[1]))
    assert churned(sandbox)
    assert [r["id"] for r in read_jsonl(out)] == profile_ids(sandbox)


@pytest.mark.parametrize("alive", [None, 1000])
def test_id_lists_that_ignore_paging_are_read_once(
    sandbox: Any, connect: Callable[..., str], tmp_path: Path, alive: int | None
) -> None:
    """``subprofileids`` is documented without parameters: an endpoint that answers every id
    whatever ``start``/``limit`` say is read completely, each id once (longer than a page:
    one call; exactly one page long: the repeated answer is recognised)."""
    connect(page_size=1000)
    if alive is not None:
        for ident in profile_ids(sandbox)[alive:]:
            sandbox.data.delete_record("profiles", ident)
    sandbox.faults.set("ids_unpaged")
    truth = profile_ids(sandbox)
    assert len(truth) == (alive or 2938)
    sandbox.requests.clear()
    out = tmp_path / "ids.jsonl"
    run("profile_ids", out, (DAYS[0], DAYS[1]))
    assert [r["id"] for r in read_jsonl(out)] == truth
    assert len(calls_to(sandbox, f"database/{DATABASE}/profileids")) == (2 if alive else 1)


def test_the_sandbox_pages_id_lists_as_documented(sandbox: Any, conn: str) -> None:
    hook = CopernicaHook(conn)
    assert len(hook.get(f"database/{DATABASE}/profileids")) == 100  # default limit
    assert len(hook.get(f"database/{DATABASE}/profileids", {"limit": 5000})) == 1000  # at most
    second = hook.get(f"database/{DATABASE}/profileids", {"start": 100, "limit": 10})
    assert second == profile_ids(sandbox)[100:110]


# -- deletions ----------------------------------------------------------------------------


def test_deletions_over_three_runs_are_exact_once_each_and_idempotent(
    sandbox: Any, connect: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    connect(page_size=400)
    out = tmp_path / "deletions"
    files = [out / f"day{n}.jsonl" for n in range(4)]
    windows = [(DAYS[n], DAYS[n + 1]) for n in range(4)]
    ids = profile_ids(sandbox)

    first = run("profile_deletions", files[1], windows[1])
    marks = [time.time()]  # wall clock after each run: the sandbox's deletions ground truth
    assert first["rows"] == 0 and read_jsonl(files[1]) == []
    assert "first run has nothing to compare with" in capsys.readouterr().out

    gone_1 = [ids[5], ids[700], ids[-1]]
    requests.post(f"{sandbox.url}/_sandbox/remove", json={"profiles": gone_1}, timeout=10)
    sandbox.faults.set("churn")  # records also change between the pages of run 2
    run("profile_deletions", files[2], windows[2])
    marks.append(time.time())
    sandbox.faults.reset()
    churn_gone = churned(sandbox)
    assert churn_gone
    second = read_jsonl(files[2])
    assert [r["id"] for r in second] == sorted(gone_1 + churn_gone)
    truth = sandbox.data.expected_ids("profile_deletions", marks[0], marks[1])
    assert [r["id"] for r in second] == truth

    gone_2 = [ids[10], ids[1500]]
    requests.post(f"{sandbox.url}/_sandbox/remove", json={"profiles": gone_2}, timeout=10)
    run("profile_deletions", files[3], windows[3])
    marks.append(time.time())
    third = read_jsonl(files[3])
    assert [r["id"] for r in third] == sorted(gone_2)
    assert [r["id"] for r in third] == sandbox.data.expected_ids(
        "profile_deletions", marks[1], marks[2]
    )
    reported = [r["id"] for r in second + third]
    assert sorted(reported) == sandbox.data.expected_ids("profile_deletions", marks[0], marks[2])
    assert set(sandbox.data.removed_ids("profiles", database_id=DATABASE)) >= set(gone_1 + gone_2)

    # the rows say when: last seen in run 2's snapshot, absent from this run's
    row = third[0]
    assert row["interval_start"] == "2026-11-20T00:00:00+00:00"
    assert row["interval_end"] == "2026-11-21T00:00:00+00:00"
    assert row["last_seen_at"] == second[0]["observed_at"] <= row["observed_at"]
    assert second[0]["last_seen_at"] <= second[0]["observed_at"]

    # a re-run of the middle run, after the third, writes the same file
    middle = files[2].read_bytes()
    sandbox.requests.clear()
    run("profile_deletions", files[2], windows[2])
    assert files[2].read_bytes() == middle
    assert not calls_to(sandbox, f"database/{DATABASE}/profileids")  # its snapshot is reused

    # the state is beside the output, one id snapshot (+ manifest) per interval
    state = out / "_copernica_state" / "profile_ids" / f"database_id={DATABASE}"
    manifests = sorted(p.name for p in state.glob("*.json"))
    assert manifests == [
        f"{day:%Y%m%d}T000000Z_{nxt:%Y%m%d}T000000Z.json" for day, nxt in windows[1:]
    ]
    snapshot_3 = [
        json.loads(x)["id"]
        for x in (state / manifests[2].replace(".json", ".jsonl")).read_text().splitlines()
    ]
    assert snapshot_3 == profile_ids(sandbox)
    # docs/faithful-copy.md's state size: 8 bytes plus the digits per id
    size = (state / manifests[2].replace(".json", ".jsonl")).stat().st_size
    assert size == sum(8 + len(str(i)) for i in snapshot_3)

    # a backfill of an interval before the observed ones: empty file, a warning, no state
    capsys.readouterr()
    back = run("profile_deletions", files[0], windows[0])
    assert back["rows"] == 0 and read_jsonl(files[0]) == []
    assert "can only be observed forward in time" in capsys.readouterr().out
    assert len(list(state.glob("*.json"))) == 3


def test_the_sandbox_ground_truth_of_ids_deletions_late_events_and_fields(
    sandbox: Any,
) -> None:
    data = sandbox.data
    before = time.time()
    ids = data.expected_ids("profile_ids", DAYS[0], DAYS[1])
    assert ids == data.expected_ids("profiles_snapshot", DAYS[0], DAYS[1]) == profile_ids(sandbox)
    subs = data.expected_ids("subprofile_ids", DAYS[0], DAYS[1], collection_id=COLLECTION)
    assert subs == live_ids(sandbox, "subprofiles", collection_id=COLLECTION)
    assert data.expected_ids("profile_deletions", before, None) == []

    # a removed profile, a deleted one, and one added and removed again (never listed before)
    owner = next(int(r["profile"]) for r in data.records("subprofiles", collection_id=COLLECTION))
    cascade = data.remove_record("profiles", owner, database_id=DATABASE)
    assert cascade
    data.delete_record("profiles", ids[1])
    [born] = data.add_records("profiles", [DAYS[2]])
    data.remove_record("profiles", born, database_id=DATABASE)
    middle = time.time()
    data.remove_record("profiles", ids[2], database_id=DATABASE)
    assert data.expected_ids("profile_deletions", before, middle) == sorted([owner, ids[1]])
    assert data.expected_ids("profile_deletions", middle, None) == [ids[2]]
    assert snapshots.vanished_ids(data, "profiles", before) == sorted([owner, ids[1], ids[2]])
    gone_subs = data.expected_ids("subprofile_deletions", before, middle, collection_id=COLLECTION)
    assert gone_subs and set(gone_subs) <= set(cascade)
    assert not set(gone_subs) & set(
        data.expected_ids("subprofile_ids", DAYS[0], DAYS[1], collection_id=COLLECTION)
    )
    assert data.expected_ids("profile_ids", DAYS[0], DAYS[1]) == sorted(
        set(ids) - {owner, ids[1], ids[2]}
    )

    # late events: added after seeding, named by their interval
    day = DAYS[1]
    [late] = data.add_records("clicks", [day + timedelta(hours=15)])
    assert snapshots.late_ids(data, "clicks", day, day + timedelta(days=1)) == [late]
    assert snapshots.late_ids(data, "clicks", DAYS[0], day) == []
    assert late in data.expected_ids("clicks", day, day + timedelta(days=1))

    # field changes since seeding
    assert snapshots.field_changes(data, database=DATABASE) == {
        "added": [],
        "removed": [],
        "retyped": [],
    }
    snapshots.change_fields(
        data, database=DATABASE, add=[{"name": "tier", "type": "text"}], remove=["age"]
    )
    assert snapshots.field_changes(data, database=DATABASE) == {
        "added": ["tier"],
        "removed": ["age"],
        "retyped": [],
    }


def test_an_outage_mid_id_walk_keeps_no_partial_snapshot_and_the_retry_is_exact(
    sandbox: Any, connect: Callable[..., str], tmp_path: Path
) -> None:
    connect(page_size=500)
    run("profile_deletions", tmp_path / "a.jsonl", (DAYS[0], DAYS[1]))  # the baseline
    taken = time.time()
    gone = [profile_ids(sandbox)[i] for i in (3, 2500)]
    for ident in gone:
        sandbox.data.remove_record("profiles", ident, database_id=DATABASE)
    target = tmp_path / "b.jsonl"
    sandbox.faults.set("outage_after:2")  # two id pages, then 503 beyond the retry budget
    with pytest.raises(CopernicaRetryError, match="503"):
        run("profile_deletions", target, (DAYS[1], DAYS[2]))
    state = tmp_path / "_copernica_state" / "profile_ids" / f"database_id={DATABASE}"
    assert not target.exists()
    assert sorted(p.name for p in state.iterdir()) == [
        "20261117T000000Z_20261118T000000Z.json",
        "20261117T000000Z_20261118T000000Z.jsonl",
    ]  # no partial id file, no manifest: the failed run left no state
    sandbox.faults.reset()
    run("profile_deletions", target, (DAYS[1], DAYS[2]))  # the task's retry
    assert [r["id"] for r in read_jsonl(target)] == sorted(gone)
    assert sorted(gone) == sandbox.data.expected_ids("profile_deletions", taken, None)


def test_a_skipped_interval_loses_no_deletion(sandbox: Any, conn: str, tmp_path: Path) -> None:
    first = run("profile_deletions", tmp_path / "a.jsonl", (DAYS[0], DAYS[1]))
    assert first["rows"] == 0
    taken = time.time()
    victim = profile_ids(sandbox)[77]
    sandbox.data.remove_record("profiles", victim, database_id=DATABASE)
    # DAYS[1]..DAYS[2] never runs; the next run compares with the latest earlier snapshot
    run("profile_deletions", tmp_path / "c.jsonl", (DAYS[2], DAYS[3]))
    [row] = read_jsonl(tmp_path / "c.jsonl")
    assert [row["id"]] == sandbox.data.expected_ids("profile_deletions", taken, None) == [victim]
    state = tmp_path / "_copernica_state" / "profile_ids" / f"database_id={DATABASE}"
    baseline = json.loads((state / "20261117T000000Z_20261118T000000Z.json").read_text())
    assert row["last_seen_at"] == baseline["observed_at"]  # spans the gap
    assert row["interval_start"] == "2026-11-19T00:00:00+00:00"


def test_subprofile_deletions_and_a_custom_state_uri(
    sandbox: Any, connect: Callable[..., str], tmp_path: Path
) -> None:
    connect()
    state = tmp_path / "state"
    opts = {"collection_id": COLLECTION}
    run("subprofile_deletions", tmp_path / "a.jsonl", (DAYS[0], DAYS[1]), state_uri=str(state))
    victim = live_ids(sandbox, "subprofiles", **opts)[42]
    sandbox.data.remove_record("subprofiles", victim, **opts)
    run("subprofile_deletions", tmp_path / "b.jsonl", (DAYS[1], DAYS[2]), state_uri=str(state))
    assert [r["id"] for r in read_jsonl(tmp_path / "b.jsonl")] == [victim]
    assert (state / "subprofile_ids" / f"collection_id={COLLECTION}").is_dir()
    assert not (tmp_path / "_copernica_state").exists()


def test_deletions_need_a_data_interval(sandbox: Any, conn: str, tmp_path: Path) -> None:
    op = CopernicaToStorageOperator(
        task_id="d",
        dataset="profile_deletions",
        dataset_options={"database_id": DATABASE},
        output_uri=str(tmp_path / "d.jsonl"),
    )
    run_ = SimpleNamespace(run_id="manual__1", run_type="manual", conf={})
    with pytest.raises(CopernicaConfigError, match="compares the id snapshots"):
        op.execute({"run_id": "manual__1", "dag_run": run_, "params": {}})
    assert not (tmp_path / "d.jsonl").exists()
    assert not calls_to(sandbox, f"database/{DATABASE}/profileids")


def test_a_preview_or_a_sensor_of_deletions_is_refused_naming_the_ids_dataset(
    sandbox: Any, conn: str
) -> None:
    from airflow_provider_copernica.engine.preview import preview_rows
    from airflow_provider_copernica.sensors.copernica import CopernicaSensor

    with pytest.raises(
        CopernicaConfigError, match="A preview cannot use 'profile_deletions'.*Use 'profile_ids'"
    ):
        preview_rows(CopernicaHook(conn), "profile_deletions", options={"database_id": DATABASE})
    with pytest.raises(CopernicaConfigError, match="CopernicaSensor cannot use.*subprofile_ids"):
        CopernicaSensor(
            task_id="s", dataset="subprofile_deletions", dataset_options={"collection_id": 1}
        )
    assert not calls_to(sandbox, f"database/{DATABASE}/profileids")
    ids = preview_rows(CopernicaHook(conn), "profile_ids", options={"database_id": DATABASE})
    assert [r["id"] for r in ids.rows] == profile_ids(sandbox)[:20]


# -- schema drift ---------------------------------------------------------------------------


def _fields(sandbox: Any) -> list[str]:
    return snapshots.field_names(sandbox.data, database=DATABASE)


def test_pinned_columns_leave_new_fields_out_and_keep_removed_ones_as_null(
    sandbox: Any, connect: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    connect()
    first, second = tmp_path / "p1.parquet", tmp_path / "p2.parquet"
    run("profiles", first, ALL_TIME, file_format="parquet", schema_policy="pin")
    assert "city" in _fields(sandbox)
    answer = requests.post(
        f"{sandbox.url}/_sandbox/fields",
        json={
            "database": DATABASE,
            "add": [{"name": "loyalty", "type": "integer"}],
            "remove": ["city"],
        },
        timeout=10,
    ).json()
    assert "loyalty" in answer["fields"] and "loyalty" in _fields(sandbox)
    assert "city" not in _fields(sandbox)
    run("profiles", second, ALL_TIME, file_format="parquet", schema_policy="pin")
    assert pq.read_schema(first) == pq.read_schema(second)
    table = pq.read_table(second)
    assert "fields.loyalty" not in table.column_names
    assert table.column("fields.city").null_count == table.num_rows > 0
    logged = capsys.readouterr().out
    assert "left out of the output: fields.loyalty" in logged
    assert "kept as null columns: fields.city" in logged
    # evolve (the default) follows the fields: the new one is there, the removed one gone
    third = tmp_path / "p3.parquet"
    run("profiles", third, ALL_TIME, file_format="parquet")
    names = pq.read_schema(third).names
    assert "fields.loyalty" in names and "fields.city" not in names


def test_fail_policy_names_added_and_removed_fields_and_writes_nothing(
    sandbox: Any, connect: Callable[..., str], tmp_path: Path
) -> None:
    connect()
    run("profiles", tmp_path / "f1.jsonl", ALL_TIME, schema_policy="fail")
    run("profiles", tmp_path / "f2.jsonl", ALL_TIME, schema_policy="fail")  # unchanged: fine
    snapshots.change_fields(
        sandbox.data, database=DATABASE, add=[{"name": "tier", "type": "text"}], remove=["age"]
    )
    sandbox.requests.clear()
    with pytest.raises(
        CopernicaSchemaDriftError, match=r"added: fields\.tier; removed: fields\.age"
    ) as caught:
        run("profiles", tmp_path / "f3.jsonl", ALL_TIME, schema_policy="fail")
    assert isinstance(caught.value, AirflowFailException)  # no task retries: the user decides
    assert not (tmp_path / "f3.jsonl").exists()
    assert not calls_to(sandbox, f"database/{DATABASE}/profiles")  # no data request


def test_a_field_whose_type_changed_is_named_and_nothing_is_written(
    sandbox: Any, connect: Callable[..., str], tmp_path: Path
) -> None:
    connect()
    for policy in ("fail", "pin"):
        run(
            "profiles",
            tmp_path / f"{policy}1.parquet",
            ALL_TIME,
            file_format="parquet",
            schema_policy=policy,
        )
    snapshots.change_fields(
        sandbox.data, database=DATABASE, remove=["age"], add=[{"name": "age", "type": "text"}]
    )
    assert snapshots.field_changes(sandbox.data, database=DATABASE) == {
        "added": [],
        "removed": [],
        "retyped": ["age"],
    }
    sandbox.requests.clear()
    for policy in ("fail", "pin"):
        with pytest.raises(
            CopernicaSchemaDriftError, match=r"type changed: fields\.age \(int -> str\)"
        ):
            run(
                "profiles",
                tmp_path / f"{policy}2.parquet",
                ALL_TIME,
                file_format="parquet",
                schema_policy=policy,
            )
        assert not (tmp_path / f"{policy}2.parquet").exists()
    assert not calls_to(sandbox, f"database/{DATABASE}/profiles")


def test_the_sandbox_reset_restores_the_fields(sandbox: Any) -> None:
    before = _fields(sandbox)
    snapshots.change_fields(sandbox.data, database=DATABASE, add=[{"name": "x"}])
    assert _fields(sandbox) == [*before, "x"]
    sandbox.reset()
    assert _fields(sandbox) == before


def test_a_bad_schema_policy_is_refused_with_the_choices() -> None:
    with pytest.raises(CopernicaConfigError, match="valid schema policies: evolve, pin, fail"):
        CopernicaToStorageOperator(
            task_id="x",
            dataset="profiles",
            dataset_options={"database_id": 1},
            schema_policy="freeze",
        )


def test_a_schema_policy_on_a_dataset_with_fixed_columns_is_refused() -> None:
    with pytest.raises(
        CopernicaConfigError, match="nothing to pin for 'clicks'.*profiles_snapshot"
    ):
        CopernicaToStorageOperator(task_id="x", dataset="clicks", schema_policy="pin")
    CopernicaToStorageOperator(task_id="y", dataset="clicks", schema_policy="evolve")


def test_copernica_datasets_lists_the_faithful_copy_datasets(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    cli = Path(sys.executable).parent / "copernica"
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    done = subprocess.run([str(cli), "datasets"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    for kind, owner in (("profile", "database_id"), ("subprofile", "collection_id")):
        names = {f"{kind}s_snapshot", f"{kind}_ids", f"{kind}_deletions"}
        assert names <= listed
        rows = [line for line in done.stdout.splitlines() if set(line.split()[:1]) & names]
        assert all(owner in line for line in rows)
