"""The layout keeps the design's shape: no import cycles between modules (TYPE_CHECKING imports
included), a short top level, and one caller of the engine — the session every front door uses."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREES = (ROOT / "src", ROOT / "conda_plugin", ROOT / "pip_hook")


def _modules() -> dict[str, Path]:
    out = {}
    for base in TREES:
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _module_level_imports(tree: ast.Module) -> Iterator[str]:
    """Imports run when the module is imported, and those under ``if TYPE_CHECKING:``."""

    def walk(body: list[ast.stmt]) -> Iterator[str]:
        for node in body:
            if isinstance(node, ast.If | ast.Try):
                yield from walk(node.body)
                yield from walk(node.orelse)
            elif isinstance(node, ast.Import):
                yield from (a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                yield node.module
                yield from (f"{node.module}.{a.name}" for a in node.names)

    yield from walk(tree.body)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {
            dep
            for dep in _module_level_imports(ast.parse(path.read_text()))
            # a package's __init__ runs before its modules anyway: not an edge back to it
            if dep in modules and dep != name and not name.startswith(f"{dep}.")
        }
        for name, path in modules.items()
    }


def test_no_import_cycles() -> None:
    graph = _graph()
    cycles = []
    for start in graph:
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for dep in graph[node]:
                if dep == start:
                    cycles.append(" -> ".join([*path, start]))
                elif dep not in seen:
                    seen.add(dep)
                    stack.append((dep, [*path, dep]))
    assert not cycles, cycles


def test_top_level_is_short() -> None:
    top = sorted(p.stem for p in (ROOT / "src/verify_env").glob("*.py"))
    assert len(top) <= 15, top


def _all_imports(tree: ast.Module) -> Iterator[str]:
    """Every import in a module, those inside functions too (imported when first needed)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def test_only_the_session_runs_the_engine() -> None:
    """Front doors (and everything else) verify through `verify_env.session.Session`, which
    imports the engine while the target's probe runs."""
    engine = {"verify_env.verify", "verify_env.verify.verify"}
    importers = sorted(
        name
        for name, path in _modules().items()
        if name != "verify_env.verify" and set(_all_imports(ast.parse(path.read_text()))) & engine
    )
    assert importers == ["verify_env.session"], importers
