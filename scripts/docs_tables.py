"""The generated tables of the documentation: one command rewrites them all, one test
(``tests/project/test_docs_tables.py``) keeps them true.

Each table is a :class:`Region` of a Markdown file, between the lines
``<!-- generated: NAME (make docs-tables) -->`` and ``<!-- /generated: NAME -->``; its
``render`` returns what goes between them. To add a table, add one ``Region`` to
:data:`REGIONS` and put its two marker lines in the page: ``make docs-tables`` fills it and
the test covers it.

    .venv/bin/python -m scripts.docs_tables            # rewrite every region (make docs-tables)
    .venv/bin/python -m scripts.docs_tables --check    # list the stale ones, exit 1 if any
    .venv/bin/python -m scripts.docs_tables datasets   # only the named regions
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Region:
    """One generated table: its ``name`` (the markers'), the file holding it (relative to the
    repository) and ``render``, which returns the table (without the markers)."""

    name: str
    path: str
    render: Callable[[], str]

    @property
    def start(self) -> str:
        return f"<!-- generated: {self.name} (make docs-tables) -->"

    @property
    def end(self) -> str:
        return f"<!-- /generated: {self.name} -->"

    def file(self, root: Path = REPO) -> Path:
        return root / self.path

    def current(self, file: Path | None = None) -> str:
        """The text between the markers now (without the newlines around it)."""
        text = (file or self.file()).read_text()
        self._check_markers(text, file or self.file())
        return text[text.index(self.start) + len(self.start) : text.index(self.end)].strip("\n")

    def splice(self, body: str, file: Path | None = None, append: bool = False) -> bool:
        """Put ``body`` between the markers (``append``: markers and body appended when the
        file has no markers yet); True when the file changed."""
        path = file or self.file()
        text = path.read_text() if path.exists() else ""
        body = body.strip("\n")
        if append and self.start not in text and self.end not in text:
            updated = text.rstrip("\n") + ("\n\n" if text else "")
            updated += f"{self.start}\n{body}\n{self.end}\n"
        else:
            self._check_markers(text, path)
            head = text[: text.index(self.start) + len(self.start)]
            updated = f"{head}\n{body}\n{text[text.index(self.end) :]}"
        if updated != text:
            path.write_text(updated)
        return updated != text

    def _check_markers(self, text: str, path: Path) -> None:
        once = all(text.count(m) == 1 for m in (self.start, self.end))
        if not once or text.index(self.start) > text.index(self.end):
            raise ValueError(
                f"{path} needs the lines {self.start!r} and {self.end!r} exactly once each, "
                f"in that order, around the {self.name} table"
            )


def _datasets() -> str:
    from airflow_provider_copernica.catalog.describe import markdown_table

    return markdown_table()


def _logfile_columns() -> str:
    from airflow_provider_copernica.catalog.describe import logfile_columns_markdown

    return logfile_columns_markdown()


def _connection() -> str:
    from airflow_provider_copernica.client.settings import connection_table

    return connection_table()


def _catalog_calls() -> str:
    # measured: every dataset once through the operator on a sandbox started for it
    from benchmarks import catalog_calls

    return catalog_calls.run()


REGIONS: tuple[Region, ...] = (
    Region("datasets", "docs/datasets.md", _datasets),
    Region("logfile-columns", "docs/datasets.md", _logfile_columns),
    Region("connection", "docs/connection.md", _connection),
    Region("catalog-calls", "benchmarks/RESULTS.md", _catalog_calls),
)


def regions(names: Iterable[str] | None = None) -> list[Region]:
    """The regions named (all by default); an unknown name is refused with the valid ones."""
    if names is None:
        return list(REGIONS)
    by_name = {r.name: r for r in REGIONS}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown region(s) {unknown}; valid: {', '.join(by_name)}")
    return [by_name[n] for n in names]


def render(selected: Iterable[Region], rendered: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each region's table: from ``rendered`` when given there (a test's own measurement),
    else from its ``render``."""
    given = dict(rendered or {})
    return {r.name: given[r.name] if r.name in given else r.render() for r in selected}


def stale(
    rendered: Mapping[str, str] | None = None, root: Path = REPO, names: Iterable[str] | None = None
) -> list[str]:
    """The names of the regions whose text differs from what would be generated."""
    selected = regions(names)
    tables = render(selected, rendered)
    return [r.name for r in selected if r.current(r.file(root)) != tables[r.name].strip("\n")]


def write(
    rendered: Mapping[str, str] | None = None, root: Path = REPO, names: Iterable[str] | None = None
) -> list[str]:
    """Rewrite the regions; the names of those that changed."""
    selected = regions(names)
    tables = render(selected, rendered)
    return [r.name for r in selected if r.splice(tables[r.name], r.file(root))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.docs_tables")
    parser.add_argument("names", nargs="*", help=f"regions ({', '.join(r.name for r in REGIONS)})")
    parser.add_argument("--check", action="store_true", help="only list the stale regions")
    args = parser.parse_args(argv)
    names = args.names or None
    try:
        regions(names)
    except ValueError as exc:
        parser.error(str(exc))  # exit 2, naming the valid regions
    if "AIRFLOW_HOME" not in os.environ and any(r.name == "catalog-calls" for r in regions(names)):
        from benchmarks.common import setup_environment  # a throw-away home for the operator

        setup_environment()
        logging.getLogger("airflow").setLevel(logging.WARNING)
    if args.check:
        found = stale(names=names)
        for name in found:
            print(f"stale: {name} (run `make docs-tables`)")
        return 1 if found else 0
    for region in regions(names):
        changed = write(names=[region.name])
        print(f"{region.path} [{region.name}]: {'updated' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
