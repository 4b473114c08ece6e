"""Look at a dataset's first rows before scheduling it: the engine behind ``copernica preview``
and the ``copernica_preview`` DAG ("Test Data"). Writes nothing.

A preview is billed like any extraction, so it reads only the pages it shows (at most
``ceil(limit / page_size)`` data calls, no prefetch) plus one count request for the total,
whatever the window.
"""

from __future__ import annotations

import contextlib
import json
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_copernica.catalog.datasets import get_dataset
from airflow_provider_copernica.exceptions import CopernicaConfigError
from airflow_provider_copernica.faithful.deletions import refuse_outside_operator

if TYPE_CHECKING:
    from airflow_provider_copernica.hooks.copernica import CopernicaHook

MAX_CELL = 40
"""A table cell's width: longer values are cut (previews) or wrapped (``wrap=True``)."""
WIDTH = 100
"""A preview's widest line: a terminal or the task log pane of a normal window. A table
wider than this is shown one record per block, each value cut to fit."""
MASKED = "***"
MASKED_COLUMNS = frozenset({"secret"})
"""Shown as :data:`MASKED` in previews (the key to a profile's personalised pages); the
extracted file keeps the value, since it is the user's data."""


def _text(value: Any) -> str:
    if value is None:
        text = ""
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    return text.replace("\n", " ")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, wrap: bool = False
) -> str:
    """An aligned plain-text table with a header and a separator line.

    Cells longer than :data:`MAX_CELL` are cut with "…", or with ``wrap`` continued on the
    next lines of the same row (every word printed whole).
    """
    cells = [[_text(v) for v in row] for row in rows]
    if wrap:
        lines_of = [[textwrap.wrap(v, MAX_CELL) or [""] for v in row] for row in cells]
    else:
        lines_of = [[[_cut(v, MAX_CELL)] for v in row] for row in cells]
    widths = [len(c) for c in columns]
    for row in lines_of:
        widths = [max(w, *(len(x) for x in v)) for w, v in zip(widths, row, strict=True)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    lines = [line(columns), "  ".join("-" * w for w in widths)]
    for row in lines_of:
        for k in range(max(len(v) for v in row)):
            lines.append(line([v[k] if k < len(v) else "" for v in row]))
    return "\n".join(lines)


class Preview(NamedTuple):
    """The first rows of a dataset in a window, and how many rows the window holds."""

    columns: list[str]
    rows: list[dict[str, Any]]
    total: int | None
    """Rows in the window; None when the dataset has no count request and more rows exist."""

    def _shown(self) -> list[list[str]]:
        """The rows as text, :data:`MASKED_COLUMNS` masked."""
        return [
            [
                MASKED if c in MASKED_COLUMNS and row.get(c) else _text(row.get(c))
                for c in self.columns
            ]
            for row in self.rows
        ]

    def lines(self, dataset: str, width: int = WIDTH) -> list[str]:
        """The preview as lines of at most ``width`` characters, the last one saying what
        was left out: a table when it fits, else one block per record."""
        shown = self._shown()
        table = format_table(self.columns, shown).splitlines()
        bound = MAX_CELL
        if max(len(x) for x in table) <= width:
            out = table
        else:
            name_width = min(max(len(c) for c in self.columns), width // 3)
            bound = width - name_width - 4
            out = []
            for n, values in enumerate(shown, 1):
                out.append(f"-- record {n} of {len(shown)} --")
                out += [
                    f"  {_cut(c, name_width).ljust(name_width)}  {_cut(v, bound)}".rstrip()
                    for c, v in zip(self.columns, values, strict=True)
                ]
        cut = sum(len(v) > bound for values in shown for v in values)
        masked = [c for c in self.columns if c in MASKED_COLUMNS and self.rows]
        last = textwrap.wrap(self.left_out(cut=cut, cut_at=bound, masked=masked), width)
        return [*out, "", self.summary(dataset), *last]

    def table(self, dataset: str = "", width: int = WIDTH) -> str:
        return "\n".join(self.lines(dataset, width))

    def summary(self, dataset: str) -> str:
        shown = f"showing {len(self.rows)}" if self.rows else "nothing to show"
        if self.total is None:
            return f"more than {len(self.rows)} row(s) of {dataset} in the window ({shown})"
        return f"{self.total} row(s) of {dataset} in the window ({shown})"

    def left_out(self, *, cut: int = 0, cut_at: int = MAX_CELL, masked: Sequence[str] = ()) -> str:
        """What the preview did not show: rows past the limit, cut values, masked columns."""
        parts = []
        if self.total is None:
            parts.append("more rows (raise limit)")
        elif self.total > len(self.rows):
            parts.append(f"{self.total - len(self.rows)} row(s) (raise limit)")
        if cut:
            parts.append(f"{cut} value(s) cut to {cut_at} characters")
        parts += [f"{column} (masked: {MASKED})" for column in masked]
        return "left out: " + (", ".join(parts) or "nothing")


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
