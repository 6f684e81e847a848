"""The dependency rule, checked on the source: no import cycle between modules, and no package imports one
on its own floor or above (``ui`` on top; ``rag`` and ``trainer`` in the middle, apart; ``embedder`` at the
bottom). Imports inside functions count too, and so does a string that is exactly a module's dotted name (what
``importlib.import_module`` would be given)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOORS = {"embedder": 0, "rag": 1, "trainer": 1, "ui": 2}


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the four packages."""
    files = {}
    for package in FLOORS:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


def imported_names(name: str, path: Path, modules: set[str]) -> set[str]:
    """Every dotted name a module imports (relative imports resolved), at any depth of the file, and every
    string that is exactly a module's name (what ``importlib.import_module`` and ``find_spec`` are given)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and node.value in modules:
            found.add(node.value)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from pkg import name`` names ``pkg`` unless ``name`` is a module)."""
    files = module_files()
    graph = {}
    for name, path in files.items():
        targets = set()
        for dotted in imported_names(name, path, set(files)):
            while dotted and dotted not in files:
                dotted = dotted.rpartition(".")[0]
            if dotted and dotted != name:
                targets.add(dotted)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path (first node repeated at the end), or ``None``."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_graph_sees_relative_lazy_and_dynamic_imports(tmp_path):
    graph = import_graph()
    assert "embedder.protocol" in graph["embedder.registry"]  # relative, top of file
    assert "embedder.evaluation.bm25" in graph["embedder.registry"]  # inside a function
    assert {"rag.cli", "trainer.cli", "embedder.cli"} <= graph["ui.cli"]


def test_find_cycle_on_hand_built_graphs():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_dependencies_point_down(package):
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        if module.split(".")[0] == package
        for target in targets
        if target.split(".")[0] != package and FLOORS[target.split(".")[0]] >= FLOORS[package]
    )
    assert not upward, f"{package} imports a package on its own floor or above:\n" + "\n".join(upward)
