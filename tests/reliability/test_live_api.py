"""The live API's observed behaviour (COPERNICA_API.md, "Observed on the live API"), taught
to the sandbox and met by the real operator over real HTTP.

Retry-budget tests run on a fake clock (:mod:`tests.fake_clock`): the client's sleeps and the
sandbox's storm share it, so a 3-minute storm takes a second while every request is real.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fake_clock import FakeClock

from .conftest import (
    data_requests,
    directory_listing,
    find_window,
    make_context,
    read_ids,
    run_operator,
)

PREVIOUS = b'{"id": -1, "note": "previous complete file"}\n'
PROFILES = {"database_id": 7616}
# The shipped retry budget: no test overrides (connect() drops None values).
DEFAULT_BUDGET: dict[str, Any] = {
    "max_retries": None,
    "backoff_base": None,
    "backoff_max": None,
    "max_retry_wait": None,
}


@pytest.fixture
def window(sandbox: Any) -> tuple[Any, Any, list[int]]:
    start, end, ids = find_window(sandbox, "profiles", PROFILES, 40, 400, days=7)
    return start, end, [int(i) for i in ids]


def _extract(window: tuple, target: Path) -> dict[str, Any]:
    return run_operator(
        make_context(window[0], window[1]),
        dataset="profiles",
        dataset_options=PROFILES,
        output_uri=f"file://{target}",
    )


def _previous(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    target = out / "profiles.jsonl"
    target.write_bytes(PREVIOUS)
    return target


# --------------------------------------------------------------------------- invalid token


def test_invalid_token_400_gets_one_new_jwt_and_the_exact_data(
    sandbox: Any, connect: Callable[..., str], window: tuple, tmp_path: Path
) -> None:
    connect()
    target = tmp_path / "profiles.jsonl"
    sandbox.faults.set("reject_jwt:1")  # 400 {"error":{"message":"Invalid access token"}}
    result = _extract(window, target)
    assert sorted(read_ids(target)) == window[2]
    assert result["rows"] == len(window[2])
    assert sandbox.stats.faults_fired["reject_jwt"] == 1
    assert sandbox.stats.jwt_exchanges == 2  # the first JWT, and one after the refusal


@pytest.mark.parametrize("answer", ["400", "401"])
def test_a_refused_fresh_jwt_fails_with_an_auth_error(
    answer: str, sandbox: Any, connect: Callable[..., str], window: tuple, tmp_path: Path
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaAuthError

    connect()
    target = _previous(tmp_path)
    sandbox.faults.set(f"invalid_token:{answer}", "reject_jwt:100")
    with pytest.raises(CopernicaAuthError, match=f"refused a freshly fetched JWT \\(HTTP {answer}"):
        _extract(window, target)
    assert sandbox.stats.jwt_exchanges == 2  # one new JWT, then no more
    assert len(data_requests(sandbox)) == 2  # the first request, once per JWT
    assert target.read_bytes() == PREVIOUS
    assert directory_listing(target.parent) == [target.name]


# --------------------------------------------------------------------------- 503/504 storms


def _busy_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "airflow_provider_copernica.client.retry"
        and "Copernica busy" in r.getMessage()
    ]


def test_the_default_budget_rides_out_a_three_minute_storm(
    sandbox: Any,
    connect: Callable[..., str],
    window: tuple,
    tmp_path: Path,
    mocker: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock.install(mocker, sandbox)
    connect(**DEFAULT_BUDGET)
    target = tmp_path / "profiles.jsonl"
    caplog.set_level(logging.WARNING, logger="airflow_provider_copernica.client.retry")
    sandbox.faults.set("storm:180")
    result = _extract(window, target)

    assert sorted(read_ids(target)) == window[2]
    assert result["rows"] == len(window[2])
    storm = sandbox.stats.faults_fired["storm"]
    statuses = sandbox.stats.statuses
    assert statuses[503] + statuses[504] == storm
    # Every storm answer was followed by one wait; they add up to just over 3 minutes, and
    # within the budget: backoff 0.5 s doubling to a 30 s cap, plus jitter.
    # 0.5, 1, 2, 4, 8, 16, then 30 s (the cap), each plus up to 0.5 s of jitter: the 11th
    # wait ends past 180 s, so the 12th attempt succeeds.
    assert storm == len(clock.sleeps) == 11 and (statuses[503], statuses[504]) == (8, 3)
    assert 181.5 <= clock.slept <= 181.5 + 11 * 0.5
    assert max(clock.sleeps) <= 30.5
    lines = _busy_lines(caplog)
    assert len(lines) == storm
    assert all(line.endswith(" of 10 min used") for line in lines), lines
    pattern = r"Copernica busy \(50[34]\), retrying in 30 s, 2 min \d+ s of 10 min used"
    assert re.search(pattern, "\n".join(lines)), lines
    print(
        f"\n3-minute storm, default budget: {storm} storm answers "
        f"({statuses[503]}x503, {statuses[504]}x504), {len(clock.sleeps)} waits, "
        f"{clock.slept:.1f} s waited in total; data requests {len(data_requests(sandbox))}"
    )
    for line in lines:
        print("  " + line)


def test_a_storm_longer_than_the_budget_fails_cleanly(
    sandbox: Any,
    connect: Callable[..., str],
    window: tuple,
    tmp_path: Path,
    mocker: Any,
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaRetryError

    clock = FakeClock.install(mocker, sandbox)
    connect(**{**DEFAULT_BUDGET, "max_retry_duration": 120})
    target = _previous(tmp_path)
    sandbox.faults.set("storm:180")
    with pytest.raises(CopernicaRetryError) as caught:
        _extract(window, target)
    message = str(caught.value)
    assert "max_retry_duration=120 s" in message and "HTTP 50" in message, message
    attempts = len(data_requests(sandbox))
    assert f"after {attempts} attempt(s) in 2 min" in message, message
    assert clock.slept == pytest.approx(120)  # the last wait ends at the deadline
    assert target.read_bytes() == PREVIOUS
    assert directory_listing(target.parent) == [target.name]


def test_max_retries_still_caps_the_attempts(
    sandbox: Any, connect: Callable[..., str], mocker: Any
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaRetryError
    from airflow_provider_copernica.hooks.copernica import CopernicaHook

    clock = FakeClock.install(mocker, sandbox)
    connect(**{**DEFAULT_BUDGET, "max_retries": 2})
    sandbox.faults.set("storm:180")
    with pytest.raises(CopernicaRetryError, match="after 3 attempt.*max_retries=2"):
        CopernicaHook("copernica_default").get("identity")
    assert len(data_requests(sandbox)) == 3 and len(clock.sleeps) == 2
    assert clock.slept < 5


async def test_the_async_hook_rides_out_the_storm_too(
    sandbox: Any, connect: Callable[..., str], mocker: Any
) -> None:
    from airflow_provider_copernica.hooks.copernica import CopernicaAsyncHook

    clock = FakeClock.install(mocker, sandbox)
    hook = CopernicaAsyncHook(connect(**DEFAULT_BUDGET))
    sandbox.faults.set("storm:180")
    try:
        assert (await hook.get("identity"))["name"] == "Sandbox"
    finally:
        await hook.close()
    assert clock.slept >= 180 and len(data_requests(sandbox)) == len(clock.sleeps) + 1


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize("field", ["modified", "Modified"])
@pytest.mark.parametrize(
    ("dataset", "options", "path"),
    [
        ("profiles", PROFILES, "/v4/database/7616/profiles"),
        ("subprofiles", {"collection_id": 6312}, "/v4/collection/6312/subprofiles"),
    ],
)
def test_a_field_named_modified_is_refused_before_any_data_request(
    field: str,
    dataset: str,
    options: dict,
    path: str,
    sandbox: Any,
    connect: Callable[..., str],
    window: tuple,
    tmp_path: Path,
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaConfigError

    connect()
    sandbox.faults.set(f"modified_field:{field}")
    target = _previous(tmp_path)
    with pytest.raises(CopernicaConfigError) as caught:
        run_operator(
            make_context(window[0], window[1]),
            dataset=dataset,
            dataset_options=options,
            output_uri=f"file://{target}",
        )
    message = str(caught.value)
    assert f"has a field named {field!r}" in message and dataset in message, message
    assert [r.path for r in data_requests(sandbox) if r.path == path] == []
    assert target.read_bytes() == PREVIOUS
    assert directory_listing(target.parent) == [target.name]


@pytest.mark.parametrize(
    ("dataset", "options"),
    [
        ("profiles", PROFILES),
        ("subprofiles", {"collection_id": 6312}),
        ("clicks", {"product": "html"}),
        ("impressions", {"product": "html"}),
    ],
)
def test_every_fields_condition_sent_is_one_the_api_honours(
    dataset: str, options: dict, sandbox: Any, connect: Callable[..., str], tmp_path: Path
) -> None:
    """Read back from the request log: each fields[] condition parses the live API's way and
    names a property or field the endpoint filters on (none is silently ignored)."""
    from urllib.parse import parse_qsl

    from airflow_provider_copernica.sandbox.tables import Condition

    connect(page_size=50)
    start, end, ids = find_window(sandbox, dataset, options, 60, 2000, days=7)
    target = tmp_path / f"{dataset}.jsonl"
    run_operator(
        make_context(start, end),
        dataset=dataset,
        dataset_options=options,
        output_uri=f"file://{target}",
    )
    assert sorted(read_ids(target)) == sorted(int(i) for i in ids)
    table = sandbox.data.table(dataset, **options)
    sent = [
        value
        for request in data_requests(sandbox)
        for name, value in parse_qsl(request.query)
        if name == "fields[]"
    ]
    assert len(sent) >= 3  # the window's two bounds and at least one more page's
    for text in sent:
        condition = Condition.parse(text)
        assert condition is not None and table.predicate(condition) is not None, text


# --------------------------------------------------------------------------- removed records


def test_removed_profiles_and_their_subprofiles_are_not_extracted(
    sandbox: Any, connect: Callable[..., str], tmp_path: Path
) -> None:
    connect(page_size=100)
    start, end, ids = find_window(sandbox, "subprofiles", {"collection_id": 6312}, 50, 2000, 7)
    orders = sandbox.data.records("subprofiles", collection_id=6312)
    in_window = {int(r["ID"]): int(r["profile"]) for r in orders if int(r["ID"]) in set(ids)}
    people = set(sandbox.data.expected_ids("profiles", start, end, **PROFILES))
    parent = next(p for p in in_window.values() if p in people)  # both in the window
    gone_subs = sandbox.data.remove_record("profiles", parent, database_id=7616)
    assert set(gone_subs) & set(in_window)

    expected = sorted(sandbox.data.expected_ids("subprofiles", start, end, collection_id=6312))
    assert expected == sorted(set(ids) - set(gone_subs))
    target = tmp_path / "orders.jsonl"
    run_operator(
        make_context(start, end),
        dataset="subprofiles",
        dataset_options={"collection_id": 6312},
        output_uri=f"file://{target}",
    )
    assert sorted(read_ids(target)) == expected
    # The removal did not move the profile's `modified`, and the profile is gone from lists.
    target = tmp_path / "profiles.jsonl"
    run_operator(
        make_context(start, end),
        dataset="profiles",
        dataset_options=PROFILES,
        output_uri=f"file://{target}",
    )
    assert sorted(read_ids(target)) == sorted(people - {parent})


# --------------------------------------------------------------------------- empty dates


def test_empty_dates_are_null_in_the_file(
    sandbox: Any, connect: Callable[..., str], window: tuple, tmp_path: Path
) -> None:
    import json

    connect(page_size=200)
    start, end, ids = find_window(sandbox, "subprofiles", {"collection_id": 6313}, 20, 2000, 30)
    target = tmp_path / "tickets.jsonl"
    run_operator(
        make_context(start, end),
        dataset="subprofiles",
        dataset_options={"collection_id": 6313},
        output_uri=f"file://{target}",
    )
    rows = {row["id"]: row for row in map(json.loads, target.read_text().splitlines())}
    truth = {int(r["ID"]): r for r in sandbox.data.records("subprofiles", collection_id=6313)}
    assert sorted(rows) == sorted(int(i) for i in ids)
    empty = [i for i in rows if truth[i]["fields"]["closed"] == "0000-00-00 00:00:00"]
    assert empty and len(empty) < len(rows)
    assert all(rows[i]["fields.closed"] is None for i in empty)
    assert all(rows[i]["fields.closed"] for i in rows if i not in empty)

    target = tmp_path / "profiles.jsonl"
    start, end, _ = window
    run_operator(
        make_context(start, end),
        dataset="profiles",
        dataset_options=PROFILES,
        output_uri=f"file://{target}",
    )
    people = {row["id"]: row for row in map(json.loads, target.read_text().splitlines())}
    truth = {int(r["ID"]): r for r in sandbox.data.records("profiles", **PROFILES)}
    unborn = [i for i in people if truth[i]["fields"]["birthdate"] == "0000-00-00"]
    assert unborn, "the window should hold a profile without a birth date"
    assert all(people[i]["fields.birthdate"] is None for i in unborn)
    assert all(people[i]["fields.birthdate"] for i in people if i not in unborn)
