"""`make bench` in a tiny configuration, so the harness cannot rot (no timing assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.concurrency import _partitions
from benchmarks.run import foreign_sections, write_results

REPO = Path(__file__).resolve().parents[2]
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


def test_a_missed_concurrency_target_is_explained_by_the_ceilings() -> None:
    from benchmarks.common import Report
    from benchmarks.concurrency import Matrix, Run, markdown, report_matrix
    from benchmarks.run import target_summary
    from benchmarks.throughput import Case

    case = Case("profiles", "profiles", {}, "keyset", "database/1/profiles", 100_000)
    case.discovery_calls = 1

    def run(seconds: float, peak: int, partitions: int = 1) -> Run:
        return Run(seconds, 2.0, 100_000, 101, 1, peak, partitions, 3.0)

    matrix = Matrix(case, 0.05, {"raw": [run(6.0, 1)], 1: [run(6.2, 1)], 4: [run(3.0, 4, 8)]})
    report = Report()
    report_matrix(report, matrix)
    speed = {f.name.rsplit(" ", 1)[-1]: f.met for f in report.figures if f.section == "concurrency"}
    assert speed == {"loop": None, "max_concurrency=1": True, "max_concurrency=4": False}
    calls = [f.met for f in report.figures if f.section == "api calls"]
    assert calls == [True, True]  # 102 calls: the minimum, and within 8 partitions' allowance
    lines = target_summary(report, {"concurrency": [matrix], "capacity": {1: 90.0, 4: 120.0}})
    why = [line for line in lines if line.startswith("Why")]
    assert len(why) == 1 and "needs 50 pages/s" in why[0] and "at most 120 pages/s" in why[0]
    assert "| profiles 100,000 | 50 ms |" in "\n".join(markdown([matrix]))
