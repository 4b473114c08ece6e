"""Throughput and API calls: the operator vs the raw page loop, side by side in one run.

For each case (profiles: keyset pages; clicks: offset pages) the operator runs once first;
the sandbox's request log then gives the exact path and filter parameters it sent, which the
raw loop replays (with its own paging parameters, the same ones the hook documents). Then
raw, JSONL and Parquet runs alternate ``repeats`` times; each figure is the best run (the
machine is shared, so the best run is the least disturbed one). Every run's output is
checked against the sandbox's ground truth count.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from benchmarks.common import WORK_DIR, Report, SandboxProcess
from benchmarks.extract_run import WINDOW, count_output, run_operator
from benchmarks.raw import run_raw

PAGING_KEYS = {"limit", "start", "total", "orderby", "order"}
# (case, format) -> most client CPU per record, µs: process time of the whole run (issue 14)
CPU_TARGET_US = {("profiles", "jsonl"): 10.0}


@dataclass
class Case:
    """One dataset extraction measured against the raw loop."""

    name: str
    dataset: str
    options: dict[str, Any]
    paging: str  # "keyset" | "offset"
    path: str  # the data endpoint below /v4, e.g. "database/1/profiles"
    expected: int  # ground-truth number of records in the window
    formats: Sequence[str] = ("jsonl", "parquet")
    discovery_calls: int = 0  # calls the dataset needs before its pages (field list)
    window: tuple[datetime, datetime] = WINDOW


@dataclass
class CaseResult:
    case: Case
    latency: float
    seconds: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def best(self, kind: str) -> float:
        return min(self.seconds[kind])

    def rate(self, kind: str) -> float:
        return self.case.expected / self.best(kind)

    def cpu_us_per_record(self, kind: str) -> float:
        return min(self.cpu[kind]) / self.case.expected * 1e6


def _is_paging_param(key: str, value: str) -> bool:
    return key in PAGING_KEYS or (key == "fields[]" and value.replace(" ", "").startswith("id>"))


def replay_params(request: dict[str, Any]) -> list[tuple[str, str]]:
    """The filter parameters of one logged request, without the paging ones."""
    query = request["query"]
    pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else list(query)
    return [(k, v) for k, v in pairs if not _is_paging_param(k, v)]


def _check(case: Case, kind: str, rows: int, file_rows: int | None = None) -> None:
    if rows != case.expected or (file_rows is not None and file_rows != case.expected):
        raise AssertionError(
            f"{case.name}/{kind}: {rows} rows (file: {file_rows}), ground truth {case.expected}"
        )


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def learn(sandbox: SandboxProcess, case: Case) -> tuple[str, list[tuple[str, str]], dict]:
    """One untimed operator run (also the warm-up): the path and filter parameters of its
    first data request, and its API calls as the sandbox counted them."""
    sandbox.reset()
    stats_before = sandbox.stats()
    out = WORK_DIR / "out" / f"{_slug(case.name)}.learn.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    run = run_operator(case.dataset, case.options, "jsonl", out, case.window)
    stats_after = sandbox.stats()
    log = sandbox.requests(since=0)
    _check(case, "jsonl", run.result["rows"], count_output(out, "jsonl"))
    calls = api_call_figures(case, log, run.result, stats_before, stats_after)
    first_page = calls["data_requests"][0]
    return first_page["path"], replay_params(first_page), calls


def measure(
    sandbox: SandboxProcess,
    case: Case,
    *,
    path: str,
    params: list[tuple[str, str]],
    token: str,
    latency: float,
    repeats: int,
) -> CaseResult:
    """Alternate raw / operator runs ``repeats`` times with ``latency`` s added per request."""
    out_dir = WORK_DIR / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    kinds = ("raw", *case.formats)
    result = CaseResult(case, latency, {k: [] for k in kinds}, {k: [] for k in kinds})
    sandbox.reset()
    if latency:
        sandbox.fault(f"latency:{latency}")
    auth_url = sandbox.extra["auth_url"]
    try:
        for _ in range(repeats):
            seconds, cpu, records = _timed_raw(
                sandbox.url, path, params, auth_url, token, case.paging
            )
            _check(case, "raw", records)
            result.seconds["raw"].append(seconds)
            result.cpu["raw"].append(cpu)
            for file_format in case.formats:
                out = out_dir / f"{_slug(case.name)}.{file_format}"
                run = run_operator(case.dataset, case.options, file_format, out)
                _check(case, file_format, run.result["rows"], count_output(out, file_format))
                result.seconds[file_format].append(run.seconds)
                result.cpu[file_format].append(run.cpu_seconds)
    finally:
        sandbox.reset()
    return result


def _timed_raw(
    url: str, path: str, params: list[tuple[str, str]], auth_url: str, token: str, paging: str
) -> tuple[float, float, int]:
    start, cpu = time.perf_counter(), time.process_time()
    # the logged path already carries the /v4 prefix
    raw = run_raw(url, path, params, auth_url=auth_url, access_token=token, paging=paging)
    return time.perf_counter() - start, time.process_time() - cpu, raw.records


def api_call_figures(
    case: Case,
    log: list[dict[str, Any]],
    op_result: dict[str, Any],
    stats_before: dict[str, Any],
    stats_after: dict[str, Any],
) -> dict[str, Any]:
    """Calls made by one operator run vs the minimum, from the sandbox's own log/counters."""
    api = [r for r in log if "/v4/" in r["path"] or r["path"].endswith("/v4")]
    auth = [r for r in log if r not in api and r["method"] == "POST"]
    data = [r for r in api if _same_endpoint(r["path"], case)]
    other = [r for r in api if r not in data]
    minimum = math.ceil(case.expected / 1000) + 1 + case.discovery_calls
    return {
        "data_requests": data,
        "pages": len(data),
        "jwt": len(auth),
        "other": sorted({r["path"] for r in other}),
        "other_count": len(other),
        "total": len(data) + len(auth) + len(other),
        "minimum": minimum,
        "hook_api_calls": op_result.get("api_calls"),
        "stats_delta": _delta(stats_before, stats_after),
    }


def _same_endpoint(path: str, case: Case) -> bool:
    return path.rstrip("/").endswith("/" + case.path.strip("/"))


def _delta(before: Any, after: Any) -> Any:
    if isinstance(after, dict):
        return {
            k: d
            for k, v in after.items()
            if (d := _delta(before.get(k) if isinstance(before, dict) else None, v)) not in (0, {})
        }
    if isinstance(after, (int, float)) and not isinstance(after, bool):
        return after - (before if isinstance(before, (int, float)) else 0)
    return 0


def report_case(report: Report, res: CaseResult) -> None:
    case, tag = res.case, ("50 ms latency" if res.latency else "no latency")
    raw = res.rate("raw")
    report.add("throughput", f"{case.name} raw loop, {tag}", f"{raw:,.0f} rec/s")
    for file_format in case.formats:
        rate = res.rate(file_format)
        ratio = rate / raw
        target = _target(file_format, res.latency, case)
        report.add(
            "throughput",
            f"{case.name} operator -> {file_format}, {tag}",
            f"{rate:,.0f} rec/s (ratio {ratio:.2f})",
            f">= {target:.1f}" if target else "",
            ratio >= target if target else None,
        )
    if not res.latency:
        raw_cpu = res.cpu_us_per_record("raw")
        for file_format in case.formats:
            cpu = res.cpu_us_per_record(file_format)
            target = CPU_TARGET_US.get((case.name, file_format))
            median = statistics.median(res.cpu[file_format]) / case.expected * 1e6
            report.add(
                "client CPU",
                f"{case.name} -> {file_format}: client CPU per record (raw loop {raw_cpu:.1f})",
                f"{cpu:.1f} µs (median {median:.1f})",
                f"<= {target:.0f} µs" if target else "",
                cpu <= target if target else None,
            )


def _target(file_format: str, latency: float, case: Case) -> float | None:
    if case.name != "profiles":
        return None
    if latency:
        return {"jsonl": 0.9, "parquet": 0.8}.get(file_format)
    return 0.6 if file_format == "jsonl" else None


def report_calls(report: Report, case: Case, calls: dict[str, Any]) -> None:
    """The brief's minimum: ceil(N/1000) pages + 1 JWT + discovery, for every N: keyset
    paging asks for the total on its first page and again on the page expected to be its
    last, so it stops there with no empty page after it, even when N is an exact multiple of
    1000 (at ``max_concurrency=1``: ``tests/engine/test_extract.py``, the sequential case;
    above it: ``tests/engine/test_concurrency.py``)."""
    note = (
        f"{calls['pages']} pages + {calls['jwt']} JWT + {calls['other_count']} other "
        f"({', '.join(calls['other']) or 'none'}); hook api_calls={calls['hook_api_calls']}"
    )
    report.add(
        "api calls",
        f"{case.name}, {case.expected:,} records",
        f"{calls['total']} (minimum {calls['minimum']})",
        "= minimum",
        calls["total"] == calls["minimum"],
        note,
    )


def fixed_cost(sandbox: SandboxProcess, token: str, repeats: int) -> tuple[float, float]:
    """Best wall time of a whole operator run on a tiny snapshot dataset (``databases``:
    a few records, one page) vs the raw JWT + one GET: the per-run cost that small
    extractions (an hourly interval of clicks) pay on top of their pages."""
    out = WORK_DIR / "out" / "databases.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    op_times, raw_times = [], []
    for _ in range(repeats):
        run = run_operator("databases", {}, "jsonl", out)
        op_times.append(run.seconds)
        seconds, _, _ = _timed_raw(
            sandbox.url, "/v4/databases", [], sandbox.extra["auth_url"], token, "offset"
        )
        raw_times.append(seconds)
    return min(op_times), min(raw_times)


def report_fixed_cost(report: Report, op_seconds: float, raw_seconds: float) -> None:
    report.add(
        "fixed cost",
        "one whole run on a one-page dataset (databases), operator vs raw",
        f"{op_seconds * 1000:.0f} ms vs {raw_seconds * 1000:.0f} ms",
        note="operator: connection, JWT, request, writer, atomic commit",
    )
