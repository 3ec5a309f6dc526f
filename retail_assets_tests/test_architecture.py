"""The package's layering, read from the source: no import cycles, and Dagster only in its layer.

Imports are read with `ast` (every import statement, including those inside functions and under
TYPE_CHECKING), so a cycle that only a lazy import hides still counts: it is still two modules
that each need the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "retail_assets"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
# The Dagster layer; everything else is a library usable (and tested) without Dagster.
DAGSTER_LAYER = (f"{PACKAGE}.defs", f"{PACKAGE}.definitions")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in ROOT.rglob("*.py")}


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Modules of the package (and top-level third-party names) that `path` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from pkg import module` imports that module too
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {m for m in _imports(path, name, modules) if m in modules and m != name}
        for name, path in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_walk_sees_the_package() -> None:
    graph = _graph()
    assert f"{PACKAGE}.defs.assets.bronze" in graph
    assert f"{PACKAGE}.lakehouse.bronze" in graph[f"{PACKAGE}.defs.assets.bronze"]


def test_no_module_imports_itself_through_others() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_dagster_layer_imports_dagster() -> None:
    modules = _modules()
    offenders = sorted(
        name
        for name, path in modules.items()
        if not name.startswith(DAGSTER_LAYER)
        and any(
            m == "dagster" or m.startswith(("dagster.", "dagster_")) for m in _imports(path, name, modules)
        )
    )
    assert offenders == []


def test_libraries_do_not_reach_into_the_dagster_layer() -> None:
    graph = _graph()
    offenders = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        if not name.startswith(DAGSTER_LAYER) and name != f"{PACKAGE}.cli"
        for target in targets
        if target.startswith(DAGSTER_LAYER)
    )
    assert offenders == []
