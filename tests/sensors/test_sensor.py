"""CopernicaSensor against the sandbox: counts vs ground truth, modes, deferral, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import pytest
from airflow.sdk.exceptions import (
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from sandbox_days import Window2, day_window, pick_days
from sandbox_requests import FAST_POLL, bearer_tokens, data_calls, truth

from airflow_provider_copernica.exceptions import CopernicaAPIError, CopernicaConfigError
from airflow_provider_copernica.sensors.copernica import CopernicaSensor, CopernicaSensorError
from airflow_provider_copernica.triggers.copernica import CopernicaTrigger

UTC = timezone.utc
BUSY: Window2  # the busiest day of clicks, set by _pick_days
QUIET: Window2  # the latest day without clicks


class _TaskInstance:
    """The bit of Airflow's RuntimeTaskInstance that reschedule mode reads."""

    def get_first_reschedule_date(self, context: Any) -> None:
        return None


@pytest.fixture(scope="module", autouse=True)
def _pick_days(sandbox: Any) -> None:
    # The windows come from the ground truth, so the tests hold for any seeded data.
    global BUSY, QUIET
    BUSY, QUIET = pick_days(sandbox, "clicks")


def context(window: tuple[datetime, datetime] | None = None, **params: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {"params": params, "ti": _TaskInstance()}
    if window is not None:
        ctx["data_interval_start"], ctx["data_interval_end"] = window
    return ctx


@pytest.fixture
def fast_extra() -> dict[str, Any]:
    return FAST_POLL


def sensor(**kwargs: Any) -> CopernicaSensor:
    kwargs.setdefault("task_id", "wait")
    kwargs.setdefault("dataset", "clicks")
    return CopernicaSensor(**kwargs)


# -- construction -------------------------------------------------------------------------


def test_unknown_dataset_fails_at_construction_listing_valid_names() -> None:
    with pytest.raises(CopernicaConfigError, match="clicks") as err:
        sensor(dataset="clickz")
    assert "clickz" in str(err.value)


@pytest.mark.parametrize("bad", [0, -1, "3", True, 1.5])
def test_min_records_must_be_a_positive_whole_number(bad: Any) -> None:
    with pytest.raises(CopernicaConfigError, match="min_records"):
        sensor(min_records=bad)


def test_defaults() -> None:
    s = sensor()
    assert s.poke_interval == 300
    assert s.min_records == 1
    assert s.copernica_conn_id == "copernica_default"
    assert s.deferrable is False  # [operators] default_deferrable is False in the test config
    assert "dataset_options" in s.template_fields


@pytest.mark.parametrize(
    ("dataset", "options", "expected"),
    [
        ("profiles", {}, "database_id"),
        ("profiles", {"database_id": "abc"}, "positive integer"),
        ("clicks", {"product": "sms"}, "draganddrop, html"),
        ("clicks", {"database_id": 1}, "valid options"),
    ],
)
def test_bad_options_fail_at_first_poke_before_any_request(
    conn: str, sandbox: Any, dataset: str, options: dict[str, Any], expected: str
) -> None:
    s = sensor(dataset=dataset, dataset_options=options)
    with pytest.raises(CopernicaConfigError, match=expected):
        s.poke(context(BUSY))
    assert data_calls(sandbox) == []


def test_run_without_window_fails_clearly(conn: str, sandbox: Any) -> None:
    with pytest.raises(CopernicaConfigError, match="date_from"):
        sensor().poke(context())
    assert data_calls(sandbox) == []


# -- poke against the ground truth ---------------------------------------------------------


def test_poke_true_when_the_window_has_data(conn: str, sandbox: Any) -> None:
    expected = truth(sandbox, "clicks", BUSY)
    assert expected > 0
    s = sensor()
    assert s.count(sandbox_window(BUSY)) == expected
    assert s.poke(context(BUSY)) is True


def test_poke_false_when_the_window_is_empty(conn: str, sandbox: Any) -> None:
    assert truth(sandbox, "clicks", QUIET) == 0
    assert sensor().poke(context(QUIET)) is False


def test_min_records_threshold_at_and_one_above_the_count(conn: str, sandbox: Any) -> None:
    expected = truth(sandbox, "clicks", BUSY)
    assert sensor(min_records=expected).poke(context(BUSY)) is True
    assert sensor(min_records=expected + 1).poke(context(BUSY)) is False


def test_one_poke_is_one_limit_1_request(conn: str, sandbox: Any) -> None:
    sensor().poke(context(BUSY))
    calls = data_calls(sandbox)
    assert len(calls) == 1
    assert ("limit", "1") in parse_qsl(calls[0].query)
    assert calls[0].path == "/v4/draganddrop/clicks"


@pytest.mark.parametrize(
    ("dataset", "options"),
    [
        ("profiles", {"database_id": 7616}),
        ("emailings", {"product": "html"}),
        ("deliveries", {}),
    ],
)
def test_count_matches_ground_truth_for_windowed_datasets(
    conn: str, sandbox: Any, dataset: str, options: dict[str, Any]
) -> None:
    busiest, _ = pick_days(sandbox, dataset, **options)
    window = (busiest[0] - timedelta(days=1), busiest[1] + timedelta(days=1))
    expected = truth(sandbox, dataset, window, **options)
    assert expected > 0
    assert sensor(dataset=dataset, dataset_options=options).count(sandbox_window(window)) == (
        expected
    )


def test_snapshot_dataset_counts_all_records(conn: str, sandbox: Any) -> None:
    expected = len(sandbox.data.records("databases"))
    s = sensor(dataset="databases", min_records=expected)
    assert s.count(sandbox_window(QUIET)) == expected  # the window does not filter snapshots
    assert s.poke(context(QUIET)) is True
    assert sensor(dataset="databases", min_records=expected + 1).poke(context(QUIET)) is False


def test_dataset_without_a_total_is_counted_by_pages(conn: str, sandbox: Any) -> None:
    # consumption (per-day totals) has no count request: the engine's pages are counted.
    window = day_window(sandbox.data.anchor - timedelta(days=8), days=7)
    expected = truth(sandbox, "consumption", window)
    assert expected > 1
    assert sensor(dataset="consumption", min_records=expected).poke(context(window)) is True
    assert sensor(dataset="consumption", min_records=expected + 1).poke(context(window)) is False


def test_paged_count_stops_at_min_records(connect: Callable[..., str], sandbox: Any) -> None:
    # destinations filter by whole days (no exact total): paged, and paging stops early.
    connect(page_size=10)
    window, _ = pick_days(sandbox, "destinations")
    expected = truth(sandbox, "destinations", window)
    assert expected > 100
    sandbox.requests.clear()
    count = sensor(dataset="destinations", min_records=15).count(sandbox_window(window))
    assert 15 <= count < expected
    assert len(data_calls(sandbox)) < expected / 10  # not a full scan
    assert sensor(dataset="destinations", min_records=expected).poke(context(window)) is True
    assert sensor(dataset="destinations", min_records=expected + 1).poke(context(window)) is False


def test_params_window_for_manual_runs(conn: str, sandbox: Any) -> None:
    expected = truth(sandbox, "clicks", BUSY)
    manual = context(date_from=BUSY[0].date().isoformat(), date_to=BUSY[1].date().isoformat())
    assert sensor(min_records=expected).poke(manual) is True
    assert sensor(min_records=expected + 1).poke(manual) is False


def test_templated_dataset_options_are_used(conn: str, sandbox: Any) -> None:
    s = sensor(dataset="profiles", dataset_options={"database_id": "{{ params.db }}"})
    s.render_template_fields({"params": {"db": 7616}})
    window, _ = pick_days(sandbox, "profiles", database_id=7616)
    expected = truth(sandbox, "profiles", window, database_id=7616)
    assert s.count(sandbox_window(window)) == expected


def test_api_error_fails_the_poke(conn: str, sandbox: Any) -> None:
    with pytest.raises(CopernicaAPIError, match="404"):
        sensor(dataset="profiles", dataset_options={"database_id": 999999}).poke(context(BUSY))


def test_outage_beyond_the_retry_budget_is_not_yet_not_a_failure(conn: str, sandbox: Any) -> None:
    sandbox.faults.set("503:3")  # max_retries=2: three attempts, all 503
    assert sensor().poke(context(BUSY)) is False
    assert sensor().poke(context(BUSY)) is True  # the burst is over


# -- modes -----------------------------------------------------------------------------------


def test_poke_mode_returns_when_data_exists(conn: str) -> None:
    assert sensor(mode="poke", timeout=0).execute(context(BUSY)) is None


def test_poke_mode_times_out_and_soft_fail_skips(conn: str) -> None:
    with pytest.raises(AirflowSensorTimeout):
        sensor(mode="poke", timeout=0, poke_interval=0).execute(context(QUIET))
    with pytest.raises(AirflowSkipException):
        sensor(mode="poke", timeout=0, poke_interval=0, soft_fail=True).execute(context(QUIET))


@pytest.mark.parametrize("backoff", [False, True])
def test_reschedule_mode_reschedules_without_data(conn: str, backoff: bool) -> None:
    s = sensor(mode="reschedule", poke_interval=120, exponential_backoff=backoff)
    before = datetime.now(UTC)
    with pytest.raises(AirflowRescheduleException) as resched:
        s.execute(context(QUIET))
    assert resched.value.reschedule_date > before
    assert s.execute(context(BUSY)) is None  # data: done, no reschedule


# -- deferral -------------------------------------------------------------------------------


def test_deferrable_returns_at_once_when_data_exists(conn: str, sandbox: Any) -> None:
    assert sensor(deferrable=True).execute(context(BUSY)) is None
    assert len(data_calls(sandbox)) == 1


def test_deferrable_defers_to_the_trigger_without_enough_data(conn: str, sandbox: Any) -> None:
    expected = truth(sandbox, "profiles", QUIET, database_id=7616)
    s = sensor(
        deferrable=True,
        dataset="profiles",
        dataset_options={"database_id": "7616"},
        min_records=expected + 1,
        timeout=3600,
        poke_interval=60,
    )
    with pytest.raises(TaskDeferred) as deferred:
        s.execute(context(QUIET))
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=3600)
    trigger = deferred.value.trigger
    assert isinstance(trigger, CopernicaTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_copernica.triggers.copernica.CopernicaTrigger"
    assert kwargs == {
        "dataset": "profiles",
        "dataset_options": {"database_id": 7616},
        "window_start": QUIET[0].isoformat(),
        "window_end": QUIET[1].isoformat(),
        "min_records": expected + 1,
        "filters": [],
        "copernica_conn_id": "copernica_default",
        "poke_interval": 60.0,
        "initial_delay": 60.0,
    }
    assert len(data_calls(sandbox)) == 1  # the one immediate check


def test_execute_complete_success_error_and_soft_fail() -> None:
    ok = {"status": "success", "count": 3, "dataset": "clicks"}
    assert sensor().execute_complete(context(BUSY), ok) is None
    error = {"status": "error", "message": "CopernicaAPIError: HTTP 400: bad filter"}
    with pytest.raises(CopernicaSensorError, match="bad filter"):
        sensor().execute_complete(context(BUSY), error)
    with pytest.raises(AirflowSkipException, match="bad filter"):
        sensor(soft_fail=True).execute_complete(context(BUSY), error)
    with pytest.raises(CopernicaSensorError, match="unexpected trigger event"):
        sensor().execute_complete(context(BUSY), None)


def test_resume_with_error_event_skips_with_soft_fail() -> None:
    error = {"status": "error", "message": "boom"}
    with pytest.raises(AirflowSkipException):
        sensor(soft_fail=True).resume_execution("execute_complete", {"event": error}, {})


# -- secrets --------------------------------------------------------------------------------


def test_no_secret_in_logs_or_trigger_kwargs(
    conn: str, sandbox: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN

    caplog.set_level("DEBUG")
    sensor().poke(context(BUSY))
    with pytest.raises(TaskDeferred) as deferred:
        sensor(deferrable=True).execute(context(QUIET))
    tokens = bearer_tokens(sandbox)
    assert tokens
    captured = capsys.readouterr()
    text = (
        caplog.text + captured.out + captured.err + json.dumps(deferred.value.trigger.serialize())
    )
    assert "record(s) in" in text  # the logs were captured
    for secret in (SANDBOX_ACCESS_TOKEN, *tokens):
        assert secret not in text


def test_refused_token_fails_without_echoing_it(
    connect: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaAuthError

    connect("wrong-token-1234567890")
    with pytest.raises(CopernicaAuthError) as err:
        sensor().poke(context(BUSY))
    assert "wrong-token-1234567890" not in str(err.value)
    assert "wrong-token-1234567890" not in caplog.text


def sandbox_window(window: tuple[datetime, datetime]) -> Any:
    from airflow_provider_copernica.interval import Window

    return Window(*window)
