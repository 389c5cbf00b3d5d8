"""The product packages' import graph: no circles, and an ingester free of the offline store.

The graph is read from the source (every ``import`` statement, at module level,
inside a function or under ``if TYPE_CHECKING:``), so a circle hidden behind a
late or a type-only import counts too: a type-only circle is still two modules
that cannot be understood one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("feast_pinot", "stream_ingest")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _statements(tree: ast.AST) -> list[ast.stmt]:
    """Every import statement, type-only ones included."""
    return [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


def _imported(module: str, modules: dict[str, Path]) -> set[str]:
    """Every module ``module`` imports; ``from a import b`` names ``a.b`` where that is a module."""
    path = modules[module]
    here = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _statements(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                base = f"{anchor}.{base}".rstrip(".")
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return names - {module}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {n for n in _imported(name, modules) if n in modules} for name in modules}


def _third_party(module: str) -> set[str]:
    return {n for n in _imported(module, _modules()) if not n.startswith(PACKAGES)}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_the_product_packages_have_no_import_circle() -> None:
    graph = _graph()
    assert {"feast_pinot.offline.parts", "stream_ingest.sinks"} <= set(graph)  # the graph is the real tree
    assert graph["feast_pinot.offline.log"] >= {"feast_pinot.offline.engine", "feast_pinot.offline.duckdb"}
    assert _circles(graph) == []


def test_a_type_only_import_counts(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a import b\n")
    assert [n.module for n in _statements(ast.parse(module.read_text()))] == ["typing", "a"]


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize("forbidden", ["feast_pinot.offline_store", "feast_pinot.offline.store",
                                       "feast.infra.offline_stores", "duckdb"])
def test_the_ingester_and_the_parts_module_stay_clear_of_the_offline_store(forbidden: str) -> None:
    graph = _graph()
    starts = ["feast_pinot.offline.parts"] + [m for m in graph if m.startswith("stream_ingest")]
    reached = set().union(*(_reachable(graph, start) for start in starts))
    users = sorted(m for m in reached if any(n == forbidden or n.startswith(forbidden + ".")
                                             for n in graph[m] | _third_party(m)))
    assert users == []


def test_no_core_module_imports_pyspark() -> None:
    """pyspark is the ``[spark]`` extra: only the Spark engine's own modules import it (the default install works)."""
    graph = _graph()
    users = {m for m in graph if any(n == "pyspark" or n.startswith("pyspark.") for n in _third_party(m))}
    assert "feast_pinot.offline.spark.engine" in users  # the graph sees the engine's imports
    engine = "feast_pinot.offline.spark."
    assert sorted(m for m in users if not m.startswith(engine)) == []
    free = {"feast_pinot.offline.spark", "feast_pinot.offline.spark.config", "feast_pinot.offline.spark.tasks"}
    reaching = sorted(m for m in graph if (not m.startswith(engine) or m in free) and _reachable(graph, m) & users)
    assert reaching == []
