"""Restatement (issue 12, item 3): ``restate_intervals=N`` re-extracts the N intervals before
the run's one, each into its own file, so that a late event converges into its day's file."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest
from airflow.sdk import CronDataIntervalTimetable
from sandbox_requests import task_context

from airflow_provider_copernica.exceptions import CopernicaConfigError
from airflow_provider_copernica.faithful.restatement import interval_context, previous_windows
from airflow_provider_copernica.interval import Window
from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator

UTC = timezone.utc
DAILY_UTC = CronDataIntervalTimetable("0 0 * * *", timezone="UTC")


def day_window(day: pendulum.DateTime) -> Window:
    return Window(day, day.add(days=1))


def run_context(day: pendulum.DateTime, timetable: Any = DAILY_UTC) -> dict[str, Any]:
    return task_context(
        day,
        day.add(days=1),
        f"scheduled__{day.isoformat()}",
        logical_date=day,
        ds=day.strftime("%Y-%m-%d"),
        ds_nodash=day.strftime("%Y%m%d"),
        dag=SimpleNamespace(dag_id="restate", timetable=timetable),
    )


def read_ids(path: Path) -> list[int]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()]


def truth(sandbox: Any, day: pendulum.DateTime) -> list[int]:
    ids = sandbox.data.expected_ids("clicks", day, day.add(days=1), product="draganddrop")
    return sorted(int(i) for i in ids)


def restating_operator(tmp_path: Path, **kwargs: Any) -> CopernicaToStorageOperator:
    return CopernicaToStorageOperator(
        task_id="clicks",
        dataset="clicks",
        metadata=("_interval_start",),
        output_uri=str(tmp_path) + "/clicks/{{ ds }}.jsonl",
        allow_empty=True,
        **({"restate_intervals": 2} | kwargs),
    )


def run(op: CopernicaToStorageOperator, ctx: dict[str, Any]) -> dict[str, Any]:
    op.render_template_fields(ctx)
    return op.execute(ctx)


def test_a_late_event_converges_into_its_own_days_file_and_no_other(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    days = [pendulum.datetime(2026, 11, d, tz="UTC") for d in (8, 9, 10, 11)]
    files = {d: tmp_path / "clicks" / f"{d:%Y-%m-%d}.jsonl" for d in days}

    first = run(restating_operator(tmp_path), run_context(days[2]))  # writes 10, 9, 8
    assert [r["interval_start"] for r in first["restated"]] == [
        "2026-11-09T00:00:00+00:00",
        "2026-11-08T00:00:00+00:00",
    ]
    assert sorted(p.name for p in files[days[0]].parent.iterdir()) == [
        f"{d:%Y-%m-%d}.jsonl" for d in days[:3]
    ]
    assert first["api_calls"] == sandbox.stats.api_calls
    oldest = files[days[0]].stat().st_mtime_ns

    # a click on the 9th that arrives after the 9th was extracted
    [late] = sandbox.data.add_records("clicks", [datetime(2026, 11, 9, 15, 30, tzinfo=UTC)])
    assert late not in read_ids(files[days[1]])

    second = run(restating_operator(tmp_path), run_context(days[3]))  # writes 11, 10, 9
    assert [r["uri"] for r in second["restated"]] == [
        files[days[2]].as_uri(),
        files[days[1]].as_uri(),
    ]
    for day in days:
        ids = read_ids(files[day])
        assert sorted(ids) == truth(sandbox, day), day
        assert (late in ids) is (day == days[1]), day
    assert files[days[0]].stat().st_mtime_ns == oldest  # outside the restated range
    assert late not in read_ids(files[days[0]])
    assert not [p for p in files[days[0]].parent.iterdir() if ".tmp-" in p.name]


def test_each_restated_file_is_exactly_its_interval(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    day = pendulum.datetime(2026, 11, 12, tz="UTC")
    op = restating_operator(tmp_path, restate_intervals=3)
    events: defaultdict[Any, SimpleNamespace] = defaultdict(SimpleNamespace)
    result = run(op, run_context(day) | {"outlet_events": events})
    assert len(result["restated"]) == 3
    # the asset event says which files this run replaced
    assert events[op.output_asset].extra["restated"] == result["restated"]
    assert events[op.output_asset].extra["uri"] == result["uri"]
    for entry in [result, *result["restated"]]:
        start = pendulum.parse(entry["interval_start"])
        path = Path(entry["uri"].removeprefix("file://"))
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert sorted(r["id"] for r in rows) == truth(sandbox, start) == sorted(read_ids(path))
        assert {r["_interval_start"] for r in rows} <= {entry["interval_start"]}
        assert entry["rows"] == len(rows)


def test_previous_intervals_follow_the_timetable_across_a_dst_change() -> None:
    amsterdam = CronDataIntervalTimetable("0 0 * * *", timezone="Europe/Amsterdam")
    run_day = Window(datetime(2026, 10, 25, 23, tzinfo=UTC), datetime(2026, 10, 26, 23, tzinfo=UTC))
    [dst_day, before] = previous_windows(run_day, 2, amsterdam)
    assert dst_day == Window(datetime(2026, 10, 24, 22, tzinfo=UTC), run_day.start)  # 25 h
    assert before == Window(datetime(2026, 10, 23, 22, tzinfo=UTC), dst_day.start)
    # without a timetable: the same length as the run's interval
    assert previous_windows(run_day, 1)[0].start == run_day.start - timedelta(days=1)


def test_interval_context_moves_logical_date_and_the_ds_family() -> None:
    day = pendulum.datetime(2026, 11, 10, tz="UTC")
    ctx = run_context(day)
    other = day_window(day.subtract(days=3))
    moved = interval_context(ctx, day_window(day), other)
    assert moved["data_interval_start"] == other.start
    assert moved["logical_date"] == other.start
    assert (moved["ds"], moved["ds_nodash"]) == ("2026-11-07", "20261107")
    assert moved["ts"] == "2026-11-07T00:00:00+00:00"
    assert ctx["ds"] == "2026-11-10"  # the run's own context is left alone


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"restate_intervals": -1}, "restate_intervals must be a whole number >= 0"),
        ({"restate_intervals": True}, "restate_intervals must be a whole number >= 0"),
        ({"restate_intervals": "2"}, "restate_intervals must be a whole number >= 0"),
        ({"restate_intervals": 2, "output_uri": "/tmp/x.jsonl"}, "is the same for every"),
        (
            {"restate_intervals": 1, "dataset": "databases"},
            "restate_intervals needs a dataset filtered by interval",
        ),
        (
            {
                "restate_intervals": 1,
                "dataset": "profiles_snapshot",
                "dataset_options": {"database_id": 7616},
            },
            "restate_intervals needs a dataset filtered by interval",
        ),
        (
            {
                "restate_intervals": 1,
                "dataset": "profile_deletions",
                "dataset_options": {"database_id": 7616},
            },
            "a deletion can only be observed forward in time",
        ),
    ],
)
def test_bad_restatement_arguments_fail_when_the_dag_is_parsed(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(CopernicaConfigError, match=message):
        CopernicaToStorageOperator(task_id="t", **({"dataset": "clicks"} | kwargs))


def test_a_template_that_names_one_file_for_every_interval_fails_before_any_request(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    op = CopernicaToStorageOperator(
        task_id="clicks",
        dataset="clicks",
        output_uri=str(tmp_path) + "/{{ dag.dag_id }}.jsonl",
        restate_intervals=2,
    )
    sandbox.requests.clear()
    with pytest.raises(CopernicaConfigError, match="renders the same path for different"):
        run(op, run_context(pendulum.datetime(2026, 11, 10, tz="UTC")))
    assert not list(sandbox.iter_requests("/v4/"))
    assert not list(tmp_path.iterdir())


def test_the_default_output_path_names_each_interval(
    sandbox: Any, copernica_conn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    op = CopernicaToStorageOperator(
        task_id="clicks", dataset="clicks", allow_empty=True, restate_intervals=1
    )
    result = run(op, run_context(pendulum.datetime(2026, 11, 10, tz="UTC")))
    out = tmp_path / "data" / "copernica" / "restate" / "clicks"
    assert sorted(p.name for p in out.iterdir()) == [
        "20261109T000000Z_20261110T000000Z.jsonl",
        "20261110T000000Z_20261111T000000Z.jsonl",
    ]
    assert result["restated"][0]["uri"].endswith("20261109T000000Z_20261110T000000Z.jsonl")
