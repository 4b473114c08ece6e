"""The catalog as people read it: datasets grouped by kind, with their options, window and
key. ``copernica datasets`` prints it; the dataset table of docs/datasets.md is
:func:`markdown_table` (``copernica datasets --markdown``; ``make docs-tables`` writes it there,
and a test keeps the two equal)."""

from __future__ import annotations

from collections.abc import Iterable

from airflow_provider_copernica.catalog import logfiles
from airflow_provider_copernica.catalog.datasets import DATASETS, KINDS, Dataset
from airflow_provider_copernica.catalog.window_styles import window_style


def by_kind(entries: Iterable[Dataset] | None = None) -> list[tuple[str, list[Dataset]]]:
    """``(kind, entries)`` in ``KINDS`` order (catalog order within a kind); empty kinds are
    left out, and a kind outside ``KINDS`` comes last."""
    entries = list(DATASETS.values() if entries is None else entries)
    kinds = list(KINDS) + sorted({e.kind for e in entries} - set(KINDS))
    groups = [(kind, [e for e in entries if e.kind == kind]) for kind in kinds]
    return [(kind, group) for kind, group in groups if group]


def options_text(entry: Dataset, code: str = "", values: bool = True) -> str:
    """The options: required ones, ``[product: a|b]``, then ``[choice: a|b]`` (optional ones
    in brackets; ``values=False``: names only)."""
    parts = [f"{code}{name}{code}" for name in entry.required_options]
    optional = [("product", entry.products)] if entry.product else []
    optional += [(c.name, c.values) for c in entry.choices]
    for name, choices in optional:
        listed = f": {'|'.join(choices)}" if values else ""
        parts.append(f"[{code}{name}{code}{listed}]")
    parts += [f"[{code}{name}{code}]" for name in entry.optional_options]
    return ", ".join(parts)


def _style_text(style: object) -> str:
    spec = window_style(style)  # type: ignore[arg-type]
    names = [n for n in (spec.start, spec.end) if n is not None]
    if spec.send_as == "conditions":
        return " ".join(f"fields[]={n}" for n in dict.fromkeys(names))
    return "/".join(names)


def window_text(entry: Dataset) -> str:
    """How the interval selects the records, and the API parameters that carry it (also
    under the options that make a snapshot entry windowed)."""
    if entry.snapshot:
        # a snapshot's own words when it has some (an id list, deletions since the last run)
        text = entry.interval_filter
        if text == Dataset.interval_filter:
            text = "snapshot (as of the run)"
        windowed = [f"; {c.name}: {c.description}" for c in entry.choices if c.window]
        return text + "".join(windowed)
    styles = entry.window_params
    if isinstance(styles, dict) or hasattr(styles, "items"):
        sent = "; ".join(f"{p}: {_style_text(s)}" for p, s in styles.items())  # type: ignore[union-attr]
    else:
        sent = _style_text(styles)
    if sent in entry.interval_filter:
        return entry.interval_filter
    return f"{entry.interval_filter} ({sent})"


def rows() -> list[tuple[str, str, str, str, str]]:
    """``(kind, dataset, options, window, key)`` per entry, grouped by kind."""
    return [
        (kind, e.name, options_text(e), window_text(e), e.key)
        for kind, group in by_kind()
        for e in group
    ]


def markdown_table() -> str:
    """The dataset table of docs/datasets.md (``copernica datasets --markdown``)."""
    lines = ["| kind | dataset | options | window | key |", "|---|---|---|---|---|"]
    for kind, group in by_kind():
        for e in group:
            window = window_text(e).replace("|", "\\|")
            options = options_text(e, "`").replace("|", "\\|")
            lines.append(f"| {kind} | `{e.name}` | {options} | {window} | `{e.key}` |")
    return "\n".join(lines)


def logfile_columns_markdown() -> str:
    """Each log type's columns, in order with their types, and what is read besides the
    documented names: the logfile-columns table of docs/datasets.md."""
    lines = [
        "| log type | `log_type` (product) | columns | notes |",
        "|---|---|---|---|",
    ]
    for name, family, product, columns in logfiles.type_table():
        listed = ", ".join(f"`{c.name}` {c.type}" for c in columns)
        notes = [f"reads `{a}` as `{c}`" for a, c in logfiles.ALIASES.get(name, {}).items()]
        notes += [f"old-style rows have no `{c}`" for c in logfiles.OPTIONAL.get(name, ())]
        if columns[0].name == logfiles.ROW_KEY:
            notes.append(f"key `{logfiles.ROW_KEY}`: time\\|recipient\\|place in the file")
        given = f"`{family}` ({product})"
        if name not in logfiles.LOG_TYPES[family]:
            given = f"its type name only ({product})"
        lines.append(f"| `{name}` | {given} | {listed} | {'; '.join(notes)} |")
    return "\n".join(lines)


__all__ = [
    "by_kind",
    "logfile_columns_markdown",
    "markdown_table",
    "options_text",
    "rows",
    "window_text",
]
