"""Late-changing statistics (issue 12, items 3-4): ``emailing_lifetime_statistics`` and the
history-independent cost of ``emailing_statistics``, against the sandbox's ground truth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import pytest

from airflow_provider_copernica.engine.extract import prepare
from airflow_provider_copernica.hooks.copernica import CopernicaHook
from airflow_provider_copernica.interval import Window
from airflow_provider_copernica.sandbox import SandboxServer

UTC = timezone.utc
WINDOW = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 29, tzinfo=UTC))
METRICS = ("deliveries", "errors", "impressions", "clicks", "unsubscribes", "abuses")
HISTORY_EMAILINGS = 2200  # per product, over three years
SANDBOX_ANCHOR, SANDBOX_SEED = date(2026, 11, 20), 7  # as the session sandbox (conftest.py)


def rows_of(extraction: Any) -> list[dict[str, Any]]:
    return [row for page in extraction.pages() for row in page]


def assert_metrics(row: dict[str, Any], stats: dict[str, Any]) -> None:
    assert row["destinations"] == int(stats["destinations"])
    for kind in METRICS:
        assert row[f"{kind}.total"] == stats[kind]["total"], (row["id"], kind)
        if "unique" in stats[kind]:
            assert row[f"{kind}.unique"] == stats[kind]["unique"], (row["id"], kind)


def statistics_requests(sandbox: SandboxServer) -> list[Any]:
    return [r for r in sandbox.iter_requests("/v4/") if r.path.endswith("/statistics")]


# -- emailing_lifetime_statistics ----------------------------------------------------------


@pytest.mark.parametrize("product", ["draganddrop", "html"])
def test_lifetime_statistics_are_the_emailings_sent_in_the_window_with_all_their_events(
    sandbox: SandboxServer, hook: CopernicaHook, product: str
) -> None:
    sandbox.requests.clear()
    options = {"product": product}
    extraction = prepare(hook, "emailing_lifetime_statistics", options=options, window=WINDOW)
    rows = rows_of(extraction)

    sent = sandbox.data.expected_ids("emailings", WINDOW.start, WINDOW.end, product=product)
    assert sorted(row["id"] for row in rows) == sorted(int(i) for i in sent) and rows
    truth = sandbox.data.expected_lifetime_statistics(WINDOW.start, WINDOW.end, product=product)
    for row in rows:
        assert_metrics(row, truth[row["id"]])
        assert WINDOW.start.isoformat() <= row["timestamp"] < WINDOW.end.isoformat()
    # as of the run: no begintime/endtime on the statistics requests
    asked = statistics_requests(sandbox)
    assert len(asked) == len(rows)
    assert all(not parse_qsl(r.query) for r in asked), asked[0].query
    # lifetime: the events after the interval count too (here: after the sending's hour)
    last = max(rows, key=lambda row: row["timestamp"])
    sent = datetime.fromisoformat(last["timestamp"])
    hour = sandbox.data.expected_statistics(sent, sent + timedelta(hours=1), product=product)

    def events(stats: dict[str, Any]) -> int:
        return sum(stats[kind]["total"] for kind in METRICS)

    assert events(truth[last["id"]]) > events(hour[last["id"]])


def test_lifetime_statistics_change_when_a_late_event_arrives(
    sandbox: SandboxServer, hook: CopernicaHook
) -> None:
    clicks = sandbox.data.events[("draganddrop", "clicks")]
    mailing = clicks.columns["mailing"][-1]  # add_records copies the last click
    mails = sandbox.data.emailings["draganddrop"]
    sent = datetime.fromtimestamp(mails.ts[mails.index_of(mailing)], UTC)
    day = Window(sent - timedelta(hours=1), sent + timedelta(hours=1))

    def clicks_total() -> int:
        rows = rows_of(prepare(hook, "emailing_lifetime_statistics", window=day))
        return next(row["clicks.total"] for row in rows if row["id"] == mailing)

    before = clicks_total()
    sandbox.data.add_records("clicks", [datetime(2026, 11, 19, 12, tzinfo=UTC)])
    assert clicks_total() == before + 1


# -- emailing_statistics: calls independent of the account's history -------------------------


@pytest.fixture(scope="module")
def history_sandbox() -> Iterator[SandboxServer]:
    """An account with 2,200 emailings per product over three years (small sendings)."""
    server = SandboxServer(
        profiles=3000, seed=SANDBOX_SEED, anchor=SANDBOX_ANCHOR, emailings=HISTORY_EMAILINGS
    ).start()
    yield server
    server.stop()


def daily_windows() -> list[Window]:
    last = datetime(SANDBOX_ANCHOR.year, SANDBOX_ANCHOR.month, SANDBOX_ANCHOR.day, tzinfo=UTC)
    return [Window(last - timedelta(days=n + 1), last - timedelta(days=n)) for n in (1, 2, 40)]


@pytest.mark.parametrize("product", ["draganddrop", "html"])
def test_emailing_statistics_calls_follow_the_window_not_the_history(
    history_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, product: str
) -> None:
    data = history_sandbox.data
    assert len(data.emailings[product].ids) >= 2000
    monkeypatch.setenv("AIRFLOW_CONN_COPERNICA_DEFAULT", json.dumps(history_sandbox.connection()))
    for window in daily_windows():
        history_sandbox.requests.clear()
        hook = CopernicaHook()
        rows = rows_of(
            prepare(hook, "emailing_statistics", options={"product": product}, window=window)
        )
        expected = data.expected_ids(
            "emailing_statistics", window.start, window.end, **{"product": product}
        )
        assert sorted(row["id"] for row in rows) == expected
        truth = data.expected_statistics(window.start, window.end, product=product)
        for row in rows:
            assert_metrics(row, truth[row["id"]])
        # statistics are asked only for the emailings active in the window; the rest are
        # the window's event listings (one page each here)
        asked = statistics_requests(history_sandbox)
        assert sorted(int(r.path.split("/")[-2]) for r in asked) == expected
        listings = [r for r in history_sandbox.iter_requests("/v4/") if r not in asked]
        assert {r.path.split("/")[-1] for r in listings} == set(METRICS)
        assert hook.api_calls == len(asked) + len(listings) < 40


def test_emailing_statistics_still_equal_the_ground_truth_on_the_default_account(
    sandbox: SandboxServer, hook: CopernicaHook
) -> None:
    for product in ("draganddrop", "html"):
        rows = rows_of(
            prepare(hook, "emailing_statistics", options={"product": product}, window=WINDOW)
        )
        expected = sandbox.data.expected_ids(
            "emailing_statistics", WINDOW.start, WINDOW.end, product=product
        )
        assert sorted(row["id"] for row in rows) == expected and rows
        truth = sandbox.data.expected_statistics(WINDOW.start, WINDOW.end, product=product)
        for row in rows:
            assert_metrics(row, truth[row["id"]])


def test_a_preview_of_a_long_window_reads_only_what_it_shows(
    history_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_copernica.engine.preview import preview_rows

    monkeypatch.setenv("AIRFLOW_CONN_COPERNICA_DEFAULT", json.dumps(history_sandbox.connection()))
    history_sandbox.requests.clear()
    hook = CopernicaHook()
    shown = preview_rows(
        hook, "emailing_statistics", date_from="2024-01-01", date_to="2026-11-20", limit=2
    )
    assert len(shown.rows) == 2
    asked = statistics_requests(history_sandbox)
    assert len(asked) == 2  # not one per emailing of the three years
    assert hook.api_calls == len(asked) + 1  # the first page of the window's deliveries
