"""`copernica datasets` / `copernica preview` and preview_rows, against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_copernica.catalog.datasets import DATASETS, KINDS
from airflow_provider_copernica.cli.arguments import main
from airflow_provider_copernica.engine.preview import preview_rows
from airflow_provider_copernica.hooks.copernica import CopernicaHook


def test_datasets_lists_every_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "structure:"
    assert lines[1].split()[:3] == ["dataset", "options", "interval"]
    for name in DATASETS:
        assert any(line.startswith(name + " ") for line in lines), name
    assert "database_id" in next(line for line in lines if line.startswith("profiles "))
    # grouped by kind, in KINDS order, each dataset under its own kind's heading
    headings = [line[:-1] for line in lines if line in {f"{k}:" for k in KINDS}]
    assert headings == [k for k in KINDS if any(d.kind == k for d in DATASETS.values())]
    for name, entry in DATASETS.items():
        at = next(i for i, line in enumerate(lines) if line.startswith(name + " "))
        above = [line for line in lines[:at] if line[:-1] in KINDS and line.endswith(":")]
        assert above[-1] == f"{entry.kind}:", name


def test_datasets_profiles_lists_the_database_columns_with_one_call(
    sandbox: Any, copernica_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["datasets", "profiles", "--option", "database_id=7616"]) == 0
    out = capsys.readouterr().out
    for column in ("id", "modified", "interests", "fields.email", "fields.age"):
        assert any(line.split()[:1] == [column] for line in out.splitlines()), column
    assert "fields.age       int" in out or any(
        line.split() == ["fields.age", "int"] for line in out.splitlines()
    )
    assert [r.path for r in sandbox.iter_requests("/v4/")] == ["/v4/database/7616/fields"]


def test_preview_prints_the_first_rows_and_the_total(
    sandbox: Any, copernica_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "preview",
            "clicks",
            "--from",
            "2026-10-24T22:00:00Z",
            "--to",
            "2026-10-25T23:00:00Z",
            "--option",
            "product=html",
            "--fields",
            "timestamp,link",
            "--limit",
            "3",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    expected = sorted(
        sandbox.data.expected_ids(
            "clicks", "2026-10-24T22:00:00+00:00", "2026-10-25T23:00:00+00:00", product="html"
        )
    )
    assert out[0].split() == ["id", "timestamp", "link"]
    assert set(out[1]) == {"-", " "}
    shown = [int(line.split()[0]) for line in out[2:5]]
    assert shown == [int(i) for i in expected[:3]]
    assert out[-2] == f"{len(expected)} row(s) of clicks in the window (showing 3)"
    assert out[-1] == f"left out: {len(expected) - 3} row(s) (raise limit)"


def test_preview_rows_for_a_dag(sandbox: Any, copernica_conn: str) -> None:
    columns, rows, total = preview_rows(
        CopernicaHook(copernica_conn),
        "subprofiles",
        options={"collection_id": 6312},
        date_from="2026-10-01",
        date_to="2026-10-08",
        limit=5,
    )
    truth = sandbox.data.expected_ids("subprofiles", "2026-10-01", "2026-10-08", collection_id=6312)
    assert total == len(truth) > 5
    assert [r["id"] for r in rows] == sorted(int(i) for i in truth)[:5]
    assert columns[0] == "id" and "fields.order_number" in columns


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["preview", "clickz", "--from", "2026-10-01", "--to", "2026-10-02"], "valid datasets"),
        (["preview", "clicks", "--from", "2026-10-02", "--to", "2026-10-01"], "before date_to"),
        (["preview", "clicks", "--from", "yesterday", "--to", "2026-10-01"], "not a valid date"),
        (["preview", "clicks"], "give both date_from and date_to"),
        (["preview", "profiles", "--from", "2026-10-01", "--to", "2026-10-02"], "database_id"),
        (
            [
                "preview",
                "clicks",
                "--from",
                "2026-10-01",
                "--to",
                "2026-10-02",
                "--option",
                "product=sms",
            ],
            "valid products",
        ),
        (
            ["preview", "clicks", "--from", "2026-10-01", "--to", "2026-10-02", "--fields", "x"],
            "available columns",
        ),
        (["datasets", "profiles", "--option", "database_id=1/.."], "positive integer"),
        (
            ["datasets", "clicks", "--option", "database_id=7616"],
            "Unknown option(s) 'database_id' for dataset 'clicks'; valid options: product",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_request(
    sandbox: Any,
    copernica_conn: str,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.err.startswith("copernica: error: ")
    assert "Traceback" not in captured.err and captured.out == ""
    assert list(sandbox.iter_requests("/v4/")) == []


ANCHOR_END = "2026-11-20"


@pytest.mark.parametrize(
    ("dataset", "options", "date_from"),
    [
        ("clicks", {}, "2026-11-19"),  # one day
        ("clicks", {}, "2025-11-20"),  # 365 days
        ("profiles", {"database_id": 7616}, "2025-11-20"),  # keyset paging, 365 days
        ("impressions", {"product": "html"}, "2025-11-20"),
    ],
)
def test_preview_costs_the_pages_it_shows_plus_one_count(
    sandbox: Any,
    monkeypatch: pytest.MonkeyPatch,
    dataset: str,
    options: dict[str, Any],
    date_from: str,
) -> None:
    """At most ceil(limit / page_size) data calls plus one count request, whatever the
    window (it used to page through the whole window to show 20 rows)."""
    from tests.sandbox_requests import connector, data_calls

    page_size, limit = 4, 10
    connect = connector(sandbox, monkeypatch, {"max_retries": 2, "timeout": 10})
    columns, rows, total = preview_rows(
        CopernicaHook(connect(page_size=page_size)),
        dataset,
        options=options,
        date_from=date_from,
        date_to=ANCHOR_END,
        limit=limit,
    )
    truth = sorted(sandbox.data.expected_ids(dataset, date_from, ANCHOR_END, **options))
    assert len(truth) > limit, "the window must hold more rows than the preview shows"
    assert [int(r["id"]) for r in rows] == [int(i) for i in truth[:limit]]
    calls = data_calls(sandbox)
    # profiles: all columns include the database's own fields, read once (not a data call).
    schema = [c for c in calls if c.path.endswith("/fields")]
    assert len(schema) == (1 if dataset == "profiles" else 0)
    pages = -(-limit // page_size)
    assert total == len(truth)
    assert len(calls) - len(schema) <= pages + 1, [(c.path, c.query) for c in calls]


def test_preview_limit_zero_only_counts(sandbox: Any, copernica_conn: str) -> None:
    from tests.sandbox_requests import data_calls

    columns, rows, total = preview_rows(
        CopernicaHook(copernica_conn),
        "clicks",
        date_from="2026-11-19",
        date_to="2026-11-20",
        limit=0,
    )
    assert rows == [] and total == len(
        sandbox.data.expected_ids("clicks", "2026-11-19", "2026-11-20")
    )
    assert [c.query.endswith("limit=1") for c in data_calls(sandbox)] == [True]


def test_datasets_search_includes_a_databases_own_fields(
    sandbox: Any, copernica_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["datasets", "--search", "EMAIL", "--option", "database_id=7616"]) == 0
    found = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert "fields.email" in found["profiles"]
    assert [r.path for r in sandbox.iter_requests("/v4/")] == ["/v4/database/7616/fields"]


def test_preview_of_enriched_emailings_calls_only_for_the_rows_shown(
    sandbox: Any, copernica_conn: str
) -> None:
    def snapshots() -> int:
        return sum(1 for r in sandbox.iter_requests("/v4/") if r.path.endswith("/snapshot"))

    before = snapshots()
    options = {"product": "draganddrop", "with_name": "true"}
    result = preview_rows(
        CopernicaHook(),
        "emailings",
        options=options,
        date_from="2026-06-01",
        date_to="2026-11-01",
        limit=3,
    )
    assert len(result.rows) == 3 and result.total is not None and result.total > 3
    names = sandbox.data.content.emailing_name
    assert [r["name"] for r in result.rows] == [names("draganddrop", r["id"]) for r in result.rows]
    assert snapshots() - before == 3
