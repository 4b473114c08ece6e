"""The engine against the sandbox over HTTP: ids equal the sandbox's ground truth."""

from __future__ import annotations

import math
import threading
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_copernica.catalog.datasets import DATASETS, get_dataset
from airflow_provider_copernica.engine.counting import probe_request
from airflow_provider_copernica.engine.extract import prepare
from airflow_provider_copernica.exceptions import CopernicaConfigError, CopernicaRetryError
from airflow_provider_copernica.hooks.copernica import CopernicaHook
from airflow_provider_copernica.interval import Window

UTC = timezone.utc
# Four weeks that contain the 2026-10-25 autumn DST change (sandbox anchor 2026-11-20).
WINDOW = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 29, tzinfo=UTC))
# The Europe/Amsterdam days 2026-10-24 and 2026-10-25 (25 hours: the clocks went back).
DAY_BEFORE = Window(datetime(2026, 10, 23, 22, tzinfo=UTC), datetime(2026, 10, 24, 22, tzinfo=UTC))
DST_DAY = Window(datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC))

CASES: list[tuple[str, dict[str, Any]]] = [
    ("databases", {}),
    ("database_fields", {"database_id": 7616}),
    ("collections", {"database_id": 7616}),
    ("profiles", {"database_id": 7616}),
    ("profiles", {"database_id": 7617}),
    ("subprofiles", {"collection_id": 6312}),
    ("consumption", {}),
    # selections (nested views, miniviews) and their members
    ("views", {"database_id": 7616}),
    ("views", {"database_id": 7617}),
    ("miniviews", {"collection_id": 6312}),
    ("view_profiles", {"view_id": 4184}),
    ("view_profiles", {"view_id": 4187}),
    ("view_profile_ids", {"view_id": 4185}),
    ("miniview_subprofiles", {"miniview_id": 1525}),
    ("miniview_subprofiles", {"miniview_id": 1530}),
    ("interests", {"database_id": 7616}),
    ("coupon_campaigns", {}),
    ("coupons", {"couponcampaign_id": 1}),
    ("coupons", {"couponcampaign_id": 2}),
    # options that become API parameters
    ("emailings", {"product": "draganddrop", "status": "sent"}),
    ("emailings", {"product": "draganddrop", "status": "draft"}),
    ("emailings", {"product": "html", "test": "no"}),
    ("emailings", {"product": "html", "test": "yes"}),
    ("clicks", {"product": "draganddrop", "unique": True}),
    ("unsubscribes", {"product": "draganddrop", "unique": "true"}),
]
for _name, _entry in DATASETS.items():
    if _entry.product and not _entry.required_options:  # logfile_events: see test_logfiles.py
        CASES += [(_name, {"product": product}) for product in _entry.products]


def rows_of(extraction: Any) -> list[dict[str, Any]]:
    return [row for page in extraction.pages() for row in page]


def expected(sandbox: Any, dataset: str, window: Window, options: dict[str, Any]) -> list[Any]:
    ids = sandbox.data.expected_ids(dataset, window.start, window.end, **options)
    return sorted(ids if dataset == "consumption" else (int(i) for i in ids))


def data_requests(sandbox: Any, exclude: str = "/fields") -> list[Any]:
    """/v4 requests other than field-list (discovery) calls."""
    return [r for r in sandbox.iter_requests("/v4/") if not r.path.endswith(exclude)]


@pytest.mark.parametrize(("dataset", "options"), CASES, ids=lambda v: str(v))
def test_every_dataset_matches_the_ground_truth(
    sandbox: Any, hook: CopernicaHook, dataset: str, options: dict[str, Any]
) -> None:
    extraction = prepare(hook, dataset, options=options, window=WINDOW)
    rows = rows_of(extraction)
    key = extraction.dataset.key
    assert sorted(row[key] for row in rows) == expected(sandbox, dataset, WINDOW, options)
    assert [c.name for c in extraction.columns][0] == key
    assert all(set(row) == {c.name for c in extraction.columns} for row in rows)


@pytest.mark.parametrize(
    ("dataset", "options"),
    [
        ("profiles", {"database_id": 7616}),
        ("clicks", {"product": "draganddrop"}),
        ("clicks", {"product": "html"}),
        ("deliveries", {"product": "html"}),
        ("emailings", {"product": "draganddrop"}),
        ("destinations", {"product": "draganddrop"}),
        ("consumption", {}),
    ],
)
def test_consecutive_days_around_the_dst_change_are_disjoint_and_exact(
    sandbox: Any, hook: CopernicaHook, dataset: str, options: dict[str, Any]
) -> None:
    key = get_dataset(dataset).key
    before = [r[key] for r in rows_of(prepare(hook, dataset, options=options, window=DAY_BEFORE))]
    after = [r[key] for r in rows_of(prepare(hook, dataset, options=options, window=DST_DAY))]
    assert not set(before) & set(after)
    both = Window(DAY_BEFORE.start, DST_DAY.end)
    assert sorted(before + after) == expected(sandbox, dataset, both, options)
    assert after  # the sandbox pins records on the DST day


def test_repeated_hour_records_are_converted_to_utc(sandbox: Any, hook: CopernicaHook) -> None:
    ambiguous = set(sandbox.data.ambiguous_ids("profiles", database_id=7616))
    rows = rows_of(prepare(hook, "profiles", options={"database_id": 7616}, window=DST_DAY))
    stamps = {row["modified"] for row in rows if row["id"] in ambiguous}
    assert ambiguous and stamps
    # first-occurrence rule: naive 02:xx on 2026-10-25 is 00:xx UTC
    assert all(s.startswith("2026-10-25T00:") and s.endswith("+00:00") for s in stamps)


def test_emailing_statistics_metrics_equal_the_ground_truth(
    sandbox: Any, hook: CopernicaHook
) -> None:
    truth = sandbox.data.expected_statistics(WINDOW.start, WINDOW.end, product="html")
    rows = rows_of(prepare(hook, "emailing_statistics", options={"product": "html"}, window=WINDOW))
    assert rows
    for row in rows:
        stats = truth[row["id"]]
        assert row["clicks.total"] == stats["clicks"]["total"]
        assert row["clicks.unique"] == stats["clicks"]["unique"]
        assert row["deliveries.total"] == stats["deliveries"]["total"]
        assert row["impressions.unique"] == stats["impressions"]["unique"]


def test_profiles_have_the_database_fields_and_typed_values(hook: CopernicaHook) -> None:
    extraction = prepare(hook, "profiles", options={"database_id": 7616}, window=DST_DAY)
    types = {c.name: c.type for c in extraction.columns}
    assert types["fields.email"] == "str"
    assert types["fields.age"] == "int"
    assert types["fields.score"] == "float"
    assert types["interests"] == "list"
    row = rows_of(extraction)[0]
    assert isinstance(row["id"], int) and isinstance(row["fields.age"], (int, type(None)))
    assert row["modified"].endswith("+00:00")


def test_fields_select_columns_and_keep_id(hook: CopernicaHook) -> None:
    extraction = prepare(
        hook,
        "profiles",
        options={"database_id": 7616},
        fields=["fields.email", "modified"],
        metadata=["_dataset", "_interval_start", "_run_id"],
        window=DST_DAY,
        run_id="manual__1",
    )
    names = [c.name for c in extraction.columns]
    assert names == ["id", "fields.email", "modified", "_dataset", "_interval_start", "_run_id"]
    row = rows_of(extraction)[0]
    assert list(row) == names
    assert row["_dataset"] == "profiles"
    assert row["_interval_start"] == "2026-10-24T22:00:00+00:00"
    assert row["_run_id"] == "manual__1"


def test_full_profile_scan_uses_the_minimum_number_of_calls(
    sandbox: Any, hook: CopernicaHook
) -> None:
    window = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))
    rows = rows_of(prepare(hook, "profiles", options={"database_id": 7616}, window=window))
    n = len(rows)
    assert n == len(expected(sandbox, "profiles", window, {"database_id": 7616}))
    pages = math.ceil(n / 1000)  # no empty page after the last: the first page counts
    assert hook.api_calls == pages + 1  # + the field-list call
    assert hook.auth_calls == 1
    assert sandbox.stats.api_calls == hook.api_calls
    queries = [r.query for r in data_requests(sandbox)]
    assert "total=true" in queries[0]


def test_no_empty_page_after_the_last_at_max_concurrency_1(
    sandbox: Any, hook: CopernicaHook
) -> None:
    # N an exact multiple of the page size: a keyset walk that stopped only on a short page
    # would ask for one more, empty page; the count on the first page says when to stop.
    window = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))
    n = len(expected(sandbox, "profiles", window, {"database_id": 7616}))
    pages = next(d for d in range(3, 40) if n % d == 0)
    sequential = CopernicaHook(
        settings=replace(hook.settings, page_size=n // pages, max_concurrency=1)
    )
    sandbox.requests.clear()
    rows = rows_of(prepare(sequential, "profiles", options={"database_id": 7616}, window=window))
    assert len(rows) == n
    listings = [r for r in data_requests(sandbox) if r.path.endswith("/profiles")]
    assert len(listings) == pages
    assert sequential.api_calls == pages + 1  # + the field-list call


def test_legacy_paths_are_honoured(sandbox: Any, hook: CopernicaHook) -> None:
    legacy = CopernicaHook(settings=replace(hook.settings, legacy_paths=True))
    rows = rows_of(prepare(legacy, "clicks", options={"product": "html"}, window=DST_DAY))
    assert sorted(r["id"] for r in rows) == expected(
        sandbox, "clicks", DST_DAY, {"product": "html"}
    )
    assert [r.path for r in data_requests(sandbox)] == ["/v4/publisher/clicks"]


@pytest.mark.parametrize(
    ("dataset", "options"),
    [
        ("profiles", {"database_id": 7616}),
        ("clicks", {"product": "draganddrop"}),
        ("clicks", {"product": "html"}),
        ("emailings", {"product": "html"}),
    ],
)
def test_probe_request_counts_the_window(
    sandbox: Any, hook: CopernicaHook, dataset: str, options: dict[str, Any]
) -> None:
    probe = probe_request(get_dataset(dataset), options, DST_DAY, hook.settings)
    assert probe is not None
    path, params = probe
    assert ("limit", "1") in params
    assert hook.get(path, params)["total"] == len(expected(sandbox, dataset, DST_DAY, options))


def test_probe_request_is_none_without_a_count_request(hook: CopernicaHook) -> None:
    for name in ("emailing_statistics", "consumption", "destinations"):
        assert probe_request(get_dataset(name), {}, DST_DAY, hook.settings) is None


def test_producer_errors_reach_the_consumer(sandbox: Any, hook: CopernicaHook) -> None:
    sandbox.faults.set("outage_after:1")
    extraction = prepare(hook, "profiles", options={"database_id": 7616}, window=WINDOW)
    with pytest.raises(CopernicaRetryError):
        rows_of(extraction)


def test_stopping_early_stops_the_prefetch_thread(sandbox: Any, hook: CopernicaHook) -> None:
    window = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))
    pages = prepare(hook, "profiles", options={"database_id": 7616}, window=window).pages()
    first = next(pages)
    assert len(first) == 1000
    assert [t for t in threading.enumerate() if t.name == "copernica-prefetch"]
    pages.close()
    assert not [t for t in threading.enumerate() if t.name == "copernica-prefetch"]


BAD_INPUT: list[tuple[str, dict[str, Any], str]] = [
    ("clickz", {}, "valid datasets: abuses, clicks"),
    ("profiles", {}, "needs option 'database_id'"),
    ("profiles", {"database_id": "1/../databases"}, "must be a positive integer"),
    ("profiles", {"database_id": "1&limit=5"}, "must be a positive integer"),
    ("profiles", {"database_id": -3}, "must be a positive integer"),
    ("profiles", {"database_id": True}, "must be a positive integer"),
    ("subprofiles", {"collection_id": "abc"}, "must be a positive integer"),
    ("clicks", {"product": "sms"}, "valid products: draganddrop, html"),
    ("clicks", {"database_id": 1}, "valid options: product"),
    ("databases", {"product": "html"}, "this dataset takes no options"),
    ("emailings", {"status": "bounced"}, "must be one of sent, draft, scheduled, all"),
    ("emailings", {"product": "html", "status": "sent"}, "applies to product draganddrop only"),
    ("emailings", {"test": "maybe", "product": "html"}, "must be one of yes, no, both"),
    ("emailings", {"test": "yes"}, "applies to product html only"),
    ("emailings", {"with_name": "yes"}, "must be one of true, false"),
    ("clicks", {"unique": 1}, "must be one of true, false"),
    ("unsubscribes", {"product": "html", "unique": True}, "applies to product draganddrop"),
    ("documents", {"product": "draganddrop"}, "valid products: html"),
    ("template_statistics", {"product": "html"}, "valid products: draganddrop"),
    ("view_profiles", {"view_id": "4184/../../databases"}, "must be a positive integer"),
    ("coupons", {}, "needs option 'couponcampaign_id'"),
]


@pytest.mark.parametrize(("dataset", "options", "message"), BAD_INPUT)
def test_bad_input_fails_before_any_request(
    sandbox: Any, hook: CopernicaHook, dataset: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(CopernicaConfigError, match=message.replace("(", r"\(")):
        prepare(hook, dataset, options=options, window=WINDOW)
    assert list(sandbox.iter_requests("/v4/")) == []


def test_unknown_field_lists_the_columns_after_only_the_field_list_call(
    sandbox: Any, hook: CopernicaHook
) -> None:
    with pytest.raises(CopernicaConfigError) as err:
        prepare(hook, "profiles", options={"database_id": 7616}, fields=["email"], window=WINDOW)
    assert "Unknown field(s) 'email'" in str(err.value)
    assert "fields.email" in str(err.value) and "modified" in str(err.value)
    assert [r.path for r in sandbox.iter_requests("/v4/")] == ["/v4/database/7616/fields"]


def test_unknown_static_field_and_metadata_fail_without_any_request(
    sandbox: Any, hook: CopernicaHook
) -> None:
    with pytest.raises(CopernicaConfigError, match="available columns: id, mailing"):
        prepare(hook, "clicks", fields=["nope"], window=WINDOW)
    with pytest.raises(CopernicaConfigError, match="valid metadata columns: _extracted_at"):
        prepare(hook, "clicks", metadata=["_loaded_at"], window=WINDOW)
    with pytest.raises(CopernicaConfigError, match="give a window"):
        prepare(hook, "clicks")
    assert list(sandbox.iter_requests("/v4/")) == []


@pytest.mark.parametrize("product", ["draganddrop", "html"])
def test_emailing_enrichments_cost_one_call_per_emailing_and_option(
    sandbox: Any, hook: CopernicaHook, product: str
) -> None:
    options = {"product": product, "with_name": True, "with_hyperlinkextensions": "true"}
    extraction = prepare(hook, "emailings", options=options, window=DST_DAY)
    rows = rows_of(extraction)
    assert sorted(r["id"] for r in rows) == expected(sandbox, "emailings", DST_DAY, options)
    assert rows and hook.api_calls == 1 + 2 * len(rows)
    for row in rows:
        assert row["name"] == sandbox.data.content.emailing_name(product, row["id"])
        assert row["hyperlinkextensions"] == sandbox.data.content.hyperlink_extensions(
            product, row["id"]
        ).get("data", sandbox.data.content.hyperlink_extensions(product, row["id"]))
    plain = prepare(CopernicaHook(), "emailings", options={"product": product}, window=DST_DAY)
    assert "name" not in [c.name for c in plain.columns]


@pytest.mark.parametrize(
    ("dataset", "options", "param"),
    [
        ("emailings", {"status": "draft"}, "status=draft"),
        ("emailings", {"product": "html", "test": "no"}, "test=no"),
        ("clicks", {"unique": True}, "unique=true"),
    ],
)
def test_choice_options_are_sent_as_api_parameters(
    sandbox: Any, hook: CopernicaHook, dataset: str, options: dict[str, Any], param: str
) -> None:
    rows_of(prepare(hook, dataset, options=options, window=DST_DAY))
    queries = [r.query for r in data_requests(sandbox)]
    assert queries and all(param in q.split("&") for q in queries)


def test_nested_views_walk_each_parent_once_and_carry_rules_and_last_built(
    sandbox: Any, hook: CopernicaHook
) -> None:
    rows = rows_of(prepare(hook, "views", options={"database_id": 7616}))
    parents = [r for r in rows if r["has-children"]]
    listed = [r.path for r in data_requests(sandbox) if r.path.endswith("/views")]
    assert sorted(listed) == sorted(
        ["/v4/database/7616/views"] + [f"/v4/view/{r['id']}/views" for r in parents]
    )
    assert hook.api_calls == len(listed) + len(rows)  # + one rules call per view
    by_id = {r["id"]: r for r in rows}
    assert by_id[4187]["parent-id"] == 4185 and by_id[4185]["parent-id"] == 4184
    assert by_id[4187]["rules"][0]["conditions"]["data"][0]["value"] == "yes"
    # built at 02:30 local on the DST day (the first of the two 02:30s): 00:30 UTC
    assert by_id[4184]["last-built"] == "2026-10-25T00:30:00+00:00"


def test_view_members_have_the_database_fields_and_id_list_is_one_call(
    sandbox: Any, hook: CopernicaHook
) -> None:
    extraction = prepare(hook, "view_profiles", options={"view_id": 4186})
    assert "fields.city" in [c.name for c in extraction.columns]
    rows = rows_of(extraction)
    assert rows and all(r["fields.city"] == "Amsterdam" for r in rows)
    assert all(r["fields.country"] == "Netherlands" for r in rows)  # the parent's rule
    ids = CopernicaHook()
    members = rows_of(prepare(ids, "view_profile_ids", options={"view_id": 4184}))
    assert len(members) > 1000  # more than one page, yet one call: the list is complete
    assert sorted(r["id"] for r in members) == expected(
        sandbox, "view_profile_ids", WINDOW, {"view_id": 4184}
    )
    assert ids.api_calls == 1
