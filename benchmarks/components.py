"""Per-record cost of each stage of an extraction, measured on real sandbox pages.

HTTP stages are wall-clock time (they wait for the sandbox); the others are CPU time.

The operator's client-side work per page is: HTTP GET (hook), JSON decoding, row conversion
(flatten, types, timestamps, window check), encoding + writing. Each stage is timed alone on
the same pages of profiles (no profiler overhead), in microseconds per record, so the gap
between the operator and the raw loop can be attributed. Every stage is timed as the
operator runs it: with the collector held (an open writer, see collector.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import requests

from benchmarks.common import WORK_DIR, Report
from benchmarks.extract_run import WINDOW
from benchmarks.raw import fetch_jwt

PAGES = 20


def _per_record(
    fn: Callable[[], Any],
    records: int,
    repeats: int = 3,
    clock: Callable[[], float] = time.process_time,
) -> float:
    """Best of ``repeats``, in µs per record. CPU time by default: on a shared machine it is
    what the stage costs, not how long the scheduler let it wait."""
    from airflow_provider_copernica.output.collector import CollectorHold

    best = float("inf")
    for _ in range(repeats):
        with CollectorHold():
            start = clock()
            fn()
            best = min(best, clock() - start)
    return best / records * 1e6


def measure(
    url: str,
    auth_url: str,
    token: str,
    path: str,
    params: list[tuple[str, str]],
    options: dict[str, Any],
) -> dict[str, float]:
    from airflow_provider_copernica.engine.extract import prepare
    from airflow_provider_copernica.engine.records import RowPlan
    from airflow_provider_copernica.hooks.copernica import CopernicaHook
    from airflow_provider_copernica.interval import Window
    from airflow_provider_copernica.output.writers import open_writer

    # PAGES consecutive keyset pages, as raw bytes
    bodies: list[bytes] = []
    queries: list[list[tuple[str, str]]] = []
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {fetch_jwt(session, auth_url, token)}"
        last = 0
        for _ in range(PAGES):
            query = [*params, ("orderby", "id"), ("order", "asc"), ("fields[]", f"id>{last}")]
            query += [("limit", "1000"), ("total", "false")]
            response = session.get(f"{url}{path}", params=query, timeout=60)
            response.raise_for_status()
            bodies.append(response.content)
            queries.append(query)
            data = orjson.loads(response.content)["data"]
            last = int(data[-1]["ID"])
        pages = [orjson.loads(b)["data"] for b in bodies]
        records = sum(len(p) for p in pages)

        def raw_get() -> None:
            for query in queries:
                session.get(f"{url}{path}", params=query, timeout=60).content  # noqa: B018

        wall = time.perf_counter
        costs = {"HTTP GET, raw requests.Session (wall)": _per_record(raw_get, records, clock=wall)}

    hook = CopernicaHook()
    api_path = path.split("/v4/", 1)[1]
    window = Window(*WINDOW)
    extraction = prepare(hook, "profiles", options=options, window=window)
    columns = extraction.columns
    tz = hook.settings.tz

    def hook_get() -> None:
        for query in queries:
            hook.get(api_path, query)

    def decode() -> None:
        for body in bodies:
            orjson.loads(body)

    def convert() -> list[list[dict[str, Any]]]:
        # a new plan per run: an extraction starts with a cold timestamp cache
        plan = RowPlan(
            columns, tz=tz, window=(window.start, window.end), timestamp_field="modified"
        )
        return [plan.rows(page) for page in pages]

    rows = convert()
    assert sum(len(r) for r in rows) == records, "row conversion dropped records"

    def writer(file_format: str) -> Callable[[], None]:
        def write() -> None:
            out = WORK_DIR / "out" / f"components.{file_format}"
            with open_writer(out.resolve().as_uri(), file_format, columns) as w:
                for page in rows:
                    w.write(page)
                w.commit()

        return write

    def timestamps() -> None:
        # the conversion of created + modified alone, cold cache, as the plan does it
        plan = RowPlan(columns, tz=tz)
        convert_time = plan.convert_time
        for page in pages:
            for record in page:
                convert_time(record["created"])
                convert_time(record["modified"])

    costs["HTTP GET + decode, CopernicaHook.get (wall)"] = _per_record(
        hook_get, records, clock=wall
    )
    costs["JSON decode (orjson)"] = _per_record(decode, records)
    costs["row conversion (RowPlan.rows, cold cache)"] = _per_record(convert, records)
    costs["  of which: created+modified timestamps"] = _per_record(timestamps, records)
    costs["write JSONL (open_writer, commit)"] = _per_record(writer("jsonl"), records)
    costs["write Parquet (open_writer, commit)"] = _per_record(writer("parquet"), records)
    return costs


def report_costs(report: Report, costs: dict[str, float]) -> None:
    for name, micros in costs.items():
        report.add("per record", name, f"{micros:.1f} µs")
