"""The package's layout rules (ARCHITECTURE.md): no import cycle among rowpool's modules, counting
imports inside functions too (only ``if TYPE_CHECKING:`` blocks are left out), and the pandas code
in ``rowpool._pandas``, which the worker's own modules do not import at start-up."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import rowpool

PACKAGE = pathlib.Path(rowpool.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    parts = ["rowpool", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(path: pathlib.Path, modules: set[str]) -> set[str]:
    """The rowpool modules ``path`` imports, anywhere but under ``if TYPE_CHECKING:``."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in modules else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(p) for p in paths}
    return {_module_name(p): _imports(p, modules) for p in paths}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` (package __init__ modules left out: importing a submodule always runs
    its package first, which is no dependency of the submodule's code), or None."""
    graph = {m: {d for d in deps if not graph.get(d) or not _is_package(d)} for m, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for dep in sorted(graph.get(module, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :] + [dep]
            if dep not in state and (found := walk(dep)):
                return found
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := walk(module)):
            return found
    return None


def _is_package(module: str) -> bool:
    return (PACKAGE.parent / module.replace(".", "/") / "__init__.py").exists()


def test_no_import_cycle_inside_rowpool():
    assert _cycle(_graph()) is None


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_pandas_code_lives_in_rowpool_pandas():
    """Outside ``rowpool._pandas`` (and ``files`` and ``dask``, whose windows and partitions are
    pandas frames), only the argument check of ``df``, ``api``'s routing and the demo name pandas."""
    outside = {
        _module_name(p)
        for p in PACKAGE.rglob("*.py")
        if "pandas" in _imports_any(p) and not {"_pandas", "files", "dask"} & set(p.parts)
    }
    assert outside <= {"rowpool._checks", "rowpool.api", "rowpool.cli", "rowpool._deferred_imports"}


def _imports_any(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_worker_modules_import_without_pandas():
    """As a worker starts (the flag set before ``import rowpool``, as ``_launch`` does)."""
    from rowpool._launch import WORKER_FLAG

    code = (
        f"import sys; sys.{WORKER_FLAG} = True; "
        "import rowpool, rowpool._worker, rowpool._local, rowpool._pandas.rows; "
        "sys.exit(int('pandas' in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
