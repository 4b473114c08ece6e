"""The engine's paging of a listing through the hook (offset and keyset), against the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest
from sandbox_requests import DATABASE, PROFILES, calls_to, profile_ids

from airflow_provider_copernica.engine.paging import iter_pages, iter_records
from airflow_provider_copernica.hooks.copernica import CopernicaHook

pytestmark = pytest.mark.usefixtures("fresh_log")


def test_offset_paging_returns_exactly_the_profiles(
    sandbox: Any, connect: Callable[..., str]
) -> None:
    truth = profile_ids(sandbox)
    assert len(truth) >= 2500
    hook = CopernicaHook(connect(page_size=700))
    pages = list(iter_pages(hook, PROFILES))
    assert [len(p) for p in pages[:-1]] == [700] * (len(pages) - 1)
    assert sorted(int(r["ID"]) for page in pages for r in page) == truth
    expected_calls = -(-len(truth) // 700)
    assert hook.api_calls == expected_calls
    starts = [dict(parse_qsl(r.query))["start"] for r in calls_to(sandbox, PROFILES)]
    assert starts == [str(700 * i) for i in range(expected_calls)]


def test_offset_paging_without_total_stops_on_a_short_page(
    sandbox: Any, connect: Callable[..., str]
) -> None:
    hook = CopernicaHook(connect(page_size=1000))
    ids = [int(r["ID"]) for r in iter_records(hook, PROFILES, {"total": False})]
    assert sorted(ids) == profile_ids(sandbox)
    assert all(dict(parse_qsl(r.query))["total"] == "false" for r in calls_to(sandbox, PROFILES))


def test_keyset_paging_returns_exactly_the_profiles(
    sandbox: Any, connect: Callable[..., str]
) -> None:
    hook = CopernicaHook(connect(page_size=1000))
    ids = [int(r["ID"]) for r in iter_records(hook, PROFILES, paging="keyset")]
    assert ids == profile_ids(sandbox)  # ascending, no gap, no repeat
    queries = [parse_qsl(r.query) for r in calls_to(sandbox, PROFILES)]
    assert ("orderby", "id") in queries[0] and ("total", "true") in queries[0]
    assert ("fields[]", f"id>{ids[999]}") in queries[1]
    # the first page counted the records: the page expected last asks again, and is last
    assert len(queries) == -(-len(ids) // 1000)
    assert [("total", "false") in q for q in queries[1:-1]] == [True] * (len(queries) - 2)
    assert ("total", "true") in queries[-1]


def test_keyset_paging_keeps_the_callers_filters(sandbox: Any, connect: Callable[..., str]) -> None:
    truth = profile_ids(sandbox)
    low = truth[len(truth) // 2]
    hook = CopernicaHook(connect(page_size=400))
    ids = [
        int(r["ID"])
        for r in iter_records(hook, PROFILES, [("fields[]", f"id>={low}")], paging="keyset")
    ]
    assert ids == [i for i in truth if i >= low]
    for request in calls_to(sandbox, PROFILES):
        assert ("fields[]", f"id>={low}") in parse_qsl(request.query)


def test_keyset_paging_is_exact_while_records_change(
    sandbox: Any, connect: Callable[..., str]
) -> None:
    hook = CopernicaHook(connect(page_size=500))
    sandbox.faults.set("churn")
    ids = [int(r["ID"]) for r in iter_records(hook, PROFILES, paging="keyset")]
    assert len(ids) == len(set(ids)), "a record was returned twice"
    assert ids == profile_ids(sandbox), "keyset paging skipped or kept a record"
    assert hook.api_calls >= 6  # the churn happened between several pages


def test_keyset_paging_survives_a_delete_behind_the_cursor(
    sandbox: Any, connect: Callable[..., str]
) -> None:
    truth = profile_ids(sandbox)
    hook = CopernicaHook(connect(page_size=500))

    def read(pages: Any) -> list[int]:
        ids: list[int] = []
        for number, page in enumerate(pages):
            ids += [int(r["ID"]) for r in page]
            if number == 0:  # another writer removes a record we already read
                sandbox.data.delete_record("profiles", ids[0], database_id=DATABASE)
        return ids

    assert read(iter_pages(hook, PROFILES, paging="keyset")) == truth
    sandbox.reset()
    # The same change under offset paging shifts every later record one place forward, so a
    # live record is silently skipped: the reason keyset paging exists.
    offset_ids = read(iter_pages(hook, PROFILES))
    assert len(offset_ids) == len(truth) - 1 and truth[500] not in offset_ids
