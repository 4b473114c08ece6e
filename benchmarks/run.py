"""`make bench`: every benchmark in one run, a table on stdout and in benchmarks/RESULTS.md.

Usage: ``python -m benchmarks.run [--quick] [--only SECTION,...] [--profiles N]
[--latencies 50,200] [--concurrency 1,2,4] [--memory-sizes 10000,500000] [--results PATH]``.
``--quick`` does one repetition and smaller sizes (a smoke run; it writes RESULTS.md only
with ``--write``, and says so in its header). Every figure in RESULTS.md comes from this
runner: the header names the code's commit and whether the work tree was clean. Of an existing
RESULTS.md only the sections another generator marked (``<!-- NAME: generated ... -->`` above
the heading, such as the catalog calls) are kept; hand-written sections are dropped.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO,
    WORK_DIR,
    Report,
    SandboxProcess,
    connection_env,
    machine_facts,
    setup_environment,
)

SECTIONS = (
    "parse",
    "throughput",
    "concurrency",
    "components",
    "capacity",
    "profile",
    "statistics",
    "snapshot",
    "memory",
    "logfile",
    "catalog",
    "sql_load",
)
SANDBOX_SECTIONS = ("throughput", "concurrency", "components", "capacity", "profile")
RESULTS = REPO / "benchmarks" / "RESULTS.md"
CHARTS = REPO / "docs" / "images"
# The headings render() writes; every other "## " section of RESULTS.md belongs to another
# benchmark and is kept as it is.
OWN_HEADINGS = (
    "Figures",
    "Targets",
    "Notes",
    "Profile: ",
    "Concurrency: ",
    "Snapshots: ",
    "Statistics: ",
    "Logfiles: ",
    "Charts",
)
GENERATED = re.compile(r"<!-- [^>]*generated")


def _cases(facts: dict[str, Any]) -> list[Any]:
    from benchmarks.throughput import Case

    db = facts["database_id"]
    return [
        Case(
            name="profiles",
            dataset="profiles",
            options={"database_id": db},
            paging="keyset",
            path=f"database/{db}/profiles",
            expected=facts["profiles_total"],
            discovery_calls=1,  # database/{id}/fields: the database's own field columns
        ),
        Case(
            name="clicks",
            dataset="clicks",
            options={"product": "draganddrop"},
            paging="offset",
            path="draganddrop/clicks",
            expected=facts["clicks_total"],
        ),
    ]


def run_sandbox_benchmarks(
    report: Report, args: argparse.Namespace, token: str, details: dict[str, Any]
) -> None:
    from benchmarks import capacity, components, concurrency, profiling, throughput

    wanted = set(args.only)
    # events: about that many clicks, so the offset-paging case is as large as the profiles one
    options: dict[str, Any] = {"profiles": args.profiles, "events": args.events}
    options.update(args.sandbox_option)
    with SandboxProcess(**options) as sandbox:
        details["sandbox"] = f"{options}, started in {sandbox.startup_s:.1f} s"
        facts = sandbox.facts()
        details["facts"] = facts
        cases = _cases(facts)
        # one request at a time unless a section says otherwise (the default may be higher)
        with connection_env(sandbox, token, max_concurrency=1):
            _warm_imports()
            learned = {case.name: throughput.learn(sandbox, case) for case in cases}
            # the last fifth of the seeded span: about a fifth of the profiles, a count that
            # is not a multiple of 1000
            lo, hi = facts["span"]
            window = (_utc(hi - (hi - lo) / 5), _utc(hi))
            windowed = dataclasses.replace(
                cases[0],
                name="profiles (last fifth)",
                window=window,
                expected=sandbox.count("profiles", *window, **cases[0].options),
            )
            for case in [*cases, windowed]:
                calls = (
                    learned[case.name][2] if case in cases else throughput.learn(sandbox, case)[2]
                )
                throughput.report_calls(report, case, calls)
            details["api_calls"] = {
                name: {k: v for k, v in calls.items() if k != "data_requests"}
                for name, (_, _, calls) in learned.items()
            }
            details["throughput"] = {}
            if "throughput" in wanted:
                throughput.report_fixed_cost(report, *throughput.fixed_cost(sandbox, token, 3))
            if "throughput" in wanted:
                print("throughput: no added latency, max_concurrency=1", flush=True)
                for case in cases:
                    path, params, _ = learned[case.name]
                    res = throughput.measure(
                        sandbox,
                        case,
                        path=path,
                        params=params,
                        token=token,
                        latency=0.0,
                        repeats=args.repeats,
                    )
                    throughput.report_case(report, res)
                    details.setdefault("cpu", {})[case.name] = {
                        kind: res.cpu_us_per_record(kind) for kind in res.cpu
                    }
                    details["throughput"][f"{case.name}, 0 ms"] = {
                        k: [round(s, 2) for s in v] for k, v in res.seconds.items()
                    }
            if "concurrency" in wanted:
                matrices = []
                for latency in args.latencies:
                    for case in cases:
                        if case.name != "profiles" and latency != args.latencies[0]:
                            continue  # offset paging: the first latency only
                        path, params, _ = learned[case.name]
                        matrix = concurrency.measure(
                            sandbox,
                            case,
                            path=path,
                            params=params,
                            token=token,
                            latency=latency,
                            concurrencies=args.concurrency,
                            repeats=args.latency_repeats,
                        )
                        concurrency.report_matrix(report, matrix)
                        matrices.append(matrix)
                details["concurrency"] = matrices
            if "components" in wanted:
                print("per-record cost of each stage (profiles)", flush=True)
                path, params, _ = learned["profiles"]
                costs = components.measure(
                    sandbox.url, sandbox.extra["auth_url"], token, path, params, cases[0].options
                )
                components.report_costs(report, costs)
                details["components"] = costs
            if "capacity" in wanted:
                print("capacity: concurrent raw clients", flush=True)
                path, params, _ = learned["profiles"]
                rates = capacity.measure(sandbox, path, params, token)
                capacity.report_rates(report, rates, 1000, "profiles keyset pages of 1000")
                details["capacity"] = rates
            if "profile" in wanted:
                print("profile: cProfile of the operator (profiles -> JSONL/Parquet)", flush=True)
                details["profile"] = {
                    fmt: profiling.profile_operator("profiles", cases[0].options, fmt, window)
                    for fmt in ("jsonl", "parquet")
                }


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc)


def _warm_imports() -> None:
    """Import what the operator imports lazily, so no timed run pays for it."""
    import importlib

    for name in (
        "airflow_provider_copernica.operators.copernica",
        "airflow_provider_copernica.hooks.copernica",
        "airflow_provider_copernica.engine.extract",
        "airflow_provider_copernica.output.writers",
        "pyarrow.parquet",
    ):
        importlib.import_module(name)


def render(
    report: Report,
    details: dict[str, Any],
    facts: dict[str, str],
    elapsed: float,
    quick: bool = False,
    charts: list[Path] | None = None,
) -> str:
    from benchmarks import concurrency

    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m benchmarks.run`): the figures of the last run on "
        "this machine. The sandbox runs in its own process on 127.0.0.1; the client (operator "
        "or raw loop) in another. Throughput and timing figures are the best of the repeated, "
        "interleaved runs; the machine may be shared, so compare figures from the same run "
        "(ratios), not across runs, and read the load average beside each figure (1-minute "
        f"load when it was measured, on {os.cpu_count()} cores). `client CPU` and `per record` "
        "figures are CPU time of the client process, which other load disturbs much less "
        "than wall time.",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in facts.items()),
        f"| load average at end | {' '.join(f'{x:.2f}' for x in os.getloadavg())} |",
        f"| run time | {elapsed:.0f} s |",
        "",
        *code_warning(facts, quick),
        *loaded_machine_warning(report),
        "## Figures",
        "",
        "| section | figure | value | target | met | load |",
        "|---|---|---|---|---|---|",
    ]
    for f in report.figures:
        met = {True: "yes", False: "**no**", None: ""}[f.met]
        lines.append(f"| {f.section} | {f.name} | {f.value} | {f.target} | {met} | {f.load:.1f} |")
    matrices = details.get("concurrency", [])
    if matrices:
        lines += ["", *concurrency.markdown(matrices)]
    lines += ["", *target_summary(report, details)]
    notes = [f"- {f.section}, {f.name}: {f.note}" for f in report.figures if f.note]
    if notes or report.notes:
        lines += ["", "## Notes", "", *notes, *(f"- {v}" for v in report.notes.values())]
    if "sandbox" in details:
        lines += ["", f"Sandbox: {details['sandbox']}; ground truth: {details.get('facts')}."]
    runs = dict(details.get("throughput", {}))
    runs.update(concurrency.details(matrices))
    if runs:
        lines += [
            "",
            "Run times in seconds, every repetition (concurrency runs by max_concurrency):",
            "",
        ]
        for name, by_kind in runs.items():
            text = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in by_kind.items())
            lines.append(f"- {name}: {text}")
    for fmt, prof in details.get("profile", {}).items():
        lines += [
            "",
            f"## Profile: operator, profiles -> {fmt}, no added latency",
            "",
            f"cProfile of one run ({prof.rows:,} rows, {prof.seconds:.2f} s under the profiler; "
            "the profiler itself inflates pure-Python work). Own time (tottime) of the thread "
            "running `execute`, by category; full listing in "
            f"`{prof.text_path.relative_to(REPO)}` (local, not committed). The garbage "
            f"collector ran {prof.gc_collections} times for {prof.gc_seconds:.2f} s (counted "
            "inside the functions whose allocations triggered it).",
            "",
            "| category | seconds | share |",
            "|---|---|---|",
        ]
        total = sum(s for _, s in prof.categories) or 1.0
        lines += [f"| {c} | {s:.2f} | {s / total:.0%} |" for c, s in prof.categories if s >= 0.005]
        lines += ["", "| top functions (own time) | seconds | calls |", "|---|---|---|"]
        lines += [f"| `{name}` | {s:.2f} | {calls:,} |" for name, s, calls in prof.top]
    lines += generated_sections(details)
    if charts:
        lines += [
            "",
            "## Charts",
            "",
            "Drawn by this run from the figures above (`benchmarks/charts.py`), each stamped "
            "with the run's date and commit:",
            "",
            *(f"- `{_shown(path)}`" for path in charts),
        ]
    lines += ["", "Reproduce: `make bench` (about 10 minutes on 2 idle cores; `--quick`: 2)."]
    return "\n".join(lines) + "\n"


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def code_warning(facts: dict[str, str], quick: bool) -> list[str]:
    """Warnings above the figures: a dirty work tree, or a smoke run's small sizes."""
    lines = []
    tree = facts.get("work tree", "clean")
    if tree != "clean":
        lines += [
            f"**The work tree was dirty** ({tree}): these figures are not of the commit "
            "named above alone. Figures of record come from a clean tree.",
            "",
        ]
    if quick:
        lines += [
            "**A quick run** (`--quick`: one repetition, small sizes): a smoke test of the "
            "harness, not figures of record.",
            "",
        ]
    return lines


def generated_sections(details: dict[str, Any]) -> list[str]:
    """The tables of the snapshot, statistics and logfile sections, from this run."""
    from benchmarks import logfile_memory, snapshot, statistics_cost

    lines: list[str] = []
    if "snapshot" in details:
        lines += [
            "",
            "## Snapshots: cost of a current-state snapshot (`benchmarks/snapshot.py`)",
            "",
            "Each extraction in a fresh child process against a sandbox in its own process; "
            "rows checked against the sandbox's ground truth; billed calls are `/v4` "
            "requests (the JWT exchange is not counted). Targets in the figures above.",
            "",
            *snapshot.markdown(details["snapshot"]),
        ]
    if "statistics_cost" in details:
        lines += [
            "",
            "## Statistics: `emailing_statistics` calls per daily run "
            "(`benchmarks/statistics_cost.py`)",
            "",
            f"Drag-and-drop, the last {statistics_cost.DAYS} UTC days before the anchor; rows "
            "equal before and after and equal to the ground truth; every run judged against "
            f"its own bound: {statistics_cost.BOUND}.",
            "",
            *statistics_cost.markdown(details["statistics_cost"]),
        ]
    if "logfile" in details:
        lines += [
            "",
            "## Logfiles: peak RSS of a `logfile_events` day (`benchmarks/logfile_memory.py`)",
            "",
            "One local day of `logfile_events` (`log_type=clicks`) into JSONL, each run in a "
            "fresh child process against a sandbox in its own process:",
            "",
            *logfile_memory.markdown(details["logfile"]),
        ]
    return lines


def loaded_machine_warning(report: Report) -> list[str]:
    """A warning above the figures when the machine was busy while they were measured."""
    cores = os.cpu_count() or 1
    loads = [f.load for f in report.figures]
    if not loads or max(loads) < cores:
        return []
    return [
        f"**The machine was loaded** (1-minute load up to {max(loads):.1f} on {cores} cores "
        "while figures were measured): wall-clock figures and ratios are pessimistic, and CPU "
        "figures are inflated by contention too. Rerun `make bench` on an idle machine for the "
        "figures of record.",
        "",
    ]


def target_summary(report: Report, details: dict[str, Any]) -> list[str]:
    """Which targets this run met, and for a missed CPU target, where the time goes."""
    targeted = [f for f in report.figures if f.target]
    if not targeted:
        return []
    met = [f for f in targeted if f.met]
    missed = [f for f in targeted if f.met is False]
    lines = [
        "## Targets",
        "",
        f"{len(met)} of {len(met) + len(missed)} targets met.",
        "",
        *(f"- met: {f.section}, {f.name}: {f.value} ({f.target})" for f in met),
        *(f"- **not met**: {f.section}, {f.name}: {f.value} ({f.target})" for f in missed),
    ]
    cpu = details.get("cpu", {}).get("profiles")
    costs = details.get("components", {})
    cpu_missed = any(f.section == "client CPU" and f.name.startswith("profiles") for f in missed)
    if cpu_missed and cpu and costs:
        stages = ", ".join(f"{name.strip()} {us:.1f} µs" for name, us in costs.items())
        lines += [
            "",
            f"Where the operator's {cpu['jsonl']:.1f} µs per profile go (the raw loop: "
            f"{cpu['raw']:.1f} µs, HTTP + JSON decode): {stages}. See the profile below.",
        ]
    lines += concurrency_shortfall(missed, details)
    return lines


def concurrency_shortfall(missed: list[Any], details: dict[str, Any]) -> list[str]:
    """For a missed concurrency target: the page rate it needs against the two ceilings this
    run measured, the sandbox's (capacity) and the client's (one core at its CPU/record)."""
    matrices = {(m.case.name, round(m.latency * 1000)): m for m in details.get("concurrency", [])}
    capacity = max(details.get("capacity", {}).values(), default=None)
    lines = []
    for figure in missed:
        if figure.section != "concurrency":
            continue
        name, rest = figure.name.split(" ", 1)
        ms = int(rest.split(", ", 1)[1].split(" ms", 1)[0])
        level = int(figure.name.rsplit("=", 1)[1])
        matrix = matrices.get((name, ms))
        if matrix is None:
            continue
        target = float(figure.target.strip(">= x"))
        best = matrix.best(level)
        pages = math.ceil(matrix.case.expected / 1000)
        needed = pages / (matrix.best("raw").seconds / target)
        cpu_us = best.cpu_seconds / matrix.case.expected * 1e6
        client = 1e6 / cpu_us / 1000  # pages/s one core converts and writes
        sandbox = f"{capacity:.0f} pages/s" if capacity else "not measured"
        limited = client < needed or (capacity is not None and capacity < needed)
        verdict = (
            "The slower ceiling decides; on an idle machine both are higher."
            if limited
            else "Both ceilings are above that rate: the time went to waiting on the other "
            "load of the machine (compare the repetitions in the notes)."
        )
        lines += [
            "",
            f"Why {figure.name} stays below {target:.2f}x: it needs {needed:.0f} pages/s. "
            f"The sandbox served at most {sandbox} to concurrent raw clients in this run "
            f"(capacity), and the client, at {cpu_us:.0f} µs of CPU per record, converts and "
            f"writes at most {client:.0f} pages/s on one core (the GIL), while the machine "
            f"had a load of {best.load:.1f} on {os.cpu_count()} cores. {verdict}",
        ]
    return lines


def foreign_sections(text: str) -> list[str]:
    """The ``## `` sections of an existing RESULTS.md that render() does not write but another
    generator does: an ``<!-- NAME: generated ... -->`` marker line right above the heading
    belongs to that section and marks it. Unmarked (hand-written) sections are dropped."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("## ")]
    starts = [i - 1 if i and lines[i - 1].startswith("<!--") else i for i in starts]
    sections: list[str] = []
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        chunk = lines[start:end]
        heading = next(line for line in chunk if line.startswith("## "))
        if not heading[3:].startswith(OWN_HEADINGS) and GENERATED.match(chunk[0]):
            sections.append("\n".join(chunk).rstrip("\n") + "\n")
    return sections


def write_results(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, keeping the sections other generators wrote there."""
    kept = foreign_sections(path.read_text()) if path.exists() else []
    path.write_text("\n".join([text, *kept]))


COMMIT_ROW = re.compile(r"^\| code commit \| ([0-9a-f]{40}) ", re.MULTILINE)
DAG_FILE = re.compile(r"\bdags/([A-Za-z0-9_]+\.py)\b")


def named_commit(text: str) -> str | None:
    """The 40-hex commit a RESULTS.md names as its code (None if it names none)."""
    found = COMMIT_ROW.search(text)
    return found.group(1) if found else None


def dag_lists(text: str) -> dict[str, set[str]]:
    """Per ``## `` section of a RESULTS.md, the ``dags/*.py`` files it names (if any)."""
    out: dict[str, set[str]] = {}
    heading = ""
    for line in text.splitlines():
        if line.startswith("## "):
            heading = line[3:]
        for name in DAG_FILE.findall(line):
            out.setdefault(heading, set()).add(name)
    return out


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--quick", action="store_true", help="one repetition, small sizes")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md even if --quick")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}"
    )
    parser.add_argument(
        "--profiles", type=int, help="profiles in the sandbox (100000; quick 20000)"
    )
    parser.add_argument("--events", type=int, help="about that many clicks (as --profiles)")
    parser.add_argument(
        "--latencies", type=_numbers, default=(50, 200), help="ms added per request: 50,200"
    )
    parser.add_argument(
        "--concurrency", type=_numbers, default=(1, 2, 4, 8), help="max_concurrency values: 1,2,4,8"
    )
    parser.add_argument(
        "--memory-sizes",
        type=_numbers,
        help="small,large profiles (10000,500000; quick 2000,50000)",
    )
    parser.add_argument(
        "--logfile-rows", type=int, help="rows of the large logfile (200000; quick 20000)"
    )
    parser.add_argument("--repeats", type=int, help="repetitions (3, latency runs 2; quick 1)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the file to write")
    parser.add_argument(
        "--charts", type=Path, default=CHARTS, help="where the charts go (docs/images)"
    )
    parser.add_argument(
        "--sandbox-option",
        action="append",
        default=[],
        type=lambda s: (s.split("=", 1)[0], int(s.split("=", 1)[1])),
        help="extra SandboxServer keyword, e.g. events=50000 (repeatable)",
    )
    args = parser.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(args.only) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; valid: {', '.join(SECTIONS)}")
    quick = args.quick
    args.latency_repeats = args.repeats or (1 if quick else 2)
    args.repeats = args.repeats or (1 if quick else 3)
    args.parse_repeats = 1 if quick else 2
    args.profiles = args.profiles or (20_000 if quick else 100_000)
    args.events = args.events or args.profiles
    args.latencies = tuple(ms / 1000 for ms in args.latencies)
    args.logfile_rows = args.logfile_rows or (20_000 if quick else 200_000)
    args.memory_sizes = args.memory_sizes or ((2_000, 50_000) if quick else (10_000, 500_000))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = setup_environment()
    started = time.perf_counter()
    facts = machine_facts()
    print(f"benchmarks on {facts['cpu']}, load {facts['load average at start']}", flush=True)
    report = Report()
    details: dict[str, Any] = {}
    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN as token

    if "parse" in args.only:
        from benchmarks import parse_cost

        parse_cost.run(report, repeats=args.parse_repeats)
    memory_sandboxes = []
    if "memory" in args.only:
        # seeded while the throughput sandbox seeds too: nothing is measured meanwhile
        memory_sandboxes = [SandboxProcess(profiles=n).start() for n in args.memory_sizes]
    try:
        if set(args.only) & set(SANDBOX_SECTIONS):
            run_sandbox_benchmarks(report, args, token, details)
        if "statistics" in args.only:
            from benchmarks import statistics_cost

            statistics_cost.run(report, details)
        if "snapshot" in args.only:
            from benchmarks import snapshot

            snapshot.run(report, details, profiles=args.profiles)
        if "sql_load" in args.only:
            from benchmarks import sql_load

            sql_load.run(report, token, quick=args.quick, profiles=args.profiles)
        if memory_sandboxes:
            from benchmarks import memory

            memory.run(report, token, memory_sandboxes, max(args.concurrency))
        if "logfile" in args.only:
            from benchmarks import logfile_memory

            logfile_memory.run(report, details, large=args.logfile_rows)
        catalog_section = None
        if "catalog" in args.only:  # its own section of RESULTS.md, spliced in after it
            from benchmarks import catalog_calls

            catalog_section = catalog_calls.run()
    finally:
        for sandbox in memory_sandboxes:
            sandbox.__exit__(None, None, None)
    # outputs were checked run by run; only the profile listings are kept
    shutil.rmtree(WORK_DIR / "out", ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    elapsed = time.perf_counter() - started
    writing = not args.quick or args.write
    charts = []
    if writing:
        from benchmarks import charts as drawing

        kind = "make bench --quick (smoke run)" if args.quick else "make bench"
        tree = "" if facts["work tree"] == "clean" else ", dirty tree"
        stamp = f"{kind}, {facts['date']}, code {facts['code commit'][:12]}{tree}"
        charts = drawing.draw(details, args.charts, stamp)
    text = render(report, details, facts, elapsed, quick=args.quick, charts=charts)
    print("\n" + text)
    if writing:
        write_results(args.results, text)
        if catalog_section is not None:  # the catalog-calls region of make docs-tables
            from scripts.docs_tables import regions

            regions(["catalog-calls"])[0].splice(catalog_section, args.results, append=True)
        print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
