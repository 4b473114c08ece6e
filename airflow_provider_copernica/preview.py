"""``copernica datasets`` and ``copernica preview``: look at data before scheduling it.

Both use the same catalog and engine as the operator and write nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from airflow_provider_copernica.datasets import DATASETS, get_dataset, validate_options
from airflow_provider_copernica.exceptions import CopernicaConfigError, CopernicaError

if TYPE_CHECKING:
    from airflow_provider_copernica.hooks.copernica import CopernicaHook

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
MAX_CELL = 40
# The engine's progress lines would interleave with the printed table.
_quiet = logging.getLogger(f"{__name__}.engine")


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


def preview_rows(
    hook: CopernicaHook,
    dataset: str,
    *,
    options: Mapping[str, Any] | None = None,
    fields: Sequence[str] | str | None = None,
    date_from: Any = None,
    date_to: Any = None,
    limit: int = 20,
) -> tuple[list[str], list[dict[str, Any]], int]:
    """``(column names, first `limit` rows, total rows in the window)``; writes nothing."""
    from airflow_provider_copernica.extract import prepare
    from airflow_provider_copernica.windows import parse_window

    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise CopernicaConfigError(f"limit must be a whole number >= 0, got {limit!r}")
    entry = get_dataset(dataset)
    window = None
    if date_from is not None or date_to is not None or not entry.snapshot:
        if date_from in (None, "") or date_to in (None, ""):
            raise CopernicaConfigError(
                f"Dataset {dataset!r} is filtered by interval ({entry.interval_filter}): give "
                "both date_from and date_to (e.g. --from 2026-10-25 --to 2026-10-26)"
            )
        window = parse_window(date_from, date_to)
    _quiet.setLevel(logging.WARNING)
    extraction = prepare(hook, dataset, options=options, fields=fields, window=window, log=_quiet)
    rows: list[dict[str, Any]] = []
    total = 0
    for page in extraction.pages():
        if len(rows) < limit:
            rows.extend(page[: limit - len(rows)])
        total += len(page)
    return [c.name for c in extraction.columns], rows, total


def _hook(conn_id: str) -> CopernicaHook:
    from airflow_provider_copernica.hooks.copernica import CopernicaHook

    return CopernicaHook(conn_id)


def _fail(message: str, code: int, err: TextIO) -> int:
    print(f"copernica: error: {message}", file=err)
    return code


def _run(work: Any, err: TextIO) -> int:
    try:
        return work()
    except CopernicaConfigError as exc:
        return _fail(str(exc), EXIT_USAGE, err)
    except CopernicaError as exc:
        return _fail(str(exc), EXIT_ERROR, err)
    except Exception as exc:  # e.g. the Airflow connection does not exist: no traceback
        return _fail(f"{type(exc).__name__}: {exc}", EXIT_ERROR, err)


def datasets_command(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """``copernica datasets [NAME] [--database-id N | --collection-id N] [--product P]``."""
    out, err = out or sys.stdout, err or sys.stderr

    def work() -> int:
        name = getattr(args, "dataset", None)
        if not name:
            rows = [
                (
                    d.name,
                    ", ".join(d.required_options + (("[product]",) if d.product else ())),
                    d.interval_filter,
                    d.description,
                )
                for d in DATASETS.values()
            ]
            print(
                format_table(("dataset", "options", "interval filter", "description"), rows),
                file=out,
            )
            return EXIT_OK
        entry = get_dataset(name)
        given = {
            "database_id": getattr(args, "database_id", None),
            "collection_id": getattr(args, "collection_id", None),
            "product": getattr(args, "product", None),
        }
        options = {k: v for k, v in given.items() if v is not None and k in entry.option_names}
        extra = sorted(k for k, v in given.items() if v is not None and k not in entry.option_names)
        if extra:
            raise CopernicaConfigError(
                f"Dataset {name!r} takes no option {', '.join(extra)}; valid options: "
                f"{', '.join(entry.option_names) or 'none'}"
            )
        validate_options(entry, options)
        from airflow_provider_copernica.extract import available_columns

        columns = available_columns(_hook(args.conn_id), name, options)
        print(f"{entry.name}: {entry.description}", file=out)
        print(f"interval filter: {entry.interval_filter}; key: {entry.key}", file=out)
        print(format_table(("column", "type"), [(c.name, c.type) for c in columns]), file=out)
        return EXIT_OK

    return _run(work, err)


def preview_command(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """``copernica preview DATASET --from .. --to .. [--fields a,b] [--limit N] [--option k=v]``."""
    out, err = out or sys.stdout, err or sys.stderr

    def work() -> int:
        options: dict[str, Any] = {}
        for key, value in getattr(args, "options", None) or []:
            if key in options:
                raise CopernicaConfigError(f"--option {key} is given twice")
            options[key] = value
        fields = args.fields.split(",") if getattr(args, "fields", None) else None
        columns, rows, total = preview_rows(
            _hook(args.conn_id),
            args.dataset,
            options=options,
            fields=fields,
            date_from=args.date_from,
            date_to=args.date_to,
            limit=args.limit,
        )
        print(format_table(columns, [[row.get(c) for c in columns] for row in rows]), file=out)
        shown = f"showing {len(rows)}" if rows else "nothing to show"
        print(f"\n{total} row(s) of {args.dataset} in the window ({shown})", file=out)
        return EXIT_OK

    return _run(work, err)
