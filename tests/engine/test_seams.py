"""The engine's seams: paging styles, request plans and window-parameter styles, each a
registry the catalog names; a new paging style is one class plus one registration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest
from sandbox_requests import DATABASE, calls_to, profile_ids

from airflow_provider_copernica.catalog.datasets import DATASETS
from airflow_provider_copernica.catalog.window_styles import (
    WINDOW_STYLES,
    WindowParams,
    window_filter,
)
from airflow_provider_copernica.engine.paging import (
    PAGINATORS,
    OffsetPaginator,
    get_paginator,
    iter_pages,
    register_paginator,
)
from airflow_provider_copernica.engine.plans import PLANS
from airflow_provider_copernica.hooks.copernica import CopernicaHook
from airflow_provider_copernica.interval import Window

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
UTC = timezone.utc
# The autumn DST change: 2026-10-25 is 25 hours long in Amsterdam.
DST_DAY = Window(datetime(2026, 10, 25, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC))

pytestmark = pytest.mark.usefixtures("fresh_log")


def test_no_name_is_both_a_plan_and_a_paging_style() -> None:
    # a catalog entry names both (Dataset.plan, Dataset.paging): each name means one thing
    assert not set(PLANS) & set(PAGINATORS)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_entry_names_registered_strategies(name: str) -> None:
    entry = DATASETS[name]
    assert entry.plan in PLANS
    assert entry.paging in PAGINATORS
    if entry.fan_out is not None:
        assert entry.plan in ("fan_out", "event_fan_out")
        assert entry.fan_out.list_paging in PAGINATORS
        assert (entry.plan == "event_fan_out") is (entry.fan_out.from_events is not None)
    for product in ("draganddrop", "html") if entry.product else (None,):
        style = entry.window_params_for(product)
        assert style is None or isinstance(style, WindowParams) or style in WINDOW_STYLES


def test_unknown_strategy_names_fail_listing_the_known_ones() -> None:
    with pytest.raises(ValueError, match="offset") as err:
        get_paginator("cursor")
    assert "cursor" in str(err.value)


# -- window parameters: one record per style, one function --------------------------------


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        # local 02:00 CEST .. the last second before 01:00 CET (25 local hours)
        (
            "begintime_endtime",
            [("begintime", "2026-10-25 02:00:00"), ("endtime", "2026-10-26 00:59:59")],
        ),
        (
            "fromdate_todate",
            [("fromdate", "2026-10-25 02:00:00"), ("todate", "2026-10-26 00:59:59")],
        ),
        (
            "fields_modified",
            [
                ("fields[]", "modified>=2026-10-25 02:00:00"),
                ("fields[]", "modified<2026-10-26 01:00:00"),
            ],
        ),
        ("from_to_dates", [("from", "2026-10-25"), ("to", "2026-10-26")]),
        # the one local day that ends in the window
        ("begin_end_dates", [("begin", "2026-10-25"), ("end", "2026-10-25")]),
        (WindowParams(start=None, end="todate"), [("todate", "2026-10-26 00:59:59")]),
    ],
)
def test_window_filter_reads_the_style_record(style: Any, expected: list) -> None:
    assert window_filter(style, DST_DAY, AMSTERDAM) == [expected]


def test_a_fractional_end_rounds_up_to_the_next_second() -> None:
    window = Window(DST_DAY.start, datetime(2026, 10, 25, 10, 0, 0, 250_000, tzinfo=UTC))
    assert window_filter("fields_timestamp", window, AMSTERDAM) == [
        [
            ("fields[]", "timestamp>=2026-10-25 02:00:00"),
            ("fields[]", "timestamp<2026-10-25 11:00:01"),
        ]
    ]
    assert window_filter("begintime_endtime", window, AMSTERDAM)[0][1] == (
        "endtime",
        "2026-10-25 11:00:00",
    )


def test_a_window_without_a_whole_local_day_asks_nothing() -> None:
    hour = Window(datetime(2026, 10, 25, 8, tzinfo=UTC), datetime(2026, 10, 25, 9, tzinfo=UTC))
    assert window_filter("begin_end_dates", hour, AMSTERDAM) == []


def test_only_exact_time_filters_count_exactly() -> None:
    exact = {name for name, spec in WINDOW_STYLES.items() if spec.counts_exactly}
    assert exact == {"begintime_endtime", "fromdate_todate", "fields_timestamp", "fields_modified"}


# -- paging styles ------------------------------------------------------------------------


def test_bare_array_id_lists_page_to_the_ground_truth(
    sandbox: Any, connect: Callable[..., str]
) -> None:
    hook = CopernicaHook(connect(page_size=700))
    path = f"database/{DATABASE}/profileids"
    pages = list(iter_pages(hook, path, paging="id_array"))
    truth = profile_ids(sandbox)
    assert [r["id"] for page in pages for r in page] == truth  # ascending, once each
    # each next page starts on the last id seen (one id of overlap, see IdArrayPaginator)
    assert [len(p) for p in pages[1:-1]] == [699] * (len(pages) - 2) and len(pages[0]) == 700
    requests = calls_to(sandbox, path)
    starts = [dict(parse_qsl(r.query))["start"] for r in requests]
    assert starts == [str(699 * n) for n in range(len(requests))]
    assert hook.api_calls == len(requests) == (len(truth) - 1) // 699 + 1


def test_a_new_paging_style_is_one_class_and_one_registration(
    sandbox: Any, connect: Callable[..., str]
) -> None:
    @register_paginator("test_offset_from_end")
    class FromEnd(OffsetPaginator):
        """Offset pages, newest first: only the request differs from offset paging."""

        def init_request(self, base: list[tuple[str, str]]) -> list[tuple[str, str]]:
            return [*super().init_request(base), ("orderby", "id"), ("order", "desc")]

        update_request = init_request

    try:
        hook = CopernicaHook(connect(page_size=1000))
        path = f"database/{DATABASE}/profiles"
        ids = [
            int(r["ID"])
            for page in iter_pages(hook, path, paging="test_offset_from_end")
            for r in page
        ]
        assert ids == sorted(profile_ids(sandbox), reverse=True)
        assert all(("order", "desc") in parse_qsl(r.query) for r in calls_to(sandbox, path))
    finally:
        del PAGINATORS["test_offset_from_end"]


# -- request plans ------------------------------------------------------------------------


def test_fan_out_plan_lists_the_window_then_asks_each_item(sandbox: Any, conn: str) -> None:
    from airflow_provider_copernica.engine.extract import prepare

    hook = CopernicaHook(conn)
    assert hook.settings.tz == AMSTERDAM
    extraction = prepare(hook, "emailing_lifetime_statistics", window=DST_DAY)
    rows = [row for page in extraction.pages() for row in page]
    assert rows  # the sandbox sends emailings in the repeated autumn hour
    lists = calls_to(sandbox, "draganddrop/emailings")
    assert lists and all(("todate", "2026-10-26 00:59:59") in parse_qsl(r.query) for r in lists)
    assert all(("fromdate", "2026-10-25 02:00:00") in parse_qsl(r.query) for r in lists)
    items = [r for r in sandbox.requests if r.path.endswith("/statistics")]
    assert len(items) == hook.api_calls - len(lists) == len(rows)
    assert all(not parse_qsl(r.query) for r in items)  # item_window=False: as of the run


def test_event_fan_out_plan_asks_only_the_items_its_event_listings_name(
    sandbox: Any, conn: str
) -> None:
    from airflow_provider_copernica.engine.extract import prepare

    hook = CopernicaHook(conn)
    extraction = prepare(hook, "emailing_statistics", window=DST_DAY)
    rows = [row for page in extraction.pages() for row in page]
    assert rows
    events = ("deliveries", "errors", "impressions", "clicks", "unsubscribes", "abuses")
    listings = [r for r in sandbox.requests if r.path.rsplit("/", 1)[-1] in events]
    assert sorted({r.path.rsplit("/", 1)[-1] for r in listings}) == sorted(events)
    assert not calls_to(sandbox, "draganddrop/emailings")  # no list of every emailing
    items = [r for r in sandbox.requests if r.path.endswith("/statistics")]
    assert len(items) == hook.api_calls - len(listings) == len(rows)
    for request in [*listings, *items]:
        query = parse_qsl(request.query)
        assert ("begintime", "2026-10-25 02:00:00") in query
        assert ("endtime", "2026-10-26 00:59:59") in query
