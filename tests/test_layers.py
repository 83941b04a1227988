"""The import contract: ``bplab → sweeps → experiments → backprop_core``, one way, no cycles.

Imports are read from the source with ``ast`` (nothing is imported), function-level ones included,
so a cycle cannot hide inside a function. ``from pkg import name`` counts as importing the module
``pkg.name`` when there is one, else ``pkg`` itself; a submodule's implicit import of its parent
package's ``__init__`` does not count (a facade ``__init__`` that re-exports its submodules would
otherwise be a cycle with every one of them).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("backprop_core", "experiments", "sweeps", "bplab")
# Each layer may import only the layers after it in this order.
LAYERS = ("bplab", "sweeps", "experiments", "backprop_core")
# Third-party packages that belong to one room.
OWNED = {"mlflow": ("experiments.tracking",), "optuna": ("sweeps",)}
# Modules allowed to import inside functions without a per-import comment, and why.
LAZY_BY_DESIGN = {
    # Each verb imports its module when it runs, so `bplab --help` does not pay for JAX/MLflow/Optuna.
    "bplab.app",
}
LAZY_MARK = "lazy"  # a function-level import says why in a comment holding this word


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    """Every module of the installed packages, by dotted name."""
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


MODULES = project_modules()


def _resolve_from(module: str, node: ast.ImportFrom, path: Path) -> str:
    if not node.level:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports(module: str) -> Iterator[tuple[str, int, bool]]:
    """``(imported module, line, inside a function)`` for each import statement of ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    function_lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function_lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    for node in ast.walk(tree):
        nested = node.lineno in function_lines if hasattr(node, "lineno") else False
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, nested
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(module, node, path)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield (candidate if candidate in MODULES else base), node.lineno, nested


@functools.cache
def project_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for target, _, _ in imports(module):
            while target and target not in MODULES:
                target = target.rpartition(".")[0]  # `import a.b.c` of a non-module attribute path
            if target and target != module and not module.startswith(f"{target}."):
                graph[module].add(target)
    return graph


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def test_the_tree_is_found():
    assert {"backprop_core.network", "bplab.app"} <= set(MODULES)
    assert len(MODULES) > 30


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_flow_down_the_layers(module):
    own = _layer(module)
    for target in project_graph()[module]:
        assert _layer(target) >= own, f"{module} imports {target}, a layer above it"


def test_the_core_imports_nothing_of_the_project():
    for module, targets in project_graph().items():
        if module.startswith("backprop_core"):
            assert all(t.startswith("backprop_core") for t in targets), (module, targets)


def test_no_import_cycles():
    graph = project_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("package, rooms", sorted(OWNED.items()))
def test_third_party_stores_stay_in_their_room(package, rooms):
    for module in MODULES:
        if module.startswith(rooms):
            continue
        for target, line, _ in imports(module):
            assert target.split(".")[0] != package, f"{module}:{line} imports {package}"


def test_function_level_imports_say_why():
    unexplained = []
    for module, path in MODULES.items():
        if module in LAZY_BY_DESIGN:
            continue
        lines = path.read_text().splitlines()
        for target, line, nested in imports(module):
            if not nested:
                continue
            nearby = " ".join(lines[max(0, line - 3) : line]).lower()
            if LAZY_MARK not in nearby:
                unexplained.append(f"{module}:{line} imports {target}")
    assert not unexplained, "function-level imports without a '# lazy: …' reason:\n" + "\n".join(unexplained)


def test_a_planted_cycle_is_caught(tmp_path, monkeypatch):
    """The cycle finder itself can fail: two modules that import each other are reported."""
    pkg = tmp_path / "bplab"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from bplab import b\n")
    (pkg / "b.py").write_text("def f():\n    from bplab import a  # lazy: test\n")
    modules = {_name(pkg, p): p for p in pkg.glob("*.py")}
    monkeypatch.setattr(f"{__name__}.MODULES", modules)
    project_graph.cache_clear()
    monkeypatch.setattr(f"{__name__}.project_graph", functools.cache(project_graph.__wrapped__))
    with pytest.raises(AssertionError, match="import cycles"):
        test_no_import_cycles()


def _name(pkg: Path, path: Path) -> str:
    return "bplab" if path.stem == "__init__" else f"bplab.{path.stem}"
