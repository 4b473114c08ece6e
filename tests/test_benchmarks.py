"""`make bench` in a tiny configuration, so the harness cannot rot (no timing assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.concurrency import _partitions
from benchmarks.run import foreign_sections, write_results

REPO = Path(__file__).resolve().parent.parent
FOREIGN = "## Logfiles: peak RSS (another benchmark)\n\n| file | rows |\n|---|---|\n| small | 2 |\n"


def test_results_keep_the_sections_other_benchmarks_wrote(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text(
        "# Benchmark results\n\nold\n\n## Figures\n\nold figures\n\n"
        f"## Profile: operator, profiles -> jsonl\n\nold\n\n{FOREIGN}\n## Targets\n\nold\n"
    )
    assert foreign_sections(results.read_text()) == [FOREIGN]
    write_results(results, "# Benchmark results\n\n## Figures\n\nnew\n")
    text = results.read_text()
    assert "old" not in text
    assert text.startswith("# Benchmark results\n\n## Figures\n\nnew\n")
    assert text.endswith(FOREIGN)
    write_results(results, "# Benchmark results\n\n## Figures\n\nnewer\n")
    assert results.read_text().count("## Logfiles") == 1
    # a generated section's start marker sits above its heading and stays with it
    marked = "<!-- other: generated -->\n## Calls per run\n\n| a |\n<!-- /other -->\n"
    results.write_text(f"# Benchmark results\n\n## Profile: x\n\nold\n{marked}")
    write_results(results, "# Benchmark results\n")
    assert results.read_text() == f"# Benchmark results\n\n{marked}"


def test_partitions_are_read_from_the_id_bounds_in_the_log() -> None:
    sequential = [{"query": "orderby=id&fields%5B%5D=id%3E1000&limit=1000"}] * 3
    assert _partitions(sequential) == 1
    split = [
        {"query": "fields%5B%5D=id%3E0&fields%5B%5D=id%3C%3D5000"},
        {"query": "fields%5B%5D=id%3E1000&fields%5B%5D=id%3C%3D5000"},
        {"query": "fields%5B%5D=id%3E5000&fields%5B%5D=id%3C%3D9000"},
        {"query": "fields%5B%5D=id%3E9000"},
    ]
    assert _partitions(split) == 3


def test_bench_runs_end_to_end_in_a_tiny_configuration(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Benchmark results\n\nstale\n\n{FOREIGN}")
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--quick",
        "--write",
        "--only",
        "throughput,concurrency,memory",
        "--profiles",
        "1500",
        "--latencies",
        "5",
        "--concurrency",
        "1,2",
        "--memory-sizes",
        "500,1500",
        "--results",
        str(results),
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    text = results.read_text()
    assert "stale" not in text and text.endswith(FOREIGN)
    # the figures every section reports, each checked against the sandbox's ground truth
    for figure in (
        "| client CPU | profiles -> jsonl: client CPU per record",
        "| concurrency | profiles 1,",
        "operator, max_concurrency=2 |",
        "| api calls | profiles 1,",
        "| memory | peak RSS -> jsonl, max_concurrency=2: ",
        "## Concurrency: the operator vs the raw sequential loop",
        "| profiles 1,",
    ):
        assert figure in text, figure
    assert "in flight" in text
