"""`make bench`: every benchmark in one run, a table on stdout and in benchmarks/RESULTS.md.

Usage: ``python -m benchmarks.run [--quick] [--only parse,throughput,latency,capacity,
profile,memory,catalog]``. ``--quick`` does one repetition and smaller sizes (a smoke run; it does not
write RESULTS.md unless ``--write`` is given).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
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
    "latency",
    "components",
    "capacity",
    "profile",
    "statistics",
    "snapshot",
    "memory",
    "catalog",
)
SANDBOX_SECTIONS = ("throughput", "latency", "components", "capacity", "profile")
RESULTS = REPO / "benchmarks" / "RESULTS.md"
LATENCY_S = 0.05


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
    from benchmarks import capacity, components, profiling, throughput

    wanted = set(args.only)
    # events: about that many clicks, so the offset-paging case is as large as the profiles one
    options: dict[str, Any] = {"profiles": args.profiles, "events": args.events}
    options.update(args.sandbox_option)
    with SandboxProcess(**options) as sandbox:
        details["sandbox"] = f"{options}, started in {sandbox.startup_s:.1f} s"
        facts = sandbox.facts()
        details["facts"] = facts
        cases = _cases(facts)
        with connection_env(sandbox, token):
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
            runs = [("throughput", 0.0, args.repeats), ("latency", LATENCY_S, args.latency_repeats)]
            for section, latency, repeats in runs:
                if section not in wanted:
                    continue
                print(f"throughput: {latency * 1000:.0f} ms added to every request", flush=True)
                for case in cases:
                    path, params, _ = learned[case.name]
                    res = throughput.measure(
                        sandbox,
                        case,
                        path=path,
                        params=params,
                        token=token,
                        latency=latency,
                        repeats=repeats,
                    )
                    throughput.report_case(report, res)
                    if not latency:
                        details.setdefault("cpu", {})[case.name] = {
                            kind: res.cpu_us_per_record(kind) for kind in res.cpu
                        }
                    details["throughput"][f"{case.name}, {latency * 1000:.0f} ms"] = {
                        k: [round(s, 2) for s in v] for k, v in res.seconds.items()
                    }
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
        "airflow_provider_copernica.extract",
        "airflow_provider_copernica.writers",
        "pyarrow.parquet",
    ):
        importlib.import_module(name)


def render(report: Report, details: dict[str, Any], facts: dict[str, str], elapsed: float) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m benchmarks.run`): the figures of the last run on "
        "this machine. The sandbox runs in its own process on 127.0.0.1; the client (operator "
        "or raw loop) in another. Throughput and parse figures are the best of the repeated runs; "
        "the machine may be shared, so compare figures from the same run (ratios), not across "
        "runs. `client CPU` and `per record` figures are CPU time of the client process, which "
        "other load disturbs much less than wall time.",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in facts.items()),
        f"| load average at end | {' '.join(f'{x:.2f}' for x in os.getloadavg())} |",
        f"| run time | {elapsed:.0f} s |",
        "",
        "## Figures",
        "",
        "| section | figure | value | target | met |",
        "|---|---|---|---|---|",
    ]
    for f in report.figures:
        met = {True: "yes", False: "**no**", None: ""}[f.met]
        lines.append(f"| {f.section} | {f.name} | {f.value} | {f.target} | {met} |")
    lines += ["", *target_summary(report, details)]
    notes = [f"- {f.section}, {f.name}: {f.note}" for f in report.figures if f.note]
    if notes or report.notes:
        lines += ["", "## Notes", "", *notes, *(f"- {v}" for v in report.notes.values())]
    if "sandbox" in details:
        lines += ["", f"Sandbox: {details['sandbox']}; ground truth: {details.get('facts')}."]
    if details.get("throughput"):
        lines += ["", "Run times in seconds, every repetition:", ""]
        for name, by_kind in details["throughput"].items():
            runs = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in by_kind.items())
            lines.append(f"- {name}: {runs}")
    for fmt, prof in details.get("profile", {}).items():
        lines += [
            "",
            f"## Profile: operator, profiles -> {fmt}, no added latency",
            "",
            f"cProfile of one run ({prof.rows:,} rows, {prof.seconds:.2f} s under the profiler; the profiler "
            "itself inflates pure-Python work). Own time (tottime) of the thread running "
            f"`execute`, by category; full listing in `{prof.text_path.relative_to(REPO)}` (local, not committed).",
            "",
            "| category | seconds | share |",
            "|---|---|---|",
        ]
        total = sum(s for _, s in prof.categories) or 1.0
        lines += [f"| {c} | {s:.2f} | {s / total:.0%} |" for c, s in prof.categories if s >= 0.005]
        lines += ["", "| top functions (own time) | seconds | calls |", "|---|---|---|"]
        lines += [f"| `{name}` | {s:.2f} | {calls:,} |" for name, s, calls in prof.top]
    lines += ["", "Reproduce: `make bench` (about 5-10 minutes on 2 cores)."]
    return "\n".join(lines) + "\n"


def target_summary(report: Report, details: dict[str, Any]) -> list[str]:
    """Which targets this run met, and for a missed operator/raw ratio, where the time goes."""
    targeted = [f for f in report.figures if f.target]
    if not targeted:
        return []
    met = [f for f in targeted if f.met]
    missed = [f for f in targeted if f.met is False]
    unjudged = [f for f in targeted if f.met is None]  # e.g. the provider import: reference
    lines = [
        "## Targets",
        "",
        f"{len(met)} of {len(met) + len(missed)} targets met.",
        "",
        *(f"- met: {f.section}, {f.name}: {f.value} ({f.target})" for f in met),
        *(f"- **not met**: {f.section}, {f.name}: {f.value} ({f.target})" for f in missed),
        *(f"- for reference, no verdict: {f.section}, {f.name}: {f.value}" for f in unjudged),
    ]
    cpu = details.get("cpu", {}).get("profiles")
    costs = details.get("components", {})
    ratio_missed = any(f.name.startswith("profiles operator -> jsonl, no latency") for f in missed)
    if ratio_missed and cpu and costs:
        raw, jsonl = cpu["raw"], cpu["jsonl"]
        convert = costs.get("row conversion (RowPlan.rows, cold cache)", 0.0)
        stamps = costs.get("  of which: created+modified timestamps", 0.0)
        write = costs.get("write JSONL (open_writer, commit)", 0.0)
        lines += [
            "",
            "Why the no-latency ratio stays below 0.5: with the sandbox answering in about a "
            "millisecond, both loops are bound by the client's CPU, and the GIL keeps the "
            "prefetch thread from adding a core. The raw loop spends "
            f"{raw:.1f} µs per profile (HTTP + JSON decode); the operator spends {jsonl:.1f} µs: "
            f"about the same HTTP + decode, plus row conversion {convert:.1f} µs "
            f"(of which the created + modified timestamps {stamps:.1f} µs) and "
            f"the JSONL write {write:.1f} µs. A ratio of 0.5 needs conversion + write <= "
            f"{raw:.1f} µs, i.e. building a typed 16-column row costing no more than receiving "
            "and decoding it. With 50 ms latency per request the work overlaps the wait and the "
            "ratio is met.",
        ]
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--quick", action="store_true", help="one repetition, small sizes")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md even if --quick")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}"
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
    args.repeats = 1 if args.quick else 3
    args.latency_repeats = 1 if args.quick else 2
    args.parse_repeats = 1 if args.quick else 3
    args.profiles = 20_000 if args.quick else 100_000
    args.events = 20_000 if args.quick else 100_000
    args.memory_sizes = (2_000, 50_000) if args.quick else (10_000, 500_000)
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
        if memory_sandboxes:
            from benchmarks import memory

            memory.run(report, token, memory_sandboxes)
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
    text = render(report, details, facts, elapsed)
    print("\n" + text)
    if not args.quick or args.write:
        RESULTS.write_text(text)
        if catalog_section is not None:
            catalog_calls.splice(RESULTS, catalog_section)
        print(f"wrote {Path(RESULTS).relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
