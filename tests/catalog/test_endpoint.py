"""The generic ``endpoint`` dataset: any GET path, offset paging, a declared key, optional
window; path and query injection refused before any request."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from sandbox_requests import refused_before_any_request

from airflow_provider_copernica.engine.extract import prepare
from airflow_provider_copernica.exceptions import CopernicaConfigError
from airflow_provider_copernica.hooks.copernica import CopernicaHook
from airflow_provider_copernica.interval import Window

UTC = timezone.utc
# Four weeks with the 2026-10-25 autumn DST change (sandbox anchor 2026-11-20).
WINDOW = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 29, tzinfo=UTC))


def rows_of(extraction: Any) -> list[dict[str, Any]]:
    return [row for page in extraction.pages() for row in page]


@pytest.fixture
def small_pages(connect: Any, sandbox: Any) -> CopernicaHook:
    """A hook with 100-record pages, so the endpoints below take several pages."""
    conn_id = connect(page_size=100)
    sandbox.requests.clear()
    return CopernicaHook(conn_id)


def test_a_paged_snapshot_endpoint_is_exact_with_inferred_columns(
    sandbox: Any, small_pages: CopernicaHook
) -> None:
    extraction = prepare(small_pages, "endpoint", options={"path": "database/7616/profiles"})
    names = [c.name for c in extraction.columns]
    assert names[0] == "id" and {"fields.country", "fields.age", "modified"} <= set(names)
    rows = rows_of(extraction)
    expected = sorted(int(r["ID"]) for r in sandbox.data.records("profiles", database_id=7616))
    assert sorted(row["id"] for row in rows) == expected and len(expected) > 3 * 100
    calls = list(sandbox.iter_requests("/v4/database/7616/profiles"))
    assert len(calls) == len(expected) // 100 + 1  # the first page is read once, for the columns
    assert all(set(row) == set(names) for row in rows)  # pinned for the run


def test_a_windowed_endpoint_with_declared_columns_equals_the_ground_truth(
    sandbox: Any, small_pages: CopernicaHook
) -> None:
    options = {
        "path": "draganddrop/clicks",
        "key": "id",
        "columns": "id:int mailing:int timestamp:timestamp link",
        "timestamp_field": "timestamp",
        "begin_param": "begintime",
        "end_param": "endtime",
    }
    extraction = prepare(small_pages, "endpoint", options=options, window=WINDOW)
    rows = rows_of(extraction)
    truth = sandbox.data.expected_ids("clicks", WINDOW.start, WINDOW.end, product="draganddrop")
    assert sorted(row["id"] for row in rows) == sorted(int(i) for i in truth)
    assert [c.name for c in extraction.columns] == ["id", "mailing", "timestamp", "link"]
    sent = [r.query for r in sandbox.iter_requests("/v4/draganddrop/clicks")]
    assert len(sent) == len(rows) // 100 + 1 > 1  # local times, the end its last second
    begin, end = "begintime=2026-10-01+02%3A00%3A00", "endtime=2026-10-29+00%3A59%3A59"
    assert all(begin in q and end in q for q in sent)


def test_a_window_style_by_name_filters_with_conditions(
    sandbox: Any, small_pages: CopernicaHook
) -> None:
    options = {"path": "html/clicks", "timestamp_field": "timestamp"}
    options["window_params"] = "fields_timestamp"
    rows = rows_of(prepare(small_pages, "endpoint", options=options, window=WINDOW))
    truth = sandbox.data.expected_ids("clicks", WINDOW.start, WINDOW.end, product="html")
    assert sorted(row["id"] for row in rows) == sorted(int(i) for i in truth)


@pytest.mark.parametrize(
    "path",
    [
        "database/7616/profiles?limit=5",
        "database/7616/profiles&fields[]=id>0",
        "database/../identity",
        "../v3/databases",
        "/databases",
        "database//profiles",
        "database/7616%2F..%2Fidentity",
        "database/7616/profiles#x",
        "v4/databases",
        "databases/",
        " databases",
        7616,
    ],
)
def test_injection_in_the_path_is_refused_before_any_request(
    sandbox: Any, hook: CopernicaHook, fresh_log: None, path: Any
) -> None:
    with pytest.raises(CopernicaConfigError, match="Option 'path' of dataset 'endpoint'"):
        prepare(hook, "endpoint", options={"path": path})
    assert list(sandbox.iter_requests("/v4/")) == []


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({}, "needs option 'path': a GET path relative to the API version"),
        ({"path": "databases", "key": "id&x=1"}, "Option 'key'"),
        ({"path": "databases", "begin_param": "limit", "timestamp_field": "t"}, "begin_param"),
        ({"path": "databases", "window_params": "weekly"}, "valid styles: begintime_endtime"),
        ({"path": "databases", "begin_param": "from"}, "need timestamp_field"),
        ({"path": "databases", "columns": "id:integer"}, "valid types: int"),
        ({"path": "databases", "method": "POST"}, "Unknown option(s) 'method'"),
    ],
)
def test_bad_options_are_refused_naming_the_choices(
    sandbox: Any, hook: CopernicaHook, fresh_log: None, options: dict, needle: str
) -> None:
    refused_before_any_request(
        sandbox, needle, lambda: prepare(hook, "endpoint", options=options, window=WINDOW)
    )


def test_counting_a_client_side_window_pages_instead_of_probing(
    sandbox: Any, small_pages: CopernicaHook
) -> None:
    from airflow_provider_copernica.catalog.datasets import get_dataset
    from airflow_provider_copernica.engine.counting import count_records, probe_request

    options = {"path": "draganddrop/clicks", "timestamp_field": "timestamp"}
    entry = get_dataset("endpoint")
    assert probe_request(entry, options, WINDOW, small_pages.settings) is None  # no bound sent
    truth = sandbox.data.expected_ids("clicks", WINDOW.start, WINDOW.end, product="draganddrop")
    assert count_records(small_pages, "endpoint", options, WINDOW, 10**6) == len(truth)
    windowed = options | {"begin_param": "begintime", "end_param": "endtime"}
    path, params = probe_request(entry, windowed, WINDOW, small_pages.settings)  # type: ignore[misc]
    assert path == "draganddrop/clicks" and ("limit", "1") in params
    assert count_records(small_pages, "endpoint", windowed, WINDOW, 1) == len(truth)


def test_a_list_the_catalog_lacks_is_one_endpoint_away(sandbox: Any, hook: CopernicaHook) -> None:
    # docs/datasets.md's example: a Publisher template's documents
    options = {"path": "html/template/579/documents"}
    rows = rows_of(prepare(hook, "endpoint", options=options))
    documents = sandbox.data.content.documents
    assert [r["id"] for r in rows] == [int(d["id"]) for d in documents if d["template"] == "579"]
    assert rows and all(r["template"] == "579" and r["source"].startswith("<html>") for r in rows)
    assert [r.path for r in sandbox.iter_requests("/v4/")] == ["/v4/html/template/579/documents"]
