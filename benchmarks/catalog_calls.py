"""Calls per run of every catalog dataset: one local day on the sandbox, measured.

Each dataset of the catalog (each product where it has two, plus a few option variants that
change the cost) runs once through the operator (``CopernicaToStorageOperator.execute``,
JSONL into a temporary directory) for the Europe/Amsterdam day 2026-10-25 (25 hours: the
autumn DST change) on the tests' sandbox (seed 7, anchor 2026-11-20, 3,000 profiles). The
calls are the sandbox's request log for that run (every ``/v4/`` request; the JWT exchange
is counted apart) and must equal the hook's own count; the rows are the file's. The table is
the ``catalog-calls`` region of ``benchmarks/RESULTS.md``, written by ``make docs-tables``
(``scripts/docs_tables.py``) and by ``make bench``; ``tests/project/test_docs_tables.py`` runs
the same measurement and fails when a figure there is stale or a dataset is missing.

    .venv/bin/python -m benchmarks.catalog_calls    # print the table (make docs-tables writes it)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

UTC = timezone.utc
WINDOW = (datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC))
SANDBOX = {"profiles": 3000, "seed": 7, "anchor": date(2026, 11, 20)}
# A sandbox value for every required option of the catalog; a dataset needing another one
# fails here (and in the test) until it gets one.
SAMPLE_OPTIONS: Mapping[str, Any] = {
    "database_id": 7616,
    "collection_id": 6312,
    "view_id": 4184,
    "miniview_id": 1525,
    "couponcampaign_id": 1,
    "log_type": "clicks",
    "path": "couponcampaign/1/coupons",
}
# Options that change a run's cost, measured besides each dataset's defaults.
VARIANTS: tuple[tuple[str, Mapping[str, Any]], ...] = (
    ("emailings", {"product": "draganddrop", "with_name": "true"}),
    ("emailings", {"product": "html", "with_name": "true", "with_hyperlinkextensions": "true"}),
    ("templates", {"product": "draganddrop", "created_in_interval": "true"}),
    ("templates", {"product": "html", "modified_in_interval": "true"}),
    ("documents", {"product": "html", "modified_in_interval": "true"}),
    ("logfile_events", {"log_type": "attempts", "product": "html"}),
)


@dataclass(frozen=True)
class Measured:
    """One run: its dataset and options, rows written, billed calls and their paths."""

    dataset: str
    options: Mapping[str, Any]
    rows: int
    calls: int
    requests: Mapping[str, int]
    jwt_exchanges: int


def cases() -> Iterator[tuple[str, dict[str, Any]]]:
    """(dataset, options): every catalog entry (per product), then :data:`VARIANTS`."""
    from airflow_provider_copernica.catalog.datasets import DATASETS

    for name, entry in DATASETS.items():
        missing = [o for o in entry.required_options if o not in SAMPLE_OPTIONS]
        if missing:
            raise KeyError(f"benchmarks/catalog_calls.py: no sample value for {missing} ({name})")
        options = {o: SAMPLE_OPTIONS[o] for o in entry.required_options}
        for product in entry.products if entry.product else (None,):
            yield name, options | ({"product": product} if product else {})
    for name, options in VARIANTS:
        yield name, dict(options)


def _pattern(path: str) -> str:
    """A request path with its ids and logfile names as placeholders."""
    path = path.removeprefix("/v4/")
    path = re.sub(r"^logfile/[^/]+/", "logfile/{name}/", path)
    return "/".join("{id}" if part.isdigit() else part for part in path.split("/"))


_PAGING = {"start", "limit", "total", "orderby", "order", "fields[]"}


def _kinds(requests: list[Any]) -> Counter[str]:
    """Requests by path pattern; a pattern asked with different parameters (``logfiles``:
    the dates, then ``?date&type``: a day's files) is told apart by their names."""
    asked = [
        (_pattern(r.path), "&".join(sorted({k for k, _ in parse_qsl(r.query)} - _PAGING)))
        for r in requests
    ]
    variants = Counter(pattern for pattern, _ in set(asked))
    return Counter(
        pattern + (f"?{names}" if variants[pattern] > 1 and names else "")
        for pattern, names in asked
    )


def measure(sandbox: Any, conn_id: str, out_dir: Path) -> list[Measured]:
    """Run every case through the operator against ``sandbox`` (a started ``SandboxServer``
    that ``conn_id`` points at) and read its calls from the sandbox's request log."""
    from airflow_provider_copernica.operators.copernica import CopernicaToStorageOperator
    from airflow_provider_copernica.testing import make_context

    results = []
    for n, (dataset, options) in enumerate(cases()):
        sandbox.requests.clear()
        operator = CopernicaToStorageOperator(
            task_id=f"calls_{n}",
            dataset=dataset,
            dataset_options=options,
            output_uri=str(out_dir / f"{n}_{dataset}.jsonl"),
            allow_empty=True,
            copernica_conn_id=conn_id,
        )
        landed = operator.execute(make_context(*WINDOW, run_id=f"calls_{n}"))
        log = list(sandbox.iter_requests())
        billed = [r for r in log if r.path.startswith("/v4/")]
        if len(billed) != landed["api_calls"]:
            raise AssertionError(
                f"{dataset} {options}: the sandbox saw {len(billed)} calls, the hook counted "
                f"{landed['api_calls']}"
            )
        results.append(
            Measured(
                dataset=dataset,
                options=options,
                rows=landed["rows"],
                calls=len(billed),
                requests=_kinds(billed),
                jwt_exchanges=len(log) - len(billed),
            )
        )
    return results


def _options_text(options: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items())


def render(results: list[Measured]) -> str:
    """The RESULTS.md section (its heading, text and table; the markers are the region's)."""
    from airflow_provider_copernica.catalog.datasets import DATASETS

    exchanges = sorted({m.jwt_exchanges for m in results})
    lines = [
        "## Calls per run: every dataset, one local day (`benchmarks/catalog_calls.py`)",
        "",
        f"{len(DATASETS)} datasets. Each runs once through the operator (JSONL) for the "
        "Europe/Amsterdam day 2026-10-25 (25 hours, the autumn DST change) on the tests' sandbox "
        "(seed 7, anchor 2026-11-20, 3,000 profiles); calls are the billed `/v4/` requests in the "
        "sandbox's log (equal to the hook's count), plus "
        f"{' or '.join(map(str, exchanges))} JWT exchange(s) per run, not billed. Snapshots ignore "
        "the window. Deterministic: `tests/project/test_docs_tables.py` re-measures and compares.",
        *(
            [
                "",
                f"{', '.join(f'`{n}`' for n in deletions)}: a first run (no earlier id "
                "snapshot) writes an empty file; every run costs the id list's calls.",
            ]
            if (
                deletions := sorted(
                    {m.dataset for m in results if DATASETS[m.dataset].deletions_of}
                )
            )
            else []
        ),
        "",
        "| dataset | options | rows | calls | requests |",
        "|---|---|---|---|---|",
    ]
    for m in results:
        requests = ", ".join(f"`{path}` {count}" for path, count in m.requests.items())
        lines.append(
            f"| `{m.dataset}` | {_options_text(m.options)} | {m.rows:,} | {m.calls} | {requests} |"
        )
    lines += ["", "Reproduce: `make docs-tables` (or `make bench`)."]
    return "\n".join(lines)


def run() -> str:
    """Start the sandbox, measure every case, return the rendered section."""
    from airflow_provider_copernica.sandbox import SANDBOX_ACCESS_TOKEN, SandboxServer

    server = SandboxServer(**SANDBOX).start()
    key = "AIRFLOW_CONN_COPERNICA_CALLS"
    os.environ[key] = json.dumps(server.connection(SANDBOX_ACCESS_TOKEN))
    try:
        with tempfile.TemporaryDirectory() as out:
            return render(measure(server, "copernica_calls", Path(out)))
    finally:
        os.environ.pop(key, None)
        server.stop()


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m benchmarks.catalog_calls",
        description="Print the calls-per-run table; `make docs-tables` writes it.",
    ).parse_args(argv)
    if "AIRFLOW_HOME" not in os.environ:
        from benchmarks.common import setup_environment

        setup_environment()
    import logging

    logging.getLogger("airflow").setLevel(logging.WARNING)
    print(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
