"""The provider's runtime import graph has no cycle outside ``sandbox/``, and calls go one
way: the client and the catalog never import the engine, the output, the faithful copy or
the Airflow-facing classes that call them.

The graph is built from the source with :mod:`ast`, not by importing it: one node per module
of ``airflow_provider_copernica``, one edge per import statement at any depth (module level,
and inside functions and classes: a lazy import still runs), except those in an
``if TYPE_CHECKING:`` block (never run). ``import a.b`` is an edge to ``a.b``; ``from a
import b`` an edge to the module ``a.b`` if there is one, else to ``a`` (where the name is
defined). The parent packages Python runs on the way (``a/__init__.py``) are not edges of
their own: every ``__init__.py`` that imports its submodules would otherwise be a cycle.
A cycle is a strongly connected component of more than one module (or a module that
imports itself).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

PACKAGE = "airflow_provider_copernica"
ROOT = Path(__file__).resolve().parents[2]
EXEMPT = f"{PACKAGE}.sandbox"  # a product of its own, cut on its own
CALLERS = tuple(
    f"{PACKAGE}.{wing}"
    for wing in ("engine", "output", "faithful", "operators", "sensors", "triggers", "cli")
)
# what sits below the callers: it may be imported by them, never import them
CALLED = {
    "client": (f"{PACKAGE}.client", f"{PACKAGE}.hooks"),
    "catalog": (f"{PACKAGE}.catalog", f"{PACKAGE}.interval"),
}

Edges = dict[str, dict[str, int]]  # module -> {imported module: line of the first import}


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package under ``root``."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _within(name: str, *wings: str) -> bool:
    return any(name == wing or name.startswith(f"{wing}.") for wing in wings)


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(nodes: Iterable[ast.AST]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in ``nodes`` that can run (not under ``if TYPE_CHECKING:``)."""
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _type_checking(node.test):
            yield from _runtime_imports(node.orelse)
        else:
            yield from _runtime_imports(ast.iter_child_nodes(node))


def import_graph(root: Path = ROOT) -> Edges:
    known = modules(root)

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: Edges = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: dict[str, int] = {}
        for statement in _runtime_imports([ast.parse(path.read_text(), str(path))]):
            if isinstance(statement, ast.Import):
                targets = [alias.name for alias in statement.names]
            else:
                base = statement.module or ""
                if statement.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - statement.level + 1]
                    base = ".".join([*parts, *([base] if base else [])])
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                    for alias in statement.names
                ]
            for target in targets:
                found = resolve(target)
                if found is not None and found != name:
                    edges.setdefault(found, statement.lineno)
        graph[name] = edges
    return graph


def strongly_connected(graph: Edges) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:  # depth of the package's import chains: small
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, {}):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components, key=lambda c: (-len(c), c))


def _explain(component: list[str], graph: Edges, root: Path = ROOT) -> str:
    files = modules(root)
    lines = [f"{len(component)} modules import each other:"]
    for name in component:
        for other, line in sorted(graph[name].items()):
            if other in component:
                where = files[name].relative_to(root)
                lines.append(f"  {name} -> {other}  ({where}:{line})")
    return "\n".join(lines)


def test_the_graph_counts_lazy_imports_and_skips_type_checking_ones(tmp_path: Path) -> None:
    files = {
        "__init__.py": "",
        "a.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from airflow_provider_copernica import b\n"
            "else:\n    import json\n"
            "def f():\n    from . import c\n"
        ),
        "b.py": "from airflow_provider_copernica.d import NAME\n",
        "c.py": "from airflow_provider_copernica import a\n",
        "d/__init__.py": "NAME = 1\n",
    }
    for name, text in files.items():
        path = tmp_path / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    graph = import_graph(tmp_path)
    edges = {name.removeprefix(PACKAGE): sorted(graph[name]) for name in graph}
    assert edges == {
        "": [],
        ".a": [f"{PACKAGE}.c"],  # lazy and relative: an edge; TYPE_CHECKING: none
        ".b": [f"{PACKAGE}.d"],  # a name defined in a package: the package
        ".c": [f"{PACKAGE}.a"],  # a submodule: the submodule, not the package
        ".d": [],
    }
    assert strongly_connected(graph) == [[f"{PACKAGE}.a", f"{PACKAGE}.c"]]


def test_no_import_cycle_outside_the_sandbox() -> None:
    graph = import_graph()
    cycles = [c for c in strongly_connected(graph) if not all(_within(m, EXEMPT) for m in c)]
    assert not cycles, "\n\n".join(_explain(c, graph) for c in cycles)


@pytest.mark.parametrize("wing", sorted(CALLED))
def test_calls_go_one_way(wing: str) -> None:
    graph = import_graph()
    upward = [
        f"{name} -> {other} (line {line})"
        for name, edges in graph.items()
        if _within(name, *CALLED[wing])
        for other, line in edges.items()
        if _within(other, *CALLERS)
    ]
    assert not upward, f"the {wing} imports what calls it:\n" + "\n".join(upward)


def test_the_sandbox_is_cut_on_its_own() -> None:
    """Inside ``sandbox/`` no cycle either, and nothing of the provider it fakes is imported
    (so a wrong name there cannot be served as right)."""
    graph = import_graph()
    own = {name: edges for name, edges in graph.items() if _within(name, EXEMPT)}
    cycles = [c for c in strongly_connected(graph) if all(_within(m, EXEMPT) for m in c)]
    assert not cycles, "\n\n".join(_explain(c, graph) for c in cycles)
    outside = {
        f"{name} -> {other} (line {line})"
        for name, edges in own.items()
        for other, line in edges.items()
        if not _within(other, EXEMPT)
    }
    assert not outside, "the sandbox imports the provider:\n" + "\n".join(sorted(outside))
