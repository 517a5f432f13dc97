"""Is a compiled module loaded whenever its package is imported, or only optionally?

Decided from the package's own Python source with `ast`, never by importing it. A module is
*optional* when no import of it runs unconditionally at import time: every import statement
naming it sits inside ``try: … except ImportError`` (or ModuleNotFoundError, Exception, a bare
except), or inside a function (run later, if at all), or nothing in the package imports it by
name at all (``importlib.import_module(name)`` built at run time, a plugin). Popular wheels do
this for threading layers, codecs and GPU back-ends; a missing external library under such a
module costs a feature, not the import.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable

from verify_env.files import read_regular

__all__ = ["is_optional", "module_name"]

_GUARDS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException", "OSError"})
_MAX_SOURCE = 4 << 20  # a generated multi-megabyte .py is not where imports hide


def module_name(location: str, site_dirs: Iterable[str], suffixes: Iterable[str]) -> str | None:
    """The dotted module name of an extension file below one of the site dirs, or None."""
    base = os.path.basename(location)
    stem = None
    for suffix in sorted(suffixes, key=len, reverse=True):
        if base.endswith(suffix):
            stem = base[: -len(suffix)]
            break
    if not stem:
        return None
    for site in site_dirs:
        site = os.path.join(os.path.normpath(site), "")
        if location.startswith(site):
            parts = os.path.dirname(location[len(site) :]).split(os.sep)
            return ".".join([p for p in parts if p] + [stem])
    return None


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    for t in types:
        name = t.attr if isinstance(t, ast.Attribute) else getattr(t, "id", None)
        if name in _GUARDS:
            return True
    return False


def _package_of(rel_file: str) -> list[str]:
    parts = rel_file[:-3].split("/")
    return parts[:-1]  # the same for pkg/__init__.py and pkg/mod.py


class _Sites(ast.NodeVisitor):
    """Collects (unconditional at import time?) for every import naming the module."""

    def __init__(self, module: str, package: list[str]) -> None:
        self.module, self.package = module, package
        self.sites: list[bool] = []
        self._guarded = 0
        self._in_function = 0

    def _hit(self) -> None:
        self.sites.append(self._guarded == 0 and self._in_function == 0)

    def visit_Try(self, node: ast.Try) -> None:
        guarded = any(_catches_import_error(h) for h in node.handlers)
        self._guarded += guarded
        for stmt in node.body:
            self.visit(stmt)
        self._guarded -= guarded
        for other in [*node.handlers, *node.orelse, *node.finalbody]:
            self.visit(other)

    visit_TryStar = visit_Try

    def _function(self, node: ast.AST) -> None:
        self._in_function += 1
        self.generic_visit(node)
        self._in_function -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Import(self, node: ast.Import) -> None:
        if any(a.name == self.module for a in node.names):
            self._hit()

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package[: len(self.package) - (node.level - 1)]
            parts = base + (node.module.split(".") if node.module else [])
        else:
            parts = (node.module or "").split(".")
        mod = ".".join(p for p in parts if p)
        if mod == self.module or any(f"{mod}.{a.name}" == self.module for a in node.names):
            self._hit()

    def visit_Call(self, node: ast.Call) -> None:
        fn = node.func
        name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", None)
        if (
            name in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == self.module
        ):
            self._hit()
        self.generic_visit(node)


def is_optional(module: str, sources: Iterable[tuple[str, str]]) -> bool:
    """True when no import of ``module`` runs unconditionally while its package is imported.

    ``sources``: (location, path relative to the site dir) of the package's ``.py`` files.
    Files that do not mention the module's last name are not parsed at all.
    """
    leaf = module.rsplit(".", 1)[-1].encode()
    for location, rel in sources:
        data = read_regular(location, _MAX_SOURCE)
        if not data or leaf not in data:
            continue
        try:
            tree = ast.parse(data, filename=rel)
        except (SyntaxError, ValueError):
            continue
        visitor = _Sites(module, _package_of(rel))
        visitor.visit(tree)
        if any(visitor.sites):
            return False
    return True
