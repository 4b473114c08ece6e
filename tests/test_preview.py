"""`copernica datasets` / `copernica preview` and preview_rows, against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_copernica.cli import main
from airflow_provider_copernica.datasets import DATASETS
from airflow_provider_copernica.hooks.copernica import CopernicaHook
from airflow_provider_copernica.preview import preview_rows


def test_datasets_lists_every_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["dataset", "options", "interval"]
    for name in DATASETS:
        assert any(line.startswith(name + " ") for line in lines), name
    assert "database_id" in next(line for line in lines if line.startswith("profiles "))


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
    assert out[-1] == f"{len(expected)} row(s) of clicks in the window (showing 3)"


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
