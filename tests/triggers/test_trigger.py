"""CopernicaTrigger against the sandbox with asyncio: events, round trip, errors, secrets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import pytest
from airflow.sdk.module_loading import import_string
from sandbox_days import Window2, day_window, pick_days
from sandbox_requests import FAST_POLL, bearer_tokens, data_calls, truth

from airflow_provider_copernica.sensors.copernica import CopernicaSensor
from airflow_provider_copernica.triggers.copernica import CopernicaTrigger

UTC = timezone.utc
BUSY: Window2  # the busiest day of clicks, set by _pick_days
QUIET: Window2  # the latest day without clicks
EVENT_TIMEOUT = 30  # a broken trigger fails the test instead of hanging it


@pytest.fixture(scope="module", autouse=True)
def _pick_days(sandbox: Any) -> None:
    # The windows come from the ground truth, so the tests hold for any seeded data.
    global BUSY, QUIET
    BUSY, QUIET = pick_days(sandbox, "clicks")


def trigger(
    window: Window2 | None = None, dataset: str = "clicks", **kwargs: Any
) -> CopernicaTrigger:
    window = window or BUSY
    kwargs.setdefault("poke_interval", 0.1)
    return CopernicaTrigger(
        dataset=dataset,
        window_start=window[0].isoformat(),
        window_end=window[1].isoformat(),
        **kwargs,
    )


async def first_event(trig: CopernicaTrigger) -> dict[str, Any]:
    async def first() -> Any:
        async for event in trig.run():
            return event

    event = await asyncio.wait_for(first(), EVENT_TIMEOUT)
    assert event is not None
    return event.payload


@pytest.fixture
def fast_extra() -> dict[str, Any]:
    return FAST_POLL


async def test_fires_at_once_when_data_exists(conn: str, sandbox: Any) -> None:
    expected = truth(sandbox, "clicks", BUSY)
    assert expected > 0
    event = await first_event(trigger(min_records=expected))
    assert event == {
        "status": "success",
        "count": expected,
        "dataset": "clicks",
        "interval_start": BUSY[0].isoformat(),
        "interval_end": BUSY[1].isoformat(),
        "min_records": expected,
    }
    calls = data_calls(sandbox)
    assert len(calls) == 1
    assert ("limit", "1") in parse_qsl(calls[0].query)
    assert sandbox.stats.jwt_exchanges == 1


async def test_fires_when_records_are_added(conn: str, sandbox: Any) -> None:
    assert truth(sandbox, "clicks", QUIET) == 0
    moments = [QUIET[0] + timedelta(hours=h) for h in (1, 2, 23)]

    async def add_after_first_poll() -> None:
        # Wait until the trigger has seen the empty window once (timing-independent).
        while not data_calls(sandbox):
            await asyncio.sleep(0.05)
        sandbox.data.add_records("clicks", moments)

    adder = asyncio.create_task(add_after_first_poll())
    event = await first_event(trigger(QUIET, min_records=3))
    await adder
    assert event["status"] == "success"
    assert event["count"] == 3 == truth(sandbox, "clicks", QUIET)
    assert len(data_calls(sandbox)) >= 2  # polled while empty, then saw the records
    assert sandbox.stats.jwt_exchanges == 1  # one JWT for the whole wait


async def test_fires_when_late_data_becomes_visible(conn: str, sandbox: Any) -> None:
    last_day = day_window(sandbox.data.anchor - timedelta(days=1))
    expected = truth(sandbox, "profiles", last_day, database_id=7616)
    assert expected > 0
    sandbox.faults.set("data_after:600")  # the last day's records stay hidden ...
    seen_before = len(data_calls(sandbox))

    async def arrive_after_first_probe() -> None:
        # ... until the trigger has looked once (by the request log, not by a timer, so a slow
        # machine cannot let the first probe see the data already).
        while len(data_calls(sandbox)) == seen_before:
            await asyncio.sleep(0.02)
        sandbox.faults.set("data_after:0")

    arrival = asyncio.create_task(arrive_after_first_probe())
    event = await first_event(
        trigger(last_day, "profiles", dataset_options={"database_id": 7616}, poke_interval=0.2)
    )
    await arrival
    assert (event["status"], event["count"]) == ("success", expected)
    assert len(data_calls(sandbox)) - seen_before >= 2


async def test_serialize_round_trip_rebuilds_a_working_trigger(conn: str, sandbox: Any) -> None:
    from airflow.serialization.serialized_objects import BaseSerialization

    last_day = day_window(sandbox.data.anchor - timedelta(days=1))
    original = trigger(
        last_day,
        "profiles",
        dataset_options={"database_id": 7616},
        min_records=2,
        poke_interval=42,
        initial_delay=0,
    )
    classpath, kwargs = original.serialize()
    assert classpath == "airflow_provider_copernica.triggers.copernica.CopernicaTrigger"
    # What the triggerer stores and reads back.
    stored = json.loads(json.dumps(BaseSerialization.serialize(kwargs)))
    rebuilt = import_string(classpath)(**BaseSerialization.deserialize(stored))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["window_start"] == last_day[0].isoformat()
    assert kwargs["poke_interval"] == 42.0
    event = await first_event(rebuilt)
    assert event["count"] == truth(sandbox, "profiles", last_day, database_id=7616)


async def test_sensor_and_trigger_count_the_same(conn: str, sandbox: Any) -> None:
    from airflow_provider_copernica.hooks.copernica import CopernicaAsyncHook
    from airflow_provider_copernica.interval import Window

    window = Window(*day_window(sandbox.data.anchor - timedelta(days=60), days=60))
    cases = [
        ("profiles", {"database_id": 7616}),
        ("emailings", {"product": "html"}),
        ("clicks", {}),
        ("databases", {}),
        ("consumption", {}),  # no count request: counted from pages
    ]
    hook = CopernicaAsyncHook(conn)
    try:
        settings = await hook.get_settings()
        for dataset, options in cases:
            sensor = CopernicaSensor(
                task_id="s", dataset=dataset, dataset_options=options, min_records=10**6
            )
            trig = trigger(dataset=dataset, dataset_options=options, min_records=10**6)
            expected = sensor.count(window)
            assert await trig.count(hook, settings, window) == expected, dataset
            assert expected > 0, dataset
    finally:
        await hook.close()


async def test_error_event_on_a_request_copernica_refuses(conn: str, sandbox: Any) -> None:
    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN

    event = await first_event(trigger(dataset="profiles", dataset_options={"database_id": 999999}))
    assert event["status"] == "error"
    assert "CopernicaAPIError" in event["message"]
    assert "404" in event["message"]
    assert len(data_calls(sandbox)) == 1  # not retried, not polled again
    for secret in (SANDBOX_ACCESS_TOKEN, *bearer_tokens(sandbox)):
        assert secret not in json.dumps(event)


async def test_error_event_on_bad_option(conn: str, sandbox: Any) -> None:
    event = await first_event(trigger(dataset="profiles"))
    assert event["status"] == "error"
    assert "database_id" in event["message"]
    assert data_calls(sandbox) == []


async def test_error_event_on_refused_token_without_the_token(
    connect: Callable[..., str],
    sandbox: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture,
) -> None:
    token = "wrong-token-0987654321"
    connect(token)
    caplog.set_level("DEBUG")
    event = await first_event(trigger())
    assert event["status"] == "error"
    assert "CopernicaAuthError" in event["message"]
    captured = capsys.readouterr()
    assert token not in json.dumps(event) + caplog.text + captured.out + captured.err


async def test_outage_beyond_the_retry_budget_keeps_waiting(conn: str, sandbox: Any) -> None:
    sandbox.faults.set("503:3")  # max_retries=2: the first check fails after three 503s
    event = await first_event(trigger(min_records=1))
    assert (event["status"], event["count"]) == ("success", truth(sandbox, "clicks", BUSY))
    assert len(data_calls(sandbox)) == 4


async def test_no_secret_in_events_or_logs(
    conn: str, sandbox: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN

    caplog.set_level("DEBUG")
    moments = [QUIET[0] + timedelta(hours=5)]
    asyncio.get_running_loop().call_later(0.3, lambda: sandbox.data.add_records("clicks", moments))
    event = await first_event(trigger(QUIET))
    assert event["status"] == "success"
    captured = capsys.readouterr()
    text = json.dumps(event) + caplog.text + captured.out + captured.err
    assert "record(s) in" in text  # the logs were captured
    tokens = bearer_tokens(sandbox)
    assert tokens
    for secret in (SANDBOX_ACCESS_TOKEN, *tokens):
        assert secret not in text
    assert SANDBOX_ACCESS_TOKEN not in json.dumps(trigger().serialize())


async def test_error_event_on_unknown_connection(sandbox: Any) -> None:
    event = await first_event(trigger(copernica_conn_id="copernica_nowhere"))
    assert event["status"] == "error"
    assert "copernica_nowhere" in event["message"]
    assert data_calls(sandbox) == []


async def test_sensor_and_trigger_count_the_same_filtered_profiles(conn: str, sandbox: Any) -> None:
    from airflow_provider_copernica.hooks.copernica import CopernicaAsyncHook
    from airflow_provider_copernica.interval import Window

    window = Window(*day_window(sandbox.data.anchor - timedelta(days=60), days=60))
    options, filters = {"database_id": 7616}, ["country==Belgium", "age<40"]
    in_window = set(sandbox.data.expected_ids("profiles", window.start, window.end, **options))
    expected = sum(
        1
        for r in sandbox.data.records("profiles", **options)
        if int(r["ID"]) in in_window
        and r["fields"]["country"] == "Belgium"
        and int(r["fields"]["age"]) < 40
    )
    sensor = CopernicaSensor(
        task_id="s", dataset="profiles", dataset_options=options, filters=filters, min_records=1
    )
    trig = trigger(dataset="profiles", dataset_options=options, filters=filters)
    _, kwargs = trig.serialize()
    assert kwargs["filters"] == filters
    hook = CopernicaAsyncHook(conn)
    try:
        settings = await hook.get_settings()
        assert await trig.count(hook, settings, window) == sensor.count(window) == expected > 0
    finally:
        await hook.close()
