"""Requests in flight: the operator at ``max_concurrency`` 1, 2, 4 vs the raw sequential loop.

The sandbox adds a fixed latency to every data request (its ``latency:SECONDS`` fault), as
the live API's few hundred milliseconds per page would: then a sequential loop waits most of
the time, and only requests in flight at once can beat it. Each repetition runs the raw loop
(:mod:`benchmarks.raw`, one connection, one request at a time) and then the operator (JSONL)
at each concurrency, set through the connection's ``max_concurrency`` extra; repetitions
alternate, and each figure is the best run (the machine may be shared). Every run's rows are
checked against the sandbox's ground truth, and its calls, requests in flight (the most the
sandbox served at once) and id-range partitions (distinct ``id<=`` bounds in its log) are
read from the sandbox.

Before in-task concurrency exists, an operator with ``max_concurrency`` > 1 simply behaves
like 1: the peak in flight says which one ran.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from benchmarks.common import WORK_DIR, Report, SandboxProcess, connection_env
from benchmarks.extract_run import count_output, run_operator
from benchmarks.raw import run_raw
from benchmarks.throughput import Case

# (latency, concurrency) -> minimum speed-up over the raw sequential loop (issue 14)
TARGETS: dict[tuple[float, int], float] = {
    (0.05, 1): 0.95,
    (0.05, 4): 3.5,
    (0.2, 4): 3.5,
    (0.2, 8): 6.5,
}


@dataclass
class Run:
    """One timed extraction, with what the sandbox saw of it."""

    seconds: float
    cpu_seconds: float
    rows: int
    api_calls: int  # /v4 requests (billed)
    jwt: int
    peak_in_flight: int
    partitions: int
    load: float  # 1-minute load average when the run ended


@dataclass
class Matrix:
    """All runs of one case at one latency: ``runs["raw"]``, ``runs[1]``, ``runs[4]``..."""

    case: Case
    latency: float
    runs: dict[Any, list[Run]] = field(default_factory=dict)

    def best(self, kind: Any) -> Run:
        return min(self.runs[kind], key=lambda r: r.seconds)

    def speedup(self, concurrency: int) -> float:
        """Best raw sequential time / best operator time at ``concurrency``."""
        return self.best("raw").seconds / self.best(concurrency).seconds

    @property
    def concurrencies(self) -> list[int]:
        return [k for k in self.runs if k != "raw"]

    def minimum_calls(self) -> int:
        """ceil(N/1000) pages + 1 JWT + the dataset's discovery calls (field list)."""
        return math.ceil(self.case.expected / 1000) + 1 + self.case.discovery_calls


def _partitions(log: list[dict[str, Any]]) -> int:
    """Id-range partitions of a keyset listing: distinct upper bounds (``fields[]=id<=X``)
    in the data requests, plus the last, unbounded one; 1 for a sequential walk."""
    bounds = set()
    for entry in log:
        query = entry.get("query") or ""
        pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else query
        for key, value in pairs:
            text = str(value).replace(" ", "")
            if key == "fields[]" and (text.startswith("id<=") or text.startswith("id<")):
                bounds.add(text)
    return len(bounds) + 1


def _observe(sandbox: SandboxProcess, latency: float) -> None:
    sandbox.reset()  # counters, request log and the in-flight peak; faults off
    if latency:
        sandbox.fault(f"latency:{latency}")


def _seen(sandbox: SandboxProcess) -> tuple[int, int, int, int]:
    stats = sandbox.stats()
    log = sandbox.requests(since=0)
    data = [r for r in log if "/v4/" in r["path"]]
    return stats["api_calls"], stats["jwt_exchanges"], sandbox.peak_in_flight(), _partitions(data)


def raw_run(sandbox: SandboxProcess, case: Case, path: str, params: Any, token: str) -> Run:
    start, cpu = time.perf_counter(), time.process_time()
    result = run_raw(
        sandbox.url,
        path,
        params,
        auth_url=sandbox.extra["auth_url"],
        access_token=token,
        paging=case.paging,
    )
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    if result.records != case.expected:
        raise AssertionError(f"raw {case.name}: {result.records} records, truth {case.expected}")
    calls, jwt, peak, _ = _seen(sandbox)
    return Run(seconds, cpu_seconds, result.records, calls, jwt, peak, 1, os.getloadavg()[0])


def operator_run(
    sandbox: SandboxProcess, case: Case, token: str, concurrency: int, file_format: str = "jsonl"
) -> Run:
    out = WORK_DIR / "out" / f"concurrency_{case.name}_{concurrency}.{file_format}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with connection_env(sandbox, token, max_concurrency=concurrency):
        run = run_operator(case.dataset, case.options, file_format, out, case.window)
    rows, file_rows = run.result["rows"], count_output(out, file_format)
    if rows != case.expected or file_rows != case.expected:
        raise AssertionError(
            f"{case.name} at max_concurrency={concurrency}: {rows} rows (file {file_rows}), "
            f"ground truth {case.expected}"
        )
    calls, jwt, peak, partitions = _seen(sandbox)
    return Run(run.seconds, run.cpu_seconds, rows, calls, jwt, peak, partitions, os.getloadavg()[0])


def measure(
    sandbox: SandboxProcess,
    case: Case,
    *,
    path: str,
    params: Any,
    token: str,
    latency: float,
    concurrencies: tuple[int, ...],
    repeats: int,
) -> Matrix:
    """``repeats`` alternating rounds: raw sequential, then the operator at each concurrency."""
    matrix = Matrix(case, latency, {"raw": [], **{c: [] for c in concurrencies}})
    print(
        f"concurrency: {case.name}, {latency * 1000:.0f} ms per request, "
        f"max_concurrency {', '.join(map(str, concurrencies))} vs raw sequential",
        flush=True,
    )
    try:
        for _ in range(repeats):
            _observe(sandbox, latency)
            matrix.runs["raw"].append(raw_run(sandbox, case, path, params, token))
            for concurrency in concurrencies:
                _observe(sandbox, latency)
                matrix.runs[concurrency].append(operator_run(sandbox, case, token, concurrency))
    finally:
        sandbox.reset()
    return matrix


def report_matrix(report: Report, matrix: Matrix) -> None:
    case, ms = matrix.case, f"{matrix.latency * 1000:.0f} ms"
    raw = matrix.best("raw")
    report.add(
        "concurrency",
        f"{case.name} {case.expected:,}, {ms}: raw sequential loop",
        f"{raw.seconds:.2f} s ({case.expected / raw.seconds:,.0f} rec/s)",
    )
    minimum = matrix.minimum_calls()
    for concurrency in matrix.concurrencies:
        best = matrix.best(concurrency)
        speedup = matrix.speedup(concurrency)
        target = TARGETS.get((matrix.latency, concurrency)) if case.name == "profiles" else None
        report.add(
            "concurrency",
            f"{case.name} {case.expected:,}, {ms}: operator, max_concurrency={concurrency}",
            f"{best.seconds:.2f} s, {speedup:.2f}x raw (peak in flight {best.peak_in_flight})",
            f">= {target:.2f}x" if target else "",
            speedup >= target if target else None,
        )
        calls = max(r.api_calls + r.jwt for r in matrix.runs[concurrency])
        partitions = max(r.partitions for r in matrix.runs[concurrency])
        most = max_partitions(case.expected) if case.paging == "keyset" else 1
        report.add(
            "api calls",
            f"{case.name} {case.expected:,}, {ms}, max_concurrency={concurrency}",
            f"{calls} (minimum {minimum}, {partitions} partition(s), at most {most})",
            "= minimum, partitions <= ceil(N / (PARTITION_PAGES x 1000))",
            calls == minimum and partitions <= most,
        )


def max_partitions(records: int, page_size: int = 1000) -> int:
    """The most id-range partitions a keyset listing of ``records`` is cut into at any
    ``max_concurrency`` (``paging.KeysetPartitions``: ``PARTITION_PAGES`` pages each). On
    data that does not change during the run every partition is whole pages and its first
    page is fetched by offset, so partitions add no call: the calls are the minimum, at any
    width. (A record moved during the run can cost its partition one short page more.)"""
    from airflow_provider_copernica.engine.paging import PARTITION_PAGES

    return max(1, math.ceil(records / (PARTITION_PAGES * page_size)))


def markdown(matrices: list[Matrix]) -> list[str]:
    """The side-by-side table: one row per case x latency, one column group per loop."""
    if not matrices:
        return []
    concurrencies = sorted({c for m in matrices for c in m.concurrencies})
    head = ["case", "latency", "raw sequential"] + [f"operator c={c}" for c in concurrencies]
    lines = [
        "## Concurrency: the operator vs the raw sequential loop",
        "",
        "Best run of each; `x` = raw sequential time / operator time (higher is better); "
        "`in flight` = the most data requests the sandbox served at once; `calls` = billed "
        "/v4 requests + JWT exchanges (minimum: one per 1,000 records, one JWT, the field "
        "list); `load` = 1-minute load average when the run ended.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for m in matrices:
        raw = m.best("raw")
        cells = [
            f"{m.case.name} {m.case.expected:,}",
            f"{m.latency * 1000:.0f} ms",
            f"{raw.seconds:.2f} s, {raw.api_calls + raw.jwt} calls, "
            f"{raw.cpu_seconds / m.case.expected * 1e6:.0f} µs CPU/rec, load {raw.load:.1f}",
        ]
        for c in concurrencies:
            if c not in m.runs:
                cells.append("")
                continue
            best = m.best(c)
            cells.append(
                f"{best.seconds:.2f} s, **{m.speedup(c):.2f}x**, in flight {best.peak_in_flight}, "
                f"{best.api_calls + best.jwt} calls (min {m.minimum_calls()}), "
                f"{best.cpu_seconds / m.case.expected * 1e6:.0f} µs CPU/rec, load {best.load:.1f}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def details(matrices: list[Matrix]) -> dict[str, Any]:
    """Every repetition, for the notes."""
    return {
        f"{m.case.name}, {m.latency * 1000:.0f} ms": {
            str(kind): [round(r.seconds, 2) for r in runs] for kind, runs in m.runs.items()
        }
        for m in matrices
    }
