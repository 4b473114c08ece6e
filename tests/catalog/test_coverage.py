"""Coverage datasets beyond their plain snapshots: templates and documents by modification
(or creation) time, and template/document statistics, against the sandbox's ground truth
around the 2026-10-25 autumn DST change."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_copernica.engine.counting import count_records
from airflow_provider_copernica.engine.extract import prepare
from airflow_provider_copernica.exceptions import CopernicaConfigError
from airflow_provider_copernica.hooks.copernica import CopernicaHook
from airflow_provider_copernica.interval import Window

UTC = timezone.utc
# The Europe/Amsterdam days 2026-10-24 and 2026-10-25 (25 hours: the clocks went back).
DAY_BEFORE = Window(datetime(2026, 10, 23, 22, tzinfo=UTC), datetime(2026, 10, 24, 22, tzinfo=UTC))
DST_DAY = Window(datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC))

CONTENT_WINDOWS = [
    # dataset, options, the API's parameters for the window's first and last second
    (
        "templates",
        {"product": "draganddrop", "created_in_interval": True},
        ("created_after", "created_before"),
    ),
    (
        "templates",
        {"product": "html", "modified_in_interval": "true"},
        ("modifiedfromdate", "modifiedtodate"),
    ),
    (
        "documents",
        {"product": "html", "modified_in_interval": True},
        ("modifiedfromdate", "modifiedtodate"),
    ),
]


def ids_of(extraction: Any) -> list[int]:
    return sorted(row["id"] for page in extraction.pages() for row in page)


def truth(sandbox: Any, dataset: str, window: Window, options: dict[str, Any]) -> list[int]:
    return sorted(
        int(i) for i in sandbox.data.expected_ids(dataset, window.start, window.end, **options)
    )


@pytest.mark.parametrize(("dataset", "options", "params"), CONTENT_WINDOWS, ids=str)
def test_templates_and_documents_by_time_are_exact_on_consecutive_days_around_the_dst_change(
    sandbox: Any, hook: CopernicaHook, dataset: str, options: dict, params: tuple[str, str]
) -> None:
    before = ids_of(prepare(hook, dataset, options=options, window=DAY_BEFORE))
    during = ids_of(prepare(hook, dataset, options=options, window=DST_DAY))
    assert before == truth(sandbox, dataset, DAY_BEFORE, options) and before
    assert during == truth(sandbox, dataset, DST_DAY, options) and len(during) > 1
    assert not set(before) & set(during)
    every = ids_of(prepare(CopernicaHook(), dataset, options={"product": options["product"]}))
    assert set(before) | set(during) < set(every)  # the option filters; without it, all
    # the interval is sent in local time, its end as its last second (the API's bounds are
    # inclusive); the 25-hour day ends at 23:59:59 local
    path = f"/v4/{options['product']}/{dataset}"
    sent = [r.query for r in sandbox.iter_requests(path) if params[0] in r.query]
    first, last = params
    assert f"{first}=2026-10-25+00%3A00%3A00&{last}=2026-10-25+23%3A59%3A59" in sent[-1]
    # a count is one probe with the same parameters
    assert count_records(hook, dataset, options, DST_DAY, 1) == len(during)


@pytest.mark.parametrize(
    ("dataset", "options", "needle"),
    [
        ("templates", {"modified_in_interval": True}, "applies to product html only"),
        ("templates", {"product": "html", "created_in_interval": True}, "product draganddrop"),
        ("documents", {"product": "html", "modified_in_interval": "yes"}, "one of true, false"),
        ("documents", {"product": "html", "modified_in_interval": True}, "give a window"),
    ],
)
def test_bad_content_window_options_are_refused_before_any_request(
    sandbox: Any, hook: CopernicaHook, fresh_log: None, dataset: str, options: dict, needle: str
) -> None:
    with pytest.raises(CopernicaConfigError, match=needle):
        prepare(hook, dataset, options=options)
    assert list(sandbox.iter_requests("/v4/")) == []


def test_false_keeps_the_snapshot(sandbox: Any, hook: CopernicaHook) -> None:
    options = {"product": "html", "modified_in_interval": False}
    assert ids_of(prepare(hook, "documents", options=options)) == truth(
        sandbox, "documents", DST_DAY, {"product": "html"}
    )
    assert all("modifiedfromdate" not in r.query for r in sandbox.iter_requests("/v4/"))


@pytest.mark.parametrize(
    ("dataset", "product"),
    [("template_statistics", "draganddrop"), ("document_statistics", "html")],
)
def test_template_and_document_statistics_equal_the_ground_truth_on_the_dst_day(
    sandbox: Any, hook: CopernicaHook, dataset: str, product: str
) -> None:
    options = {"product": product}
    rows = [
        row
        for page in prepare(hook, dataset, options=options, window=DST_DAY).pages()
        for row in page
    ]
    assert sorted(r["id"] for r in rows) == truth(sandbox, dataset, DST_DAY, options) and rows
    lo, hi = DST_DAY.start.timestamp(), DST_DAY.end.timestamp()
    for row in rows:
        stats = sandbox.data.statistics.of_content(
            product, row["id"], lambda t, i: lo <= t.ts[i] < hi
        )
        metrics = [c for c in row if c != "id"]
        assert len(metrics) >= 10
        for column in metrics:  # e.g. destinations, clicks.total, clicks.unique
            kind, _, name = column.partition(".")
            value = stats[kind][name] if name else stats[kind]
            assert row[column] == value, (row["id"], column)


def test_copernica_datasets_shows_the_window_an_option_gives(capsys: Any) -> None:
    from airflow_provider_copernica.cli.arguments import main

    assert main(["datasets", "documents", "--option", "modified_in_interval=true"]) == 0
    out = capsys.readouterr().out
    assert "window: modified in interval (modifiedfromdate/modifiedtodate); key: id" in out
    assert main(["datasets", "documents"]) == 0
    assert "window: snapshot (as of the run); modified_in_interval:" in capsys.readouterr().out


def test_miniviews_carry_their_rules_and_last_built(sandbox: Any, hook: CopernicaHook) -> None:
    from zoneinfo import ZoneInfo

    local = ZoneInfo("Europe/Amsterdam")
    rows = [
        r
        for page in prepare(hook, "miniviews", options={"collection_id": 6312}).pages()
        for r in page
    ]
    cov = sandbox.data.selections
    assert sorted(r["id"] for r in rows) == sorted(
        i for i, s in cov.miniviews.items() if s.owner == 6312
    )
    for row in rows:
        selection = cov.miniviews[row["id"]]
        assert row["rules"] == cov.rules(selection, "miniview")
        assert row["collection"] == 6312 and row["parent-type"] == "collection"
        built = datetime.fromisoformat(selection.record["last-built"]).replace(tzinfo=local)
        assert row["last-built"] == built.astimezone(UTC).isoformat()
    # one list call, then one rules call per miniview
    paths = [r.path for r in sandbox.iter_requests("/v4/")]
    assert paths == ["/v4/collection/6312/miniviews"] + [
        f"/v4/miniview/{r['id']}/rules" for r in rows
    ]


@pytest.mark.parametrize(
    ("dataset", "options", "lookup"),
    [
        ("view_profiles", {"view_id": 4184}, ["/v4/view/4184", "/v4/database/7616/fields"]),
        (
            "miniview_subprofiles",
            {"miniview_id": 1525},
            ["/v4/miniview/1525", "/v4/collection/6312/fields"],
        ),
    ],
)
def test_selection_members_are_paged_exactly(
    sandbox: Any, connect: Any, dataset: str, options: dict, lookup: list[str]
) -> None:
    hook = CopernicaHook(connect(page_size=100))
    sandbox.requests.clear()
    rows = [r for page in prepare(hook, dataset, options=options).pages() for r in page]
    ids = [r["id"] for r in rows]
    assert sorted(ids) == truth(sandbox, dataset, DST_DAY, options) and len(ids) == len(set(ids))
    pages = -(-len(ids) // 100)
    assert len(ids) > 300 and len(ids) % 100  # several pages, the last one short
    paths = [r.path for r in sandbox.iter_requests("/v4/")]
    assert paths[:2] == lookup and len(paths) == 2 + pages


def test_interests_and_scheduled_emailings_carry_their_fields(
    sandbox: Any, hook: CopernicaHook
) -> None:
    def rows(dataset: str, options: dict) -> list[dict[str, Any]]:
        return [r for page in prepare(hook, dataset, options=options).pages() for r in page]

    interests = rows("interests", {"database_id": 7616})
    assert interests == [
        {"id": int(r["ID"]), "name": r["name"], "group": r["group"]}
        for r in sandbox.data.records("interests", database_id=7616)
    ]
    scheduled = rows("scheduled_emailings", {"product": "html"})
    truth = sandbox.data.records("scheduled_emailings", product="html")
    assert [r["id"] for r in scheduled] == [int(r["id"]) for r in truth]
    for row, record in zip(scheduled, truth, strict=True):
        assert row["interval.unit"] == record["interval"]["unit"]
        assert row["processed_iterations"] == int(record["processed_iterations"])
        assert row["target.sources"] == record["target"]["sources"]
    # the 02:30 of the DST day (the first one, summer time) as UTC
    assert scheduled[0]["previous"] == "2026-10-25T00:30:00+00:00"


def test_coupons_and_campaigns_carry_their_fields(sandbox: Any, hook: CopernicaHook) -> None:
    options = {"couponcampaign_id": 2}
    coupons = [r for page in prepare(hook, "coupons", options=options).pages() for r in page]
    truth = sandbox.data.records("coupons", **options)
    assert [r["id"] for r in coupons] == [int(r["ID"]) for r in truth] and len(coupons) == 40
    for row, record in zip(coupons, truth, strict=True):
        assert (row["code"], row["status"]) == (record["code"], record["status"])
        assert (row["validuntil"] is None) == (record["validuntil"] == "")  # "" -> null
    campaigns = [r for page in prepare(hook, "coupon_campaigns").pages() for r in page]
    by_id = {r["id"]: r for r in campaigns}
    assert by_id[2]["available"] + by_id[2]["sent"] + by_id[2]["redeemed"] == 40
    assert by_id[1]["tags"] == ["discount", "c1"] and by_id[3]["archived"] is True
