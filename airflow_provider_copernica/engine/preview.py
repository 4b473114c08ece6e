"""Look at a dataset's first rows before scheduling it: the engine behind ``copernica preview``
and the ``copernica_preview`` DAG ("Test Data"). Writes nothing.

A preview is billed like any extraction, so it reads only the pages it shows (at most
``ceil(limit / page_size)`` data calls, no prefetch) plus one count request for the total,
whatever the window.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_copernica.catalog.datasets import get_dataset
from airflow_provider_copernica.exceptions import CopernicaConfigError
from airflow_provider_copernica.faithful.deletions import refuse_outside_operator

if TYPE_CHECKING:
    from airflow_provider_copernica.hooks.copernica import CopernicaHook

MAX_CELL = 40


def _cell(value: Any) -> str:
    if value is None:
        text = ""
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def format_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An aligned plain-text table with a header and a separator line."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in cells:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


class Preview(NamedTuple):
    """The first rows of a dataset in a window, and how many rows the window holds."""

    columns: list[str]
    rows: list[dict[str, Any]]
    total: int | None
    """Rows in the window; None when the dataset has no count request and more rows exist."""

    def table(self) -> str:
        return format_table(self.columns, [[row.get(c) for c in self.columns] for row in self.rows])

    def summary(self, dataset: str) -> str:
        shown = f"showing {len(self.rows)}" if self.rows else "nothing to show"
        if self.total is None:
            return f"more than {len(self.rows)} row(s) of {dataset} in the window ({shown})"
        return f"{self.total} row(s) of {dataset} in the window ({shown})"


def preview_rows(
    hook: CopernicaHook,
    dataset: str,
    *,
    options: Mapping[str, Any] | None = None,
    fields: Sequence[str] | str | None = None,
    filters: Sequence[str] | None = None,
    date_from: Any = None,
    date_to: Any = None,
    limit: int = 20,
) -> Preview:
    """The first ``limit`` rows of ``dataset`` in ``[date_from, date_to)``, and the total.

    Reads only as many pages as ``limit`` needs; the total comes from one count request
    (``counting.probe_request``) where the dataset has one.
    """
    from airflow_provider_copernica.engine.counting import envelope_total, probe_request
    from airflow_provider_copernica.engine.extract import prepare
    from airflow_provider_copernica.interval import parse_window

    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise CopernicaConfigError(f"limit must be a whole number >= 0, got {limit!r}")
    entry = get_dataset(dataset)
    refuse_outside_operator(entry, "A preview")
    window = None
    if date_from is not None or date_to is not None or not entry.snapshot:
        if date_from in (None, "") or date_to in (None, ""):
            raise CopernicaConfigError(
                f"Dataset {dataset!r} is filtered by interval ({entry.interval_filter}): give "
                "both date_from and date_to (e.g. --from 2026-10-25 --to 2026-10-26)"
            )
        window = parse_window(date_from, date_to)
    extraction = prepare(
        hook, dataset, options=options, fields=fields, window=window, filters=filters
    )
    if extraction.user_filters:
        extraction.request_filters()  # field names checked before any data request
    rows: list[dict[str, Any]] = []
    exhausted = limit > 0  # until a page shows there is more (limit 0: only count)
    if limit:
        with contextlib.closing(extraction.pages(max_rows=limit)) as pages:
            for page in pages:
                rows.extend(page[: limit - len(rows)])
                if len(rows) >= limit:
                    exhausted = False
                    break
    total: int | None = len(rows) if exhausted else None
    probe = probe_request(
        entry, extraction.options, extraction.window, extraction.settings, extraction.user_filters
    )
    if probe is not None and not exhausted:
        total = envelope_total(hook.get(*probe))
    return Preview([c.name for c in extraction.columns], rows, total)
