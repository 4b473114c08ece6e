"""Logfile rows that differ from Copernica's documentation (issue 22): a documented column
missing from a row, or a key it does not document, is counted and named in the task log,
and ``schema_policy`` decides: ``evolve`` keeps the new key as a column, ``pin`` leaves it
out with a warning, ``fail`` stops before anything is written. Real HTTP against the
sandbox, whose files are edited for the test."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sandbox_requests import task_context

from airflow_provider_copernica.exceptions import CopernicaSchemaDriftError
from airflow_provider_copernica.interval import Window
from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator
from airflow_provider_copernica.sandbox.logfiles import COLUMNS as SANDBOX_COLUMNS

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
UTC = ZoneInfo("UTC")


def busiest_local_day(sandbox: Any, type_name: str) -> tuple[str, Window]:
    days = Counter(
        datetime.fromtimestamp(moment, AMSTERDAM).date()
        for moment, _, _ in sandbox.app.logfiles.entries(type_name)
    )
    day = max(sorted(days), key=lambda d: days[d])
    start = datetime(day.year, day.month, day.day, tzinfo=AMSTERDAM)
    return day.isoformat(), Window(
        start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)
    )


def run(
    out: Path,
    options: dict,
    window: Window,
    logged: dict[str, list[str]] | None = None,
    **kwargs: Any,
) -> dict:
    """One operator run; ``logged`` collects what it logs at info and warning level."""
    context = task_context(window.start, window.end, "scheduled__drift")
    op = CopernicaToStorageOperator(
        task_id="drift",
        dataset="logfile_events",
        dataset_options=options,
        output_uri=str(out),
        **kwargs,
    )
    if logged is not None:
        for level in ("info", "warning"):
            method = getattr(op.log, level)

            def record(message: str, *args: Any, _level: str = level, _method: Any = method) -> Any:
                logged.setdefault(_level, []).append(message % args if args else message)
                return _method(message, *args)

            setattr(op.log, level, record)
    return op.execute(context)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def differing(place: int, row: dict[str, Any]) -> dict[str, Any]:
    """The first row lacks its documented ``profile``, the second carries ``newkey``."""
    if place == 1:
        del row["profile"]
    elif place == 2:
        row["newkey"] = 42
    return row


@pytest.fixture
def drifted(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Window, list[dict]]:
    day, window = busiest_local_day(sandbox, "cdm-click")
    monkeypatch.setitem(sandbox.app.logfiles.edits, ("cdm-click", day), differing)
    return window, sandbox.app.logfiles.rows("cdm-click", day)


DOCUMENTED = list(SANDBOX_COLUMNS["cdm-click"])


@pytest.mark.parametrize("policy", ["evolve", "pin", "fail"])
def test_a_missing_column_and_an_extra_key_follow_the_schema_policy(
    copernica_conn: str,
    tmp_path: Path,
    drifted: tuple[Window, list[dict]],
    policy: str,
) -> None:
    window, served = drifted
    out = tmp_path / "clicks.jsonl"
    total = len(served)
    named = [f"profile (1 of {total} rows)", f"newkey (1 of {total} rows)"]
    logged: dict[str, list[str]] = {}
    if policy == "fail":
        with pytest.raises(CopernicaSchemaDriftError) as caught:
            run(out, {"log_type": "clicks"}, window, schema_policy=policy)
        message = str(caught.value)
        assert all(n in message for n in named) and "Nothing was written" in message
        assert not out.exists() and list(tmp_path.iterdir()) == []
        return
    result = run(out, {"log_type": "clicks"}, window, logged, schema_policy=policy)
    rows = read_jsonl(out)
    assert result["rows"] == len(rows) == total
    warnings = " ".join(logged.get("warning", []))
    assert all(n in warnings for n in named), warnings
    by_id = {row["id"]: row for row in rows}
    first, second = by_id[served[0]["id"]], by_id[served[1]["id"]]
    assert first["profile"] is None and second["profile"] == served[1]["profile"]
    if policy == "evolve":
        assert list(rows[0]) == [*DOCUMENTED, "newkey"]
        assert second["newkey"] == 42 and first["newkey"] is None
        assert "kept as column" in warnings
    else:
        assert all(list(row) == DOCUMENTED for row in rows)
        assert "left out" in warnings


def test_a_policy_other_than_evolve_is_accepted_for_logfiles() -> None:
    for policy in ("pin", "fail"):
        CopernicaToStorageOperator(
            task_id=f"t_{policy}",
            dataset="logfile_events",
            dataset_options={"log_type": "clicks"},
            schema_policy=policy,
        )


def test_the_other_documented_spelling_is_read_not_counted(
    sandbox: Any,
    copernica_conn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pom-retries is documented with ``attempts`` (English) and ``attempt`` (Dutch page,
    and cdm-retry); an old-style pom-clicks row has no ``linkinfo``. Neither is drift."""
    logged: dict[str, list[str]] = {}
    day, window = busiest_local_day(sandbox, "pom-retries")

    def singular(place: int, row: dict[str, Any]) -> dict[str, Any]:
        return {("attempt" if k == "attempts" else k): v for k, v in row.items()}

    monkeypatch.setitem(sandbox.app.logfiles.edits, ("pom-retries", day), singular)
    options = {"log_type": "retries", "product": "html"}
    out = tmp_path / "retries.jsonl"
    run(out, options, window, logged, schema_policy="fail")
    served = {r["id"]: r["attempts"] for r in sandbox.app.logfiles.rows("pom-retries", day)}
    assert {r["id"]: r["attempts"] for r in read_jsonl(out)} == served
    assert "read as 'attempts'" in " ".join(logged["info"])

    day, window = busiest_local_day(sandbox, "pom-clicks")

    def old_style(place: int, row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if k != "linkinfo"} if place == 1 else row

    monkeypatch.setitem(sandbox.app.logfiles.edits, ("pom-clicks", day), old_style)
    out = tmp_path / "clicks.jsonl"
    run(out, {"log_type": "clicks", "product": "html"}, window, logged, schema_policy="fail")
    first = sandbox.app.logfiles.rows("pom-clicks", day)[0]["id"]
    assert [r["linkinfo"] for r in read_jsonl(out) if r["id"] == first] == [None]
    assert "old-style" in " ".join(logged["info"])
