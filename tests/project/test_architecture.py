"""docs/ARCHITECTURE.md stays true: one row per module, no row for a module that is gone,
and nothing outside the repository or on the tracker named."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "airflow_provider_copernica"
ARCHITECTURE = REPO / "docs" / "ARCHITECTURE.md"
ROW = re.compile(r"^\| `([\w/]+\.py)` \|", re.MULTILINE)


def _only_a_docstring(path: Path) -> bool:
    body = ast.parse(path.read_text()).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def modules() -> set[str]:
    """Every module of the package, relative to it; a package ``__init__.py`` that holds
    nothing but a docstring is the wing's name, not a module of its own."""
    return {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if not (path.name == "__init__.py" and _only_a_docstring(path))
    }


def rows() -> list[str]:
    return ROW.findall(ARCHITECTURE.read_text())


def test_every_module_has_exactly_one_row() -> None:
    listed = rows()
    twice = sorted({row for row in listed if listed.count(row) > 1})
    assert not twice, f"modules with more than one row in docs/ARCHITECTURE.md: {twice}"
    missing = sorted(modules() - set(listed))
    assert not missing, f"modules with no row in docs/ARCHITECTURE.md: {missing}"


def test_every_row_names_a_module_that_exists() -> None:
    gone = sorted(set(rows()) - modules())
    assert not gone, f"docs/ARCHITECTURE.md has rows for modules that do not exist: {gone}"


def test_it_names_nothing_outside_the_repository_and_no_tracker_numbers() -> None:
    text = ARCHITECTURE.read_text()
    outside = re.findall(r"\.\./|/work/|/tmp/|https?://(?!127\.0\.0\.1)", text)
    assert not outside, f"docs/ARCHITECTURE.md points outside the repository: {outside}"
    tracker = re.findall(r"(?i)\bissues? #?\d+|#\d+\b|\bstop \d+", text)
    assert not tracker, f"docs/ARCHITECTURE.md names tracker numbers: {tracker}"


def test_it_has_one_picture() -> None:
    assert ARCHITECTURE.read_text().count("```text") == 1
