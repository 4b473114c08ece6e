"""``benchmarks/catalog_calls.py``: every catalog dataset's calls per one-day run, measured on
the sandbox, and the table in benchmarks/RESULTS.md equal to the measurement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_copernica.catalog.datasets import DATASETS
from airflow_provider_copernica.catalog.logfiles import LOG_TYPES
from benchmarks import catalog_calls


def expected_rows(sandbox: Any, dataset: str, options: dict[str, Any]) -> int | None:
    """The ground truth's row count for the window, where the sandbox has one."""
    start, end = catalog_calls.WINDOW
    if dataset == "logfile_events":
        type_name = LOG_TYPES[options["log_type"]][options["product"] == "html"]
        return len(sandbox.app.logfiles.expected_ids(type_name, start, end))
    if dataset == "endpoint":
        return len(sandbox.data.expected_ids("coupons", start, end, couponcampaign_id=1))
    try:
        return len(sandbox.data.expected_ids(dataset, start, end, **options))
    except (ValueError, KeyError):
        return None  # e.g. deletions: state-dependent, checked in their own tests


def test_every_dataset_is_measured_and_results_md_holds_the_measurement(
    sandbox: Any, copernica_conn: str, tmp_path: Path
) -> None:
    results = catalog_calls.measure(sandbox, copernica_conn, tmp_path)  # calls == hook's count
    assert {m.dataset for m in results} == set(DATASETS)
    checked = 0
    for m in results:
        expected = expected_rows(sandbox, m.dataset, dict(m.options))
        if expected is not None:
            assert m.rows == expected, (m.dataset, m.options)
            checked += 1
        assert m.calls == sum(m.requests.values()) >= 1
    assert checked >= len(results) - 6
    # the single calls of the plain listings, the fan-outs' one call per item
    by_case = {(m.dataset, tuple(m.options.items())): m for m in results}
    assert by_case[("clicks", (("product", "html"),))].calls == 1
    stats = by_case[("template_statistics", (("product", "draganddrop"),))]
    assert stats.calls == 1 + len(sandbox.data.coverage.templates["draganddrop"])
    section = catalog_calls.render(results)
    assert catalog_calls.section_in(catalog_calls.RESULTS) == section, (
        "benchmarks/RESULTS.md's calls table is stale: run "
        "`.venv/bin/python -m benchmarks.catalog_calls --write`"
    )


def test_splice_replaces_only_its_own_section(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\nfigures\n")
    section = f"{catalog_calls.START}\nold\n{catalog_calls.END}"
    assert catalog_calls.splice(results, section)
    assert results.read_text() == f"# Benchmark results\n\nfigures\n\n{section}\n"
    new = section.replace("old", "new")
    assert catalog_calls.splice(results, new) and not catalog_calls.splice(results, new)
    assert results.read_text() == f"# Benchmark results\n\nfigures\n\n{new}\n"
