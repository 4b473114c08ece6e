"""Fault matrix: the real operator against every sandbox fault, for keyset and offset paging.

Each run must either produce exactly the sandbox's ground truth, or fail cleanly: a
``CopernicaError`` with a clear message, the previous final file untouched, no temporary files
left beside it. Faults are switched on after a few data requests so they hit mid-extraction.
Every fault runs with one request in flight (``max_concurrency=1``) and with four.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    CONN_ENV,
    FAST_EXTRA,
    clear_log,
    data_requests,
    directory_listing,
    find_window,
    make_context,
    read_ids,
    record_matrix,
    run_operator,
    seen_requests,
)

PREVIOUS = b'{"id": -1, "note": "previous complete file"}\n'

DATASETS: dict[str, dict[str, Any]] = {
    # keyset paging (fields[]=id>last)
    "profiles": {"database_id": 7616},
    # offset paging (start/limit)
    "clicks": {"product": "draganddrop"},
}


@dataclass(frozen=True)
class Fault:
    label: str
    spec: str
    outcome: str  # "exact" or "failed cleanly"
    extra_requests: int = 0  # data requests the fault adds to a clean run (retries)
    extra: dict[str, Any] = field(default_factory=dict)
    before: tuple[str, ...] = ()  # faults switched on before the run starts
    per_request: bool = False  # the burst is N per request in flight (N x max_concurrency)

    def spec_for(self, width: int) -> str:
        """The spec of a run with ``width`` requests in flight: a burst meant to outlast one
        request's retries must outlast them while ``width`` requests share it."""
        if not self.per_request:
            return self.spec
        kind, count = self.spec.split(":")
        return f"{kind}:{int(count) * width}"


FAULTS = [
    Fault("429 + Retry-After 0.2s x2", "429:2:0.2", "exact", 2),
    Fault("502 burst x3", "502:3", "exact", 3),
    Fault("503 burst x3", "503:3", "exact", 3),
    Fault("504 burst x3", "504:3", "exact", 3),
    Fault("connection reset x2", "reset:2", "exact", 2),
    Fault("read timeout x1", "timeout:1:2", "exact", 1, {"timeout": 0.8}),
    Fault("truncated JSON x2", "truncate:2", "exact", 2),
    Fault("401 on a valid JWT x1", "401:1", "exact", 1),
    # JWTs live 2.5 s, every request takes 0.25 s and a run takes ~16 rounds of requests
    # (page_size is set per run, see JWT_ROUNDS): the JWT expires mid-run, and requests sent
    # in its last 0.25 s (the client renews 0.25 s before exp) are refused in flight. A
    # renewed JWT would need a request of 2.5 s to expire in transit again; with 1.2 s it did
    # on a loaded machine (a renewal per request is allowed only a few times).
    Fault("JWT expiring mid-run", "", "exact", before=("jwt_ttl:2.5", "latency:0.25")),
    # keyset (profiles) is exact under churn; offset (clicks) skips an event per removal
    Fault("churn between pages", "churn", "exact"),
    Fault("503 beyond the budget", "503:10", "failed cleanly", per_request=True),
    Fault("persistent outage", "outage_after:1", "failed cleanly"),
]

ARM_AFTER = 2  # data requests served cleanly before the fault is switched on
WIDTHS = (1, 4)  # max_concurrency of the runs
JWT_ROUNDS = 16  # rounds of requests in flight of the JWT run (~4 s at 0.25 s per request)


@pytest.fixture(scope="module")
def windows(sandbox: Any) -> dict[str, tuple[Any, Any]]:
    """A 30-day window per dataset with enough records for several pages."""
    out = {}
    for name, options in DATASETS.items():
        start, end, _ = find_window(sandbox, name, options, 150, 700, days=30)
        out[name] = (start, end)
    return out


@pytest.fixture(scope="module")
def clean_calls(sandbox: Any, windows: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Data requests a fault-free run of each dataset makes (the baseline for the budget)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CONN_ENV, json.dumps(sandbox.connection(**FAST_EXTRA)))
        out = {}
        for name, options in DATASETS.items():
            clear_log(sandbox)
            target = tmp_path_factory.mktemp("baseline") / f"{name}.jsonl"
            result = run_operator(
                make_context(*windows[name]),
                dataset=name,
                dataset_options=options,
                output_uri=f"file://{target}",
            )
            out[name] = len(data_requests(sandbox))
            assert result["api_calls"] == out[name]
        return out


@pytest.fixture
def arm_fault(sandbox: Any) -> Iterator[Callable[[str], threading.Event]]:
    """``arm(spec)``: switch the fault on once ARM_AFTER data requests have been served."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def arm(spec: str) -> threading.Event:
        armed = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                if len(data_requests(sandbox)) >= ARM_AFTER:
                    sandbox.faults.set(spec)
                    armed.set()
                    return
                time.sleep(0.001)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        threads.append(thread)
        return armed

    yield arm
    stop.set()
    for thread in threads:
        thread.join(5)


def _expected(sandbox: Any, dataset: str, window: tuple, options: dict) -> list[int]:
    """The sandbox's ground truth now (after the run, which churn may have changed)."""
    return sorted(int(i) for i in sandbox.data.expected_ids(dataset, *window, **options))


@pytest.mark.parametrize("width", WIDTHS, ids=[f"x{w}" for w in WIDTHS])
@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("fault", FAULTS, ids=[f.spec or f.before[0] for f in FAULTS])
def test_fault(
    fault: Fault,
    dataset: str,
    width: int,
    sandbox: Any,
    connect: Callable[..., str],
    windows: dict,
    clean_calls: dict,
    arm_fault: Callable[[str], threading.Event],
    tmp_path: Path,
) -> None:
    from airflow_provider_copernica.exceptions import CopernicaError

    options = DATASETS[dataset]
    window = windows[dataset]
    before = sorted(int(i) for i in sandbox.data.expected_ids(dataset, *window, **options))
    extra = dict(fault.extra)
    if fault.before:  # long enough for the JWT to expire mid-run at either width
        extra["page_size"] = max(1, -(-len(before) // (JWT_ROUNDS * width)))
    connect(**extra, max_concurrency=width)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / f"{dataset}.jsonl"
    target.write_bytes(PREVIOUS)

    sandbox.faults.set(*fault.before)
    armed = arm_fault(fault.spec_for(width)) if fault.spec else None
    outcome = "defect"
    try:
        try:
            result = run_operator(
                make_context(*window),
                dataset=dataset,
                dataset_options=options,
                output_uri=f"file://{target}",
            )
        except CopernicaError as error:
            message = str(error)
            assert fault.outcome == "failed cleanly", f"unexpected failure: {message}"
            assert "503" in message or "outage" in message.lower(), message
            assert "retry" in message.lower() or "attempt" in message.lower(), message
            assert target.read_bytes() == PREVIOUS, "the previous final file was touched"
            assert directory_listing(out_dir) == [target.name], "temporary files left behind"
            outcome = "failed cleanly"
            return
        assert armed is None or armed.is_set(), "the run finished before the fault was switched on"
        assert fault.outcome == "exact", f"a run under {fault.spec} should have failed"
        ids = read_ids(target)
        repeated = len(ids) - len(set(ids))
        concurrent_offset_churn = fault.spec == "churn" and dataset != "profiles" and width > 1
        assert repeated == 0 or concurrent_offset_churn, "duplicate records"
        observed = "exact"
        after = _expected(sandbox, dataset, window, options)
        if fault.spec == "churn" and dataset == "profiles" and width == 1:
            # Keyset paging over changing data: the records deleted ahead of the cursor are
            # gone, their re-inserted copies (new max ids) are picked up, nothing repeats.
            # Only a copy inserted after the last page was served can be missing.
            churns = [m for m in sandbox.data.mutations if m.get("op") == "churn"]
            assert churns, "the churn fault never fired"
            assert set(ids) <= set(after), "deleted records were extracted"
            assert set(after) - set(ids) <= {churns[-1]["inserted"]}
            assert {m["deleted"] for m in churns} & set(ids) == set()
        elif fault.spec == "churn" and dataset == "profiles":
            # Id-range partitions are read at different moments: every record that lived
            # through the run is there once; one deleted or created meanwhile may be or not.
            churns = [m for m in sandbox.data.mutations if m.get("op") == "churn"]
            assert churns, "the churn fault never fired"
            assert set(before) & set(after) <= set(ids), "a record that lived through is missing"
            assert set(ids) <= set(before) | {m["inserted"] for m in churns}
        elif fault.spec == "churn":
            # Offset paging (event listings) while events arrive and go: an event removed
            # behind the offset moves every later one a place forward, so the next page
            # begins one event later and skips one that lived through the run. Nothing is
            # repeated, nothing foreign is read; new events (max ids) are read at the end.
            churns = [m for m in sandbox.data.mutations if m.get("op") == "event_churn"]
            assert churns, "the churn fault never fired on the event listing"
            removed = {m["deleted"] for m in churns}
            assert set(ids) <= set(before) | {m["inserted"] for m in churns}
            skipped = (set(before) - removed) - set(ids)
            if width == 1:
                assert skipped, "offset paging was exact under churn: update the claim"
                assert len(skipped) <= len(churns), "more skipped than events removed"
                assert repeated == 0, "sequential offset pages repeated an event"
            # Concurrent offset pages are read at different moments of the churn: a change
            # shifts the pages read after it against those read before, so an event near a
            # boundary may be skipped or repeated; nothing foreign is read (checked above).
            observed = (
                ("skips, repeats (offset)" if repeated else "skips (offset)")
                if skipped
                else ("repeats (offset)" if repeated else "exact")
            )
        else:
            assert sorted(ids) == before == after
        assert result["rows"] == len(ids)
        assert directory_listing(out_dir) == [target.name], "temporary files left behind"
        if fault.extra_requests:
            calls = len(data_requests(sandbox))
            assert calls == clean_calls[dataset] + fault.extra_requests
            assert result["api_calls"] == calls
        if fault.before:
            exchanges = [r for r in seen_requests(sandbox) if r.method == "POST"]
            assert len(exchanges) >= 2, "the JWT was never renewed"
        outcome = observed
    finally:
        record_matrix(fault.label, f"{dataset} x{width}", outcome)
