"""Several requests in flight inside one task (``max_concurrency``), against the sandbox over
HTTP: exact output in the sequential order, the calls of a sequential run, the requests in
flight as the sandbox counted them, AIMD under the sandbox's 503/429 faults, bounded
read-ahead, one JWT renewal for concurrent refusals."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from sandbox_requests import DATABASE, PROFILES, calls_to, data_calls

from airflow_provider_copernica.client.limiter import ConcurrencyLimiter
from airflow_provider_copernica.engine.extract import prepare
from airflow_provider_copernica.engine.paging import PARTITION_PAGES
from airflow_provider_copernica.engine.streams import OrderedStreams
from airflow_provider_copernica.hooks.copernica import CopernicaHook
from airflow_provider_copernica.interval import Window
from airflow_provider_copernica.testing import make_context

UTC = timezone.utc
PEOPLE_WINDOW = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))
CLICKS_WINDOW = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC))
PROFILE_OPTIONS = {"database_id": DATABASE}
CLICK_OPTIONS = {"product": "draganddrop"}
CASES = [("profiles", PROFILE_OPTIONS, PEOPLE_WINDOW), ("clicks", CLICK_OPTIONS, CLICKS_WINDOW)]
# Small pages: many pages (and partitions) from the sandbox's 3000 profiles.
PAGE = 100
FAST_RETRIES = {"backoff_base": 0.01, "backoff_max": 0.05, "max_retries": 10}


def expected(sandbox: Any, dataset: str, window: Window, options: dict[str, Any]) -> list[int]:
    return sorted(
        int(i) for i in sandbox.data.expected_ids(dataset, window.start, window.end, **options)
    )


def ids_of(hook: CopernicaHook, dataset: str, options: dict, window: Window) -> list[int]:
    extraction = prepare(hook, dataset, options=options, window=window)
    return [int(row["id"]) for page in extraction.pages() for row in page]


def listing_calls(sandbox: Any) -> list[Any]:
    """Data requests other than the field list (discovery)."""
    return [r for r in data_calls(sandbox) if not r.path.endswith("/fields")]


@pytest.mark.parametrize(("dataset", "options", "window"), CASES, ids=[c[0] for c in CASES])
def test_concurrency_4_is_exact_in_order_with_the_calls_of_a_sequential_run(
    sandbox: Any,
    connect: Callable[..., str],
    dataset: str,
    options: dict,
    window: Window,
) -> None:
    truth = expected(sandbox, dataset, window, options)
    pages = math.ceil(len(truth) / PAGE)
    assert pages >= 4 * PARTITION_PAGES, "too few pages to page concurrently"
    sandbox.faults.set("latency:0.02")  # requests overlap for real
    hook = CopernicaHook(connect(page_size=PAGE, max_concurrency=4))
    sandbox.requests.clear()

    ids = ids_of(hook, dataset, options, window)

    assert ids == truth if dataset == "profiles" else sorted(ids) == truth
    assert len(ids) == len(set(ids))
    # The minimum: one call per page, no empty page after the last; no probe either (each
    # partition's first page, read by offset, is where the partition begins).
    assert len(listing_calls(sandbox)) == pages
    assert sandbox.stats.api_calls == hook.api_calls
    assert 2 <= sandbox.stats.max_in_flight <= 4
    assert hook.limiter.max_in_flight <= 4
    queries = [dict(parse_qsl(r.query)) for r in listing_calls(sandbox)]
    starts = sorted(int(q["start"]) for q in queries if "start" in q)
    if dataset == "profiles":  # partitions: a first page by offset, then by key in range
        span = PARTITION_PAGES * PAGE
        assert starts == list(range(span, len(truth), span))  # page 0 is the first page
        bounded = [r for r in listing_calls(sandbox) if "id%3C%3D" in r.query]
        assert bounded, "no partition paged by key within its id range"
    else:
        assert starts == list(range(0, len(truth), PAGE))


@pytest.mark.parametrize(("dataset", "options", "window"), CASES, ids=[c[0] for c in CASES])
def test_a_rerun_at_concurrency_1_and_4_writes_the_same_bytes(
    sandbox: Any,
    connect: Callable[..., str],
    tmp_path: Path,
    dataset: str,
    options: dict,
    window: Window,
) -> None:
    from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator

    sandbox.faults.set("latency:0.01")
    files = {}
    for width in (1, 4, 4):
        connect(page_size=PAGE, max_concurrency=width)
        target = tmp_path / f"{dataset}-{width}-{len(files)}.jsonl"
        op = CopernicaToStorageOperator(
            task_id="extract",
            dataset=dataset,
            dataset_options=options,
            output_uri=f"file://{target}",
        )
        context = make_context(window.start, window.end)
        op.render_template_fields(context)
        op.execute(context)
        files[target.name] = target.read_bytes()
    contents = list(files.values())
    assert contents[0] and contents[0] == contents[1] == contents[2]
    assert contents[0].count(b"\n") == len(expected(sandbox, dataset, window, options))


def test_profiles_at_concurrency_4_are_exact_while_records_change(
    fresh_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Churn (after each page: delete the next record, insert a copy with a new max id): no
    record twice, every record that lived through the run, nothing that never existed."""
    from sandbox_requests import connector

    server = fresh_sandbox
    before = set(expected(server, "profiles", PEOPLE_WINDOW, PROFILE_OPTIONS))
    hook = CopernicaHook(connector(server, monkeypatch, {})(page_size=PAGE, max_concurrency=4))
    server.faults.set("churn", "latency:0.01")

    ids = ids_of(hook, "profiles", PROFILE_OPTIONS, PEOPLE_WINDOW)

    churns = [m for m in server.data.mutations if m["op"] == "churn"]
    assert len(churns) >= 10, "the churn fault did not fire between pages"
    after = set(expected(server, "profiles", PEOPLE_WINDOW, PROFILE_OPTIONS))
    inserted = {m["inserted"] for m in churns}
    assert len(ids) == len(set(ids)), "a record was extracted twice"
    assert ids == sorted(ids), "not in id order"
    assert before & after <= set(ids), "a record that lived through the run is missing"
    assert set(ids) <= before | inserted, "a record that never existed was extracted"
    # the copies created while the run read earlier partitions are read by the last one
    assert inserted & after & set(ids)
    # calls: the pages, plus at most one per partition for the records that moved
    partitions = math.ceil(len(before) / (PARTITION_PAGES * PAGE))
    minimum = math.ceil(len(before) / PAGE)
    assert minimum <= len(listing_calls(server)) <= minimum + partitions


@pytest.mark.parametrize("status", [503, 429])
def test_aimd_lowers_concurrency_when_busy_and_raises_it_again_within_the_bound(
    sandbox: Any,
    connect: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    """The sandbox takes 2 requests at a time (the max_inflight fault); the task, allowed 4,
    halves on the first refusal, adds one after a window of successes, and so on; the
    sandbox never sees more than 4 at once; the output stays exact."""
    truth = expected(sandbox, "profiles", PEOPLE_WINDOW, PROFILE_OPTIONS)
    sandbox.faults.set("latency:0.02", f"max_inflight:2:{status}")
    hook = CopernicaHook(connect(page_size=PAGE, max_concurrency=4, **FAST_RETRIES))

    with caplog.at_level(logging.INFO, logger="airflow_provider_copernica"):
        ids = ids_of(hook, "profiles", PROFILE_OPTIONS, PEOPLE_WINDOW)

    assert ids == truth
    assert sandbox.stats.faults_fired["max_inflight"] >= 1
    assert sandbox.stats.max_in_flight <= 4
    assert hook.limiter.max_in_flight <= 4
    changes = [r.getMessage() for r in caplog.records if "concurrency " in r.getMessage()]
    decreases = [m for m in changes if "->" in m and f"HTTP {status}" in m]
    assert any("concurrency 4 -> 2" in m for m in decreases), changes
    first_decrease = changes.index(decreases[0])
    assert any("concurrency 2 -> 3" in m for m in changes[first_decrease:]), changes
    assert hook.limiter.decreases >= 1 and hook.limiter.increases >= 1
    assert 1 <= hook.limiter.limit <= 4


def test_read_ahead_is_bounded_while_the_writer_is_slow(
    sandbox: Any, connect: Callable[..., str]
) -> None:
    """While the consumer holds the first page, the engine reads a bounded number of pages
    ahead (its queues), then waits: memory follows the pages in flight, not the dataset."""
    truth = expected(sandbox, "profiles", PEOPLE_WINDOW, PROFILE_OPTIONS)
    page_size = 25
    pages = math.ceil(len(truth) / page_size)
    hook = CopernicaHook(connect(page_size=page_size, max_concurrency=4))
    extraction = prepare(hook, "profiles", options=PROFILE_OPTIONS, window=PEOPLE_WINDOW)
    rows = extraction.pages()
    ids = [int(r["id"]) for r in next(rows)]
    served = -1
    while served != len(listing_calls(sandbox)):  # until the engine stops reading ahead
        served = len(listing_calls(sandbox))
        time.sleep(0.3)
    for page in rows:
        ids += [int(r["id"]) for r in page]
    assert ids == truth
    # OrderedStreams: 4 + 1 partitions, each holding at most its PARTITION_PAGES pages
    # (one queued, one in hand), the prefetch (one queued, one in hand), the page consumed.
    held = 5 * PARTITION_PAGES
    assert hook.limiter.max_ready <= held
    assert served <= held + 2 + 1 < pages


def test_concurrent_refusals_renew_the_jwt_once(sandbox: Any, connect: Callable[..., str]) -> None:
    """Four requests in flight with the same JWT are all refused: one new JWT serves them."""
    hook = CopernicaHook(connect(max_concurrency=4))
    hook.get("identity")
    exchanges = sandbox.stats.jwt_exchanges
    sandbox.faults.set("latency:0.2", "reject_jwt:4")
    barrier = threading.Barrier(4)
    answers: list[Any] = []

    def call() -> None:
        barrier.wait()
        answers.append(hook.get(PROFILES, {"limit": 1}))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sandbox.stats.faults_fired["reject_jwt"] == 4
    assert len(answers) == 4
    assert sandbox.stats.jwt_exchanges == exchanges + 1


def test_ordered_streams_yields_in_order_and_raises_a_streams_error_in_place() -> None:
    def stream(k: int) -> Callable[[], Any]:
        def run() -> Any:
            time.sleep(0.01 * (5 - k))  # later streams finish first
            if k == 3:
                raise ValueError("stream 3 failed")
            yield from (f"{k}.{n}" for n in range(2))

        return run

    out: list[str] = []
    with pytest.raises(ValueError, match="stream 3 failed"):
        for item in OrderedStreams([stream(k) for k in range(5)], window=5, depth=1):
            out.append(item)
    assert out == ["0.0", "0.1", "1.0", "1.1", "2.0", "2.1"]


def test_limiter_halves_once_per_burst_and_adds_one_per_window() -> None:
    limiter = ConcurrencyLimiter(8)
    generations = []
    for _ in range(4):
        with limiter.slot() as generation:
            generations.append(generation)
    for generation in generations:  # four answers of one burst: one decrease
        limiter.observe(generation, 503)
    assert limiter.limit == 4
    for _ in range(3):
        with limiter.slot() as generation:
            limiter.observe(generation, 200)
    assert limiter.limit == 4
    with limiter.slot() as generation:
        limiter.observe(generation, 200)
    assert limiter.limit == 5
    for _ in range(20):
        with limiter.slot() as generation:
            limiter.observe(generation, 200)
    assert limiter.limit == 8  # never above the bound
    assert limiter.max_in_flight == 1


def test_max_concurrency_is_a_checked_connection_extra(connect: Callable[..., str]) -> None:
    from airflow_provider_copernica.exceptions import CopernicaConfigError

    assert CopernicaHook(connect()).settings.max_concurrency == 1
    with pytest.raises(CopernicaConfigError, match=r"max_concurrency must be in 1\.\.16"):
        _ = CopernicaHook(connect(max_concurrency=0)).settings


def test_preview_stays_sequential(sandbox: Any, connect: Callable[..., str]) -> None:
    """A preview reads only the pages it shows, whatever max_concurrency says."""
    hook = CopernicaHook(connect(page_size=PAGE, max_concurrency=4))
    extraction = prepare(hook, "profiles", options=PROFILE_OPTIONS, window=PEOPLE_WINDOW)
    rows = [r for page in extraction.pages(max_rows=150) for r in page]
    assert len(rows) >= 150
    assert len(calls_to(sandbox, PROFILES)) == 2


@pytest.mark.parametrize("spec", ["max_inflight", "max_inflight:0", "max_inflight:2:500"])
def test_the_max_inflight_fault_refuses_bad_specs(spec: str) -> None:
    from airflow_provider_copernica.sandbox.faults import Faults

    with pytest.raises(ValueError, match="max_inflight"):
        Faults().set(spec)


def test_the_max_inflight_fault_answers_the_requests_beyond_n(
    sandbox: Any, connect: Callable[..., str]
) -> None:
    """Four requests at once against a sandbox taking two: two get the load balancer's 503."""
    hook = CopernicaHook(connect(max_concurrency=4, max_retries=0))
    hook.get("identity")
    sandbox.faults.set("latency:0.3", "max_inflight:2")
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def call() -> None:
        barrier.wait()
        try:
            hook.get(PROFILES, {"limit": 1})
            outcomes.append("ok")
        except Exception as error:  # noqa: BLE001 - the outcome is what is checked
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["CopernicaRetryError"] * 2 + ["ok"] * 2
    assert sandbox.stats.faults_fired["max_inflight"] == 2
    assert sandbox.stats.statuses[503] == 2
    assert sandbox.stats.max_in_flight == 4


def test_the_field_list_call_is_in_flight_with_the_first_page(
    sandbox: Any, connect: Callable[..., str]
) -> None:
    """With two requests allowed, the field-list call and the first page overlap (a snapshot
    of one page: nothing else could be in flight); with one, they follow each other. (A
    windowed listing checks its filters against the field list first: no overlap there.)"""
    options = {"database_id": 7617}
    truth = sorted(int(r["ID"]) for r in sandbox.data.records("profiles", **options))
    assert 0 < len(truth) < 1000
    for width in (2, 1):
        hook = CopernicaHook(connect(max_concurrency=width))
        hook.get("identity")  # the JWT first: only the two calls are left to overlap
        sandbox.reset()
        sandbox.faults.set("latency:0.2")
        extraction = prepare(hook, "profiles_snapshot", options=options)
        assert [int(r["id"]) for page in extraction.pages() for r in page] == truth
        assert sandbox.stats.api_calls == 2  # the field list and the one page
        assert sandbox.stats.max_in_flight == width
