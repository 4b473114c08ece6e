"""Integrity of the example DAGs in dags/: they parse offline, with real data intervals."""

from __future__ import annotations

import copy
import os
import shlex
import socket
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
EXPECTED_DAGS = {
    "copernica_daily_sync",
    "copernica_hourly_events",
    "copernica_amsterdam_morning",
    "copernica_backfill",
    "copernica_preview",
    "copernica_sensor_gated",
    "copernica_restatement",
    "copernica_lifetime_statistics",
    "copernica_profiles_landed",
    # --- faithful copy: snapshots, deletions, schema drift ---
    "copernica_snapshots",
    "copernica_deletions",
    "copernica_schema_pinned",
    "copernica_partitioned_snapshot",
    # --- loading into a database (CopernicaToSqlOperator) ---
    "copernica_sql_daily_events",
    "copernica_sql_profiles",
    "copernica_sql_weekly_snapshot",
    "copernica_sql_profile_history",
}


class _NetworkBlocked(AssertionError):
    pass


@pytest.fixture(scope="module")
def dagbag() -> Any:
    """Parse dags/ with every outgoing connection refused and no Copernica connection set."""
    from airflow.dag_processing.dagbag import DagBag

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise _NetworkBlocked(f"a DAG file opened a network connection: {args!r}")

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("AIRFLOW_CONN_COPERNICA_DEFAULT", raising=False)
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        mp.setattr(socket, "create_connection", refuse)
        bag = DagBag(dag_folder=str(DAGS_FOLDER), safe_mode=False)
    for stat in bag.dagbag_stats:
        print(f"parse time {stat.file}: {stat.duration.total_seconds() * 1000:.0f} ms")
    return bag


def _core_timetable(dag: Any) -> Any:
    from airflow.serialization.encoders import coerce_to_core_timetable

    return coerce_to_core_timetable(dag.timetable)


def _first_intervals(dag: Any, count: int, earliest: datetime) -> list[tuple[datetime, datetime]]:
    from airflow.timetables.base import TimeRestriction

    timetable = _core_timetable(dag)
    restriction = TimeRestriction(earliest=pendulum.instance(earliest), latest=None, catchup=True)
    intervals, last = [], None
    for _ in range(count):
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last, restriction=restriction
        )
        assert info is not None and info.data_interval is not None, dag.dag_id
        last = info.data_interval
        intervals.append((last.start, last.end))
    return intervals


def test_no_import_errors_and_every_example_present(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED_DAGS
    for dag in dagbag.dags.values():
        assert (dag.doc_md or "").strip(), f"{dag.dag_id} has no docstring"
        assert "example" in dag.tags


def test_scheduled_dags_have_real_contiguous_data_intervals(dagbag: Any) -> None:
    scheduled = [d for d in dagbag.dags.values() if _core_timetable(d).periodic]
    assert {d.dag_id for d in scheduled} == EXPECTED_DAGS - {
        "copernica_preview",
        "copernica_profiles_landed",  # scheduled on an asset, not on time
        "copernica_partitioned_snapshot",  # triggered: a snapshot on demand
    }
    for dag in scheduled:
        intervals = _first_intervals(dag, 3, dag.start_date)
        for (start, end), (next_start, _) in zip(intervals, intervals[1:], strict=False):
            assert end > start, f"{dag.dag_id}: zero-width interval {start}..{end}"
            assert next_start == end, f"{dag.dag_id}: gap or overlap at {end}"
        manual = _core_timetable(dag).infer_manual_data_interval(
            run_after=pendulum.datetime(2026, 11, 20, 12, 34, tz="UTC")
        )
        assert manual.end > manual.start, f"{dag.dag_id}: manual run gets a zero-width interval"


def test_hourly_dag_covers_whole_hours_and_maps_six_event_datasets(dagbag: Any) -> None:
    dag = dagbag.dags["copernica_hourly_events"]
    [(start, end)] = _first_intervals(dag, 1, datetime(2026, 3, 1, 10, 15, tzinfo=ZoneInfo("UTC")))
    assert (start.isoformat(), end.isoformat()) == (
        "2026-03-01T11:00:00+00:00",
        "2026-03-01T12:00:00+00:00",
    )
    task = dag.get_task("extract_events")
    assert task.expand_input.value["dataset"] == [
        "deliveries",
        "impressions",
        "clicks",
        "errors",
        "unsubscribes",
        "abuses",
    ]
    assert "{{ task.dataset }}" in task.partial_kwargs["output_uri"]


def test_amsterdam_dag_interval_is_exactly_the_previous_local_day_across_dst(dagbag: Any) -> None:
    dag = dagbag.dags["copernica_amsterdam_morning"]
    ams = ZoneInfo("Europe/Amsterdam")
    # 25 October 2026: clocks go back in Amsterdam, so that local day lasts 25 hours.
    intervals = _first_intervals(dag, 3, datetime(2026, 10, 24, tzinfo=ams))
    local = [(s.astimezone(ams), e.astimezone(ams)) for s, e in intervals]
    assert [(s.isoformat(), e.isoformat()) for s, e in local] == [
        ("2026-10-24T00:00:00+02:00", "2026-10-25T00:00:00+02:00"),
        ("2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00"),
        ("2026-10-26T00:00:00+01:00", "2026-10-27T00:00:00+01:00"),
    ]
    assert [e - s for s, e in intervals] == [
        timedelta(hours=24),
        timedelta(hours=25),
        timedelta(hours=24),
    ]
    sensor = dag.get_task("wait_until_0630_amsterdam")
    assert type(sensor).__name__ == "DateTimeSensorAsync"  # waits in the triggerer
    target = _render(sensor.target_time, data_interval_end=pendulum.instance(intervals[1][1]))
    assert target == "2026-10-26T06:30:00+01:00"


def _render(template: str, **context: Any) -> str:
    import jinja2

    return jinja2.Environment().from_string(template).render(**context)


def test_backfill_dag_is_backfill_ready_and_its_documented_command_parses(dagbag: Any) -> None:
    from airflow.cli import cli_parser

    dag = dagbag.dags["copernica_backfill"]
    assert dag.catchup is True
    assert dag.max_active_runs == 3
    assert dag.start_date < datetime.now(tz=ZoneInfo("UTC"))
    doc = dag.doc_md
    command = doc[doc.index("airflow backfill create") : doc.index("``--reprocess-behavior``")]
    argv = shlex.split(command.replace("\\\n", " "))
    args = cli_parser.get_parser().parse_args(argv[1:])
    assert args.dag_id == "copernica_backfill"
    assert args.reprocess_behavior == "none"
    assert (args.from_date.date().isoformat(), args.to_date.date().isoformat()) == (
        "2026-11-01",
        "2026-11-03",
    )
    for behaviour in ("none", "failed", "completed"):
        assert f"``{behaviour}``" in doc


def test_preview_dag_validates_its_params_before_running(dagbag: Any) -> None:
    from airflow.exceptions import ParamValidationError

    from airflow_provider_copernica.catalog.datasets import DATASETS

    dag = dagbag.dags["copernica_preview"]
    assert not _core_timetable(dag).periodic  # schedule=None: UI / CLI triggers only
    schema = dag.params.get_param("dataset").schema
    assert schema["enum"] == sorted(DATASETS)
    # the form follows the catalog: a field for every option of every dataset
    assert {name for d in DATASETS.values() for name in d.option_names} <= set(dag.params)
    for d in DATASETS.values():
        for choice in d.choices:
            assert dag.params.get_param(choice.name).schema["enum"] == [None, *choice.values]
    good = {"dataset": "profiles", "date_from": "2026-11-20", "date_to": "2026-11-21"}
    resolved = _with_conf(dag.params, good).validate()
    assert resolved["limit"] == 20 and resolved["database_id"] is None  # nothing prefilled
    bad_cases = {
        "no_such_dataset": ({**good, "dataset": "no_such_dataset"}, "is not one of"),
        "20-11-2026": ({**good, "date_from": "20-11-2026"}, "is not a 'date'"),
        "limit 0": ({**good, "limit": 0}, "less than the minimum"),
    }
    for label, (conf, expected) in bad_cases.items():
        with pytest.raises(ParamValidationError, match=expected):
            _with_conf(dag.params, conf).validate()
        print(f"refused {label}")
    # The Trigger form opens valid: every field has a default that passes its schema, and
    # the dates default to the last full day (UTC); date_to is exclusive.
    defaults = copy.deepcopy(dag.params).validate()
    today = datetime.now(ZoneInfo("UTC")).date()
    assert defaults["date_from"] == (today - timedelta(days=1)).isoformat()
    assert defaults["date_to"] == today.isoformat()
    assert defaults["dataset"] == "clicks" and defaults["limit"] == 20
    for name in dag.params:
        param = dag.params.get_param(name)
        assert param.has_value or "null" in param.schema.get("type", []), name


def _with_conf(params: Any, conf: dict[str, Any]) -> Any:
    merged = copy.deepcopy(params)
    merged.update(conf)  # what a trigger with --conf does: then the whole dict is validated
    return merged


def test_sensor_dag_defers_then_extracts(dagbag: Any) -> None:
    dag = dagbag.dags["copernica_sensor_gated"]
    sensor = dag.get_task("wait_for_profiles")
    assert sensor.deferrable is True
    assert [t.task_id for t in sensor.downstream_list] == ["extract_profiles"]


def test_asset_scheduled_dag_runs_on_the_asset_the_daily_sync_declares(dagbag: Any) -> None:
    from airflow.serialization.definitions.assets import SerializedAsset

    downstream = dagbag.dags["copernica_profiles_landed"]
    timetable = _core_timetable(downstream)
    assert type(timetable).__name__ == "AssetTriggeredTimetable"
    [asset] = [a for _, a in timetable.asset_condition.iter_assets()]
    assert isinstance(asset, SerializedAsset)
    home = Path(os.environ["AIRFLOW_HOME"]).absolute()
    uri = f"{home.as_uri()}/data/copernica/copernica_daily_sync/profiles?dataset=profiles"
    assert (asset.name, asset.uri) == (uri, uri)

    upstream = dagbag.dags["copernica_daily_sync"]
    outlets = {t.task_id: [(o.name, o.uri) for o in t.outlets] for t in upstream.tasks}
    assert outlets == {
        "extract_profiles": [(uri, uri)],
        "extract_clicks": [(uri.replace("profiles", "clicks"),) * 2],
    }


def test_every_unmapped_extraction_declares_one_asset_of_its_own(dagbag: Any) -> None:
    from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator

    seen: dict[str, str] = {}
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            if not isinstance(task, CopernicaToStorageOperator):
                continue  # the hourly DAG's mapped task: created at run time only
            [asset] = task.outlets
            assert asset == task.output_asset
            assert asset.uri not in seen, f"{dag.dag_id}.{task.task_id} shares {seen[asset.uri]}"
            seen[asset.uri] = f"{dag.dag_id}.{task.task_id}"
    assert sorted(seen.values()) == [
        "copernica_amsterdam_morning.extract_emailings",
        "copernica_backfill.extract_profiles",
        "copernica_daily_sync.extract_clicks",
        "copernica_daily_sync.extract_profiles",
        "copernica_deletions.profile_deletions",
        "copernica_lifetime_statistics.emailing_lifetime_statistics",
        "copernica_restatement.clicks",
        "copernica_schema_pinned.profiles",
        "copernica_sensor_gated.extract_profiles",
        "copernica_snapshots.profiles_snapshot",
        "copernica_snapshots.subprofiles_snapshot",
    ]


def test_database_dags_load_by_their_documented_write_modes(dagbag: Any) -> None:
    from airflow.sdk import AssetAlias

    from airflow_provider_copernica.operators.copernica import CopernicaToSqlOperator

    modes = {}
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            if isinstance(task, CopernicaToSqlOperator):
                modes[f"{dag.dag_id}.{task.task_id}"] = (task.write_mode, task.table)
                assert task.outlets == [
                    AssetAlias(name=f"copernica_sql/{task.sql_conn_id}/{task.table}")
                ]
    assert modes == {
        "copernica_sql_daily_events.clicks_to_table": ("replace_interval", "copernica_clicks"),
        "copernica_sql_profiles.profiles_upsert": ("upsert", "copernica_profiles"),
        "copernica_sql_profiles.profile_deletions_soft_delete": (
            "soft_delete",
            "copernica_profiles",
        ),
        "copernica_sql_weekly_snapshot.profiles_snapshot_to_table": (
            "truncate_insert",
            "copernica_profiles_snapshot",
        ),
        "copernica_sql_profile_history.profile_versions": ("history", "copernica_profile_history"),
        "copernica_sql_profile_history.close_removed_profiles": (
            "history",
            "copernica_profile_history",
        ),
    }


def test_partitioned_dag_plans_then_maps_one_part_per_range_then_writes_the_manifest(
    dagbag: Any,
) -> None:
    dag = dagbag.dags["copernica_partitioned_snapshot"]
    plan, part, manifest = (dag.get_task(t) for t in ("plan", "extract_part", "manifest"))
    assert type(part).__name__ == "MappedOperator"
    assert part.upstream_task_ids == {"plan"}
    assert manifest.upstream_task_ids == {"plan", "extract_part"}
    assert manifest.trigger_rule == "all_success"  # a failed part: no manifest
    assert dag.params["partitions"] == 4
    assert plan.partitions == "{{ params.partitions }}"
