"""The documentation's generated tables (``scripts/docs_tables.py``, ``make docs-tables``):
every region is what the generator writes, and the generator splices only its own region."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_copernica.catalog.datasets import DATASETS
from airflow_provider_copernica.catalog.logfiles import LOG_TYPES
from airflow_provider_copernica.cli.arguments import main
from airflow_provider_copernica.client.settings import EXTRA_FIELDS
from benchmarks import catalog_calls
from scripts import docs_tables


def expected_rows(sandbox: Any, dataset: str, options: dict[str, Any]) -> int | None:
    """The ground truth's row count for the calls window, where the sandbox has one."""
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


def test_every_generated_docs_table_is_what_make_docs_tables_writes(
    sandbox: Any, copernica_conn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # calls per run: every dataset measured on the sandbox (calls == the hook's count)
    results = catalog_calls.measure(sandbox, copernica_conn, tmp_path)
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
    assert stats.calls == 1 + len(sandbox.data.content.templates["draganddrop"])

    # every region of every page equals its generator's output
    measured = {"catalog-calls": catalog_calls.render(results)}
    assert docs_tables.stale(measured) == [], (
        "a generated docs table is stale: run `make docs-tables`"
    )

    regions = {r.name: r.current() for r in docs_tables.REGIONS}
    for name in DATASETS:  # the datasets table lists every dataset; the CLI prints the same
        assert f"| `{name}` |" in regions["datasets"]
    capsys.readouterr()  # the measurement's log lines
    assert main(["datasets", "--markdown"]) == 0
    assert capsys.readouterr().out.strip() == regions["datasets"]
    for f in EXTRA_FIELDS:  # the connection table, every extra of the connection form
        assert f"| `{f.name}` |" in regions["connection"]


def test_a_region_is_spliced_between_its_own_markers_only(tmp_path: Path) -> None:
    region = docs_tables.Region("calls", "RESULTS.md", lambda: "new")
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\nfigures\n")
    with pytest.raises(ValueError, match="needs the lines"):
        region.splice("old", results)  # no markers: refused, naming them
    assert region.splice("old", results, append=True)
    section = f"{region.start}\nold\n{region.end}"
    assert results.read_text() == f"# Benchmark results\n\nfigures\n\n{section}\n"
    results.write_text(results.read_text() + "\nkept\n")
    assert region.splice("new", results) and not region.splice("new", results)
    assert results.read_text() == (
        f"# Benchmark results\n\nfigures\n\n{region.start}\nnew\n{region.end}\n\nkept\n"
    )
    assert region.current(results) == "new"
    with pytest.raises(
        ValueError, match="valid: datasets, logfile-columns, connection, catalog-calls"
    ):
        docs_tables.regions(["nope"])
