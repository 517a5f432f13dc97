"""What ``site`` runs at every start-up: ``pth-executable``/``site-customize`` (unowned code,
moved here from `paths`) and ``pth-error``: a ``.pth`` line that fails, decided without
running it.

``site`` executes each line of a ``.pth`` file that starts with ``import``; when it raises,
every ``python`` started prints ``Error processing line N of …pth`` and a traceback. The lines
come parsed from the target's facts (`introspect`: nothing of the environment runs); here each
is parsed again with `ast` and judged by two rules:

1. **The module is absent.** An ``import X`` / ``from X import …`` / ``__import__('X')`` whose
   top-level X is neither in the standard library nor findable in any sys.path directory (as
   ``X.py``, a package or namespace dir, a compiled module): a leftover ``__editable__`` finder
   whose module was deleted. A sys.path entry that is not a directory (a zip) may hold
   anything, so then nothing is judged absent.
2. **The module is another distribution's and lacks what the line uses.** ``X.name`` or
   ``from X import name`` where the file that provides X is recorded by another distribution
   than the ``.pth`` file (or by none), and X's source, parsed, binds no ``name`` at module
   level (and has no module ``__getattr__`` nor ``import *`` that could supply it): the
   ``distutils-precedence.pth`` of one setuptools calling ``_distutils_hack`` of another.
   The owner test keeps the rule to mixed installs: a distribution's own ``.pth`` and module
   were built and tested together, and a name bound in ways a parse cannot see (``globals()``
   writes) is theirs to know.

A path line naming a missing directory is not an error: ``site`` skips it silently.
"""

from __future__ import annotations

import ast
import os
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from verify_env.checks.interface import Context
from verify_env.files import read_regular
from verify_env.finding import Finding, Severity
from verify_env.inventory import Distribution

__all__ = ["pth_findings", "startup_code"]

_LINE_CAP = 500
"""The probe keeps this much of a line; a longer one is cut, so it is not judged."""
_SOURCE_CAP = 1 << 20
"""Bytes of a module's source parsed to learn its names."""


@dataclass(frozen=True, slots=True)
class _Use:
    module: str
    """The top-level module the line imports."""
    names: tuple[str, ...]
    """Attributes of it the line uses (``X.name``, ``from X import name``)."""


def _uses(tree: ast.AST) -> list[_Use]:
    """What a line imports and which of its attributes it touches."""
    bound: dict[str, str] = {}  # local name -> top-level module
    found: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.partition(".")[0]
                found.setdefault(top, set())
                bound[alias.asname or top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            top = node.module.partition(".")[0]
            names = found.setdefault(top, set())
            if "." not in node.module:
                names.update(a.name for a in node.names if a.name != "*")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            base = node.value
            if isinstance(base, ast.Name) and base.id in bound:
                found[bound[base.id]].add(node.attr)
            elif (
                isinstance(base, ast.Call)
                and isinstance(base.func, ast.Name)
                and base.func.id == "__import__"
                and base.args
                and isinstance(base.args[0], ast.Constant)
                and isinstance(base.args[0].value, str)
            ):
                module = base.args[0].value
                if "." not in module:
                    found.setdefault(module, set()).add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.setdefault(node.args[0].value.partition(".")[0], set())
    return [_Use(m, tuple(sorted(n))) for m, n in found.items()]


def _locate(module: str, path: tuple[str, ...], suffixes: tuple[str, ...]) -> str | None:
    """Where the path-based finder would find ``module``: the source file, the package dir
    (namespace), or the compiled module; None when nowhere."""
    for entry in path:
        base = os.path.join(entry, module)
        init = os.path.join(base, "__init__.py")
        if os.path.isfile(init):
            return init
        for suffix in suffixes:
            if os.path.isfile(base + suffix):
                return base + suffix
        if os.path.isdir(base):
            return base + os.sep  # a namespace package: importable, no names of its own
    return None


def _module_names(source: str) -> set[str] | None:
    """Names a module binds at its top level, or None when a parse cannot tell."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.partition(".")[0])
        else:
            for sub in ast.walk(node):  # assignments, also inside if/try at module level
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
                elif isinstance(sub, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                    names.add(sub.name)
                elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                    names.update(a.asname or a.name.partition(".")[0] for a in sub.names)
    return None if "__getattr__" in names else names


def _lacking(
    module_file: str, used: tuple[str, ...], parsed: dict[str, set[str] | None]
) -> list[str]:
    """The names of ``used`` that the module's source, parsed, does not bind (none when the
    parse cannot tell or the file cannot be read)."""
    if module_file not in parsed:
        data = read_regular(module_file, _SOURCE_CAP)
        parsed[module_file] = (
            None if data is None else _module_names(data.decode("utf-8", "surrogateescape"))
        )
    names = parsed[module_file]
    return [] if names is None else [n for n in used if n not in names]


def _owners(ctx: Context, wanted: set[str]) -> dict[str, Distribution]:
    out: dict[str, Distribution] = {}
    for dist in ctx.inventory.distributions:
        for f in dist.files:
            if f[1] in wanted:
                out.setdefault(f[1], dist)
    return out


def _repair(ctx: Context, pth: str, owner: Distribution | None) -> str:
    python = shlex.quote(ctx.target.command_python or "python")
    if owner is None:
        return f"remove {pth}: no installed distribution owns it"
    rebuild = "rebuild it in place: pip "
    if owner.hint and owner.hint.startswith(rebuild):  # an editable install
        return f"rebuild it in place: {python} -m pip {owner.hint[len(rebuild) :]}"
    if owner.installer == "uv":
        return (
            f"uv pip install --python {python} --reinstall --no-deps {owner.name}=={owner.version}"
        )
    if owner.installer in ("conda", "dpkg") and owner.hint:
        return owner.hint
    return f"{python} -m pip install --force-reinstall --no-deps {owner.name}=={owner.version}"


def pth_findings(ctx: Context) -> Iterator[Finding]:
    """One finding per failing ``.pth`` line."""
    target = ctx.target
    if not target.startup_code:
        return
    path = tuple(p for p in target.sys_path if p)
    opaque = any(not os.path.isdir(p) for p in path if os.path.exists(p))
    suffixes = (".py", ".pyc", *target.extension_suffixes)
    failing: list[tuple[str, int, str, str, str | None]] = []  # pth, line, text, why, module
    parsed: dict[str, set[str] | None] = {}
    for pth, line_no, line in target.startup_code:
        if len(line) >= _LINE_CAP:
            continue
        try:
            tree = ast.parse(line)
        except (SyntaxError, ValueError) as err:
            reason = err.msg if isinstance(err, SyntaxError) else str(err)
            failing.append((pth, line_no, line, f"it is not valid Python ({reason})", None))
            continue
        for use in _uses(tree):
            if use.module in target.stdlib_modules:
                continue
            where = _locate(use.module, path, suffixes)
            if where is None:
                if not opaque:
                    why = f"module {use.module!r} is in no sys.path directory of this environment"
                    failing.append((pth, line_no, line, why, None))
                break
            if use.names and not where.endswith(os.sep) and where.endswith(".py"):
                lacking = _lacking(where, use.names, parsed)
                if lacking:
                    failing.append((pth, line_no, line, ",".join(lacking), where))
    if not failing:
        return
    owners = _owners(ctx, {f[0] for f in failing} | {f[4] for f in failing if f[4]})
    for pth, line_no, line, why, module_file in failing:
        owner = owners.get(pth)
        if module_file is not None:
            theirs = owners.get(module_file)
            if owner is not None and theirs is owner:
                continue
            lacking = why.split(",")
            by = f"{theirs.name} {theirs.version}" if theirs is not None else "no distribution"
            why = (
                f"it uses {', '.join(lacking)} of {module_file}, which {by} installed and "
                "which defines no such name"
            )
            yield _finding(owner, pth, line_no, line, why, _mismatch_repair(ctx, owner, theirs))
            continue
        yield _finding(owner, pth, line_no, line, why, _repair(ctx, pth, owner))


def _finding(
    owner: Distribution | None, pth: str, line_no: int, line: str, why: str, hint: str
) -> Finding:
    whose = f"{owner.name} {owner.version}'s" if owner is not None else "an unowned"
    return Finding(
        "paths",
        "pth-error",
        Severity.ERROR,
        owner.name if owner is not None else None,
        owner.version if owner is not None else None,
        owner.installer if owner is not None else None,
        pth,
        f"line {line_no} of {whose} {pth} fails at every start-up ('Error processing "
        f"line {line_no} of {pth}'): {why}; the line: {line[:200]!r}",
        hint,
    )


def _mismatch_repair(ctx: Context, owner: Distribution | None, theirs: Distribution | None) -> str:
    """The module the line calls is another distribution's and lacks the name: bring that
    one to a release that has it, or remove the distribution whose .pth calls it."""
    python = shlex.quote(ctx.target.command_python or "python")
    if theirs is None or owner is None:
        what = owner.name if owner is not None else "the .pth file"
        return f"remove the module the line imports, or reinstall {what}"
    return (
        f"{python} -m pip install --upgrade {theirs.name} (a release with what "
        f"{owner.name}'s .pth calls), or {python} -m pip uninstall -y {owner.name}"
    )


def _is_owned(location: str, owned: set[str], ctx: Context) -> bool:
    real = os.path.realpath(location)
    os_db = ctx.inventory.os_database
    for candidate in {os.path.normpath(location), real}:
        if candidate in owned or (os_db is not None and os_db.owner(candidate) is not None):
            return True
    return False


def startup_code(
    ctx: Context, owned_locations: Callable[[tuple[Distribution, ...]], set[str]]
) -> Iterator[Finding]:
    """Unowned code ``site`` runs at every start-up: ``.pth`` import lines, sitecustomize."""
    target = ctx.target
    if not target.startup_code and not target.customize:
        return
    owned = owned_locations(ctx.inventory.distributions)
    reported: set[str] = set()
    for pth, line_no, line in target.startup_code:
        if pth in reported or _is_owned(pth, owned, ctx):
            continue
        reported.add(pth)
        yield Finding(
            "paths",
            "pth-executable",
            Severity.WARNING,
            None,
            None,
            None,
            pth,
            f"{pth} line {line_no}: {line[:200]!r} runs at every start-up of this "
            "environment's Python, and no installer owns the file",
            f"remove {pth}, or reinstall the distribution that should own it",
        )
    for module in target.customize:
        if _is_owned(module, owned, ctx):
            continue
        yield Finding(
            "paths",
            "site-customize",
            Severity.WARNING,
            None,
            None,
            None,
            module,
            f"{module} is imported by site at every start-up of this environment's Python, "
            "and no installer owns it",
            f"remove {module}, or install it through a package that records it",
        )
