"""Billed calls per daily run of ``emailing_statistics``, before and after issue 12 item 4.

Before: list every emailing sent before the window's end, then ask each one's statistics for
the window (the old ``fan_out`` entry, rebuilt here from the catalog's). After: the
``event_fan_out`` plan, which asks only for the emailings the window's event listings name.
Both run on the same sandbox accounts, and their rows must be equal (and equal the ground
truth): the natural seven-month account, and one with ``emailings=N`` per product over
three years. The calls are counted by the hook and checked against the sandbox's log.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime, timedelta, timezone
from statistics import mean
from typing import Any

from benchmarks.common import Report

HISTORY_EMAILINGS = 2200  # per product, over three years
DAYS = 7  # daily runs measured: the last seven UTC days before the anchor
PRODUCT = "draganddrop"
PAGE = 1000  # records per listing page (the connection's default page_size)
# The six event listings the plan reads (one offset listing each, until a short page).
EVENT_KINDS = ("deliveries", "errors", "impressions", "clicks", "unsubscribes", "abuses")
BOUND = (
    "calls <= event pages + emailings named (per run: sum over the 6 event kinds of "
    "events // 1000 + 1, plus the emailings with events in the window)"
)


def bound(events: dict[str, int], emailings: int) -> int:
    """The most billed calls a daily run of the ``event_fan_out`` plan may make: one call
    per listing page of each event kind (offset paging ends on a short page, so
    ``n // PAGE + 1`` pages), plus one statistics call per emailing the events name."""
    return sum(n // PAGE + 1 for n in events.values()) + emailings


def _old_entry() -> Any:
    """The catalog entry as it was: fan out over every emailing listed up to the window."""
    from airflow_provider_copernica.catalog.datasets import get_dataset
    from airflow_provider_copernica.catalog.window_styles import WindowParams

    entry = get_dataset("emailing_statistics")
    assert entry.fan_out is not None
    fan = dataclasses.replace(
        entry.fan_out, from_events=None, list_window=WindowParams(start=None, end="todate")
    )
    return dataclasses.replace(entry, plan="fan_out", fan_out=fan)


def _run(entry: Any, window: Any) -> tuple[list[int], int]:
    from airflow_provider_copernica.catalog.datasets import validate_options
    from airflow_provider_copernica.engine.extract import Extraction
    from airflow_provider_copernica.hooks.copernica import CopernicaHook

    hook = CopernicaHook()
    options = validate_options(entry, {"product": PRODUCT})
    extraction = Extraction(hook, entry, options, None, (), window, None)
    ids = sorted(row["id"] for page in extraction.pages() for row in page)
    return ids, hook.api_calls


def measure(emailings: int | None) -> dict[str, Any]:
    """Calls per daily run before/after on one account (``emailings=None``: the default)."""
    from airflow_provider_copernica.catalog.datasets import get_dataset
    from airflow_provider_copernica.interval import Window
    from airflow_provider_copernica.sandbox import SandboxServer

    old, new = _old_entry(), get_dataset("emailing_statistics")
    with SandboxServer(profiles=3000, emailings=emailings) as server:
        data = server.data
        os.environ["AIRFLOW_CONN_COPERNICA_DEFAULT"] = json.dumps(server.connection())
        anchor = datetime(data.anchor.year, data.anchor.month, data.anchor.day, tzinfo=timezone.utc)
        before, after, bounds = [], [], []
        for n in range(1, DAYS + 1):
            window = Window(anchor - timedelta(days=n), anchor - timedelta(days=n - 1))
            truth = data.expected_ids("emailing_statistics", window.start, window.end)
            events = {
                kind: len(data.expected_ids(kind, window.start, window.end, product=PRODUCT))
                for kind in EVENT_KINDS
            }
            bounds.append(bound(events, len(truth)))
            for entry, calls in ((old, before), (new, after)):
                server.requests.clear()
                ids, count = _run(entry, window)
                logged = sum(1 for r in server.requests if r.path.startswith("/v4/"))
                assert ids == truth, (entry.plan, window, ids, truth)
                assert count == logged, (count, logged)
                calls.append(count)
        table = data.emailings[PRODUCT]
        first = datetime.fromtimestamp(min(table.ts), tz=timezone.utc).date()
        return {
            "emailings": len(table.ids),
            "since": first.isoformat(),
            "before": before,
            "after": after,
            "bound": bounds,
        }


def run(report: Report, details: dict[str, Any]) -> None:
    print("statistics: emailing_statistics calls per daily run, before/after", flush=True)
    results = {"default": measure(None), "history": measure(HISTORY_EMAILINGS)}
    details["statistics_cost"] = results
    report_results(report, results)


def report_results(report: Report, results: dict[str, dict[str, Any]]) -> None:
    """Two figures per account; the event-listing one is judged run by run against
    :func:`bound`, which does not involve the emailings ever sent."""
    for name, res in results.items():
        account = f"{res['emailings']:,} {PRODUCT} emailings since {res['since']}"
        report.add(
            "statistics",
            f"emailing_statistics calls/daily run, old fan-out ({name}: {account})",
            f"{mean(res['before']):.0f} (max {max(res['before'])})",
        )
        over = [(c, b) for c, b in zip(res["after"], res["bound"], strict=True) if c > b]
        report.add(
            "statistics",
            f"emailing_statistics calls/daily run, event listings ({name}: {account})",
            f"{mean(res['after']):.0f} (max {max(res['after'])}; bound per run "
            f"{', '.join(map(str, res['bound']))})",
            target=BOUND,
            met=not over,
            note=f"runs over the bound (calls, bound): {over}" if over else "",
        )


def markdown(results: dict[str, dict[str, Any]]) -> list[str]:
    """The RESULTS.md table: calls per daily run before and after, and the bound."""
    lines = [
        "| account | before: fan-out over every emailing, mean (max) | after: event listings, "
        "mean (max) | bound per run (max) |",
        "|---|---|---|---|",
    ]
    for name, res in results.items():
        lines.append(
            f"| {name}: {res['emailings']:,} emailings since {res['since']} "
            f"| {mean(res['before']):,.0f} ({max(res['before']):,}) "
            f"| {mean(res['after']):,.0f} ({max(res['after']):,}) | {max(res['bound']):,} |"
        )
    return lines
