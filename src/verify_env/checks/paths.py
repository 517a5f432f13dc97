"""The ``paths`` check: does ``import x`` reach the files the installers put there?

Two ways it does not, both about directories rather than files:

- ``foreign-site-packages``: a sys.path entry (from PYTHONPATH, a ``.pth`` line, or the
  interpreter's own path) holding another Python's packages — ``python3.12/site-packages`` in a
  3.11 process, or compiled modules whose ABI tag the target cannot load, with no loadable
  build beside them.
- ``pth-executable`` / ``site-customize``: code ``site`` runs at every start-up (an ``import``
  line of a ``.pth`` file, a ``sitecustomize`` module) that no installer owns. The target's
  facts say where (`introspect` parses the files; nothing of the environment is run).
- ``distributions-unseen``: the prefix's site-packages hold ``*.dist-info`` dirs while the
  inventory is empty: the facts the verdict rests on are wrong, so "OK" would be false.
- ``script-interpreter`` (`scripts`): scripts whose ``#!`` names an interpreter that is gone
  (a moved venv); ``pth-error`` (`pth`): a ``.pth`` line that fails at every start-up, decided
  by parsing it; a user-site copy shadowing the environment's (`usersite`).
- ``shadowed-module``: a module or regular package that Python finds *before* the installed one
  — a local ``numpy/`` in the working directory (sys.path[0] of ``python``, ``python -c`` and
  ``python -m`` started there), a stray ``six.py`` in a PYTHONPATH dir — or before the standard
  library (``random.py`` in the working directory).

Only what no installer owns can shadow here: one installed distribution overriding another (a
venv over ``--system-site-packages``) is how those layers are meant to work, and the
requirements check judges the versions Python will import. The user site is the exception
(`usersite`): a copy there of another version than the environment's is one person's
``pip install --user`` silently replacing what the environment holds. A namespace
directory (no ``__init__.py``) shadows nothing: the import system keeps looking past it. A
working tree that is the source of an installed distribution (``pip install .`` or ``-e .``
from it, per ``direct_url.json``) shadows it on purpose.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import itemgetter, methodcaller
from urllib.parse import unquote, urlparse

from verify_env.binary.extensions import tagged_suffix
from verify_env.checks.interface import CheckResult, Context
from verify_env.checks.pth import pth_findings, startup_code
from verify_env.checks.scripts import script_findings
from verify_env.checks.startup import cannot_start
from verify_env.checks.usersite import user_site_shadowing
from verify_env.files import read_regular
from verify_env.finding import Finding, Severity, Skip
from verify_env.inventory import Distribution
from verify_env.target.model import Target

__all__ = ["CODES", "NAME", "run"]

NAME = "paths"
CODES = (
    "foreign-site-packages",
    "shadowed-module",
    "pth-executable",
    "site-customize",
    "distributions-unseen",
    "base-interpreter-missing",
    "interpreter-fails",
    "script-interpreter",
    "pth-error",
)

_VERSIONED = re.compile(r"(?:^|/)(?:lib/)?python(\d+)\.(\d+)t?(?:/|$)")
# The stdlib's own test suite and demo entry points: no program imports them, so a project's
# ``test/`` package "shadowing" them harms nobody.
_NEVER_IMPORTED = frozenset(
    {"test", "__main__", "this", "antigravity", "__phello__", "idlelib", "turtledemo"}
)
_MAX_ENTRIES = 20000


@dataclass(frozen=True, slots=True)
class _Entry:
    """One directory Python searches, in order, and where it came from."""

    path: str
    origin: str
    """``working directory``, ``PYTHONPATH``, ``<file>.pth line N`` or ``sys.path``."""


def _real(path: str) -> str:
    """The resolved path; a path holding a NUL (a hostile ``.pth`` line) as it is: no file
    has such a name, and ``site`` skips the line the same way."""
    return os.path.realpath(path) if path and "\0" not in path else path


def _pth_lines(site_dirs: tuple[str, ...]) -> dict[str, str]:
    """Directory -> which .pth line added it, for the sys.path entries .pth files put there."""
    out: dict[str, str] = {}
    for site in site_dirs:
        try:
            names = sorted(n for n in os.listdir(site) if n.endswith(".pth"))
        except OSError:
            continue
        for name in names:
            data = read_regular(os.path.join(site, name), 1 << 20)
            if data is None:
                continue
            for n, line in enumerate(data.decode("utf-8", "surrogateescape").splitlines(), 1):
                line = line.strip()
                if not line or line.startswith(("#", "import ", "import\t")):
                    continue
                out.setdefault(_real(os.path.join(site, line)), f"{name} line {n}")
    return out


def _search_order(target: Target, cwd: str | None) -> list[_Entry]:
    pythonpath = {_real(p) for p in target.env.get("PYTHONPATH", "").split(os.pathsep) if p}
    pth = _pth_lines(target.site_packages or target.site_dirs)
    entries: list[_Entry] = []
    seen: set[str] = set()
    if cwd:
        entries.append(_Entry(cwd, "working directory"))
        seen.add(_real(cwd))
    for p in target.sys_path:
        real = _real(p)
        if not p or real in seen:
            continue
        seen.add(real)
        origin = "PYTHONPATH" if real in pythonpath else pth.get(real, "sys.path")
        entries.append(_Entry(p, origin))
    return entries


def _listing(directory: str) -> list[tuple[str, bool]]:
    """(name, is a directory) of the entries, symlinks followed, capped."""
    out: list[tuple[str, bool]] = []
    try:
        with os.scandir(directory) as it:
            for entry in it:
                try:
                    out.append((entry.name, entry.is_dir()))
                except OSError:
                    continue
                if len(out) >= _MAX_ENTRIES:
                    break
    except OSError:
        return []
    return out


def _modules(directory: str, suffixes: tuple[str, ...]) -> dict[str, str]:
    """Top-level name -> entry for what ``import name`` would find in ``directory``: regular
    packages, ``.py`` modules and loadable extension modules (namespace dirs left out)."""
    out: dict[str, str] = {}
    for name, is_dir in _listing(directory):
        if is_dir:
            if name.isidentifier() and os.path.isfile(os.path.join(directory, name, "__init__.py")):
                out.setdefault(name, name + "/")
            continue
        for suffix in suffixes:
            if name.endswith(suffix):
                stem = name[: -len(suffix)]
                if stem.isidentifier():
                    out.setdefault(stem, name)
                break
    return out


def _owned_locations(dists: tuple[Distribution, ...]) -> set[str]:
    """Top-level locations (``site/x``) some installer's record claims: every recorded
    location and every directory above one. The locations are added by C loops and the
    ancestors walked once per directory (~1.5k), not once per file (~23k): 12 -> 4 ms."""
    owned: set[str] = set()
    heads: set[str] = set()
    sep = os.sep
    split = methodcaller("rpartition", sep)
    for dist in dists:
        locations = list(map(_LOCATION, dist.files))  # normalized and absolute
        owned.update(locations)
        heads.update(map(_HEAD, map(split, locations)))
    for head in heads:
        while head and head not in owned:  # every ancestor directory of a recorded file
            owned.add(head)
            head = head.rpartition(sep)[0]
    return owned


_PATH = _HEAD = itemgetter(0)
_LOCATION = itemgetter(1)
_PARTITION = methodcaller("partition", "/")
_PART_AND_SLASH = itemgetter(0, 1)


def _provided(
    dists: tuple[Distribution, ...], site_dirs: tuple[str, ...], suffixes: tuple[str, ...]
) -> dict[str, list[tuple[str, Distribution]]]:
    """Top-level name -> [(site dir, distribution)] for what installers put in site dirs."""
    out: dict[str, list[tuple[str, Distribution]]] = {}
    prefixes = [(s, os.path.normpath(s) + os.sep) for s in site_dirs]
    sites = dict(prefixes)
    for dist in dists:
        names: set[tuple[str, str]] = set()
        tops = (
            set(map(_PART_AND_SLASH, map(_PARTITION, map(_PATH, dist.files))))  # C loops
            if dist.site_dir in sites and dist.root == dist.site_dir and os.sep == "/"
            else None
        )
        if tops is not None and not any(p in ("", ".") for p, _ in tops):
            # RECORD paths are relative to the site dir: the top level is their first part
            # (23.5k files: ~6 ms, against ~25 ms matching every location to a prefix);
            # "../../bin/x" lies outside it, as in the loop below
            site = str(dist.site_dir)
            for part, slash in tops:
                name = (
                    part
                    if slash
                    else next((part[: -len(x)] for x in suffixes if part.endswith(x)), "")
                )
                if name.isidentifier():
                    names.add((name, site))
            for name, site in names:
                out.setdefault(name, []).append((site, dist))
            continue
        for f in dist.files:
            for site, prefix in prefixes:
                if f.location.startswith(prefix):
                    part, sep, _ = f.location[len(prefix) :].partition(os.sep)
                    if sep:
                        name = part
                    else:
                        name = next((part[: -len(s)] for s in suffixes if part.endswith(s)), "")
                    if name.isidentifier():
                        names.add((name, site))
                    break
        for name, site in names:
            out.setdefault(name, []).append((site, dist))
    return out


def _source_trees(dists: tuple[Distribution, ...]) -> list[str]:
    """Local directories installed distributions were installed from (PEP 610)."""
    trees = []
    for dist in dists:
        if dist.metadata_dir is None or dist.source == "conda-meta":
            continue
        data = read_regular(os.path.join(dist.metadata_dir, "direct_url.json"), 1 << 16)
        if data is None:
            continue
        try:
            url = json.loads(data).get("url", "")
        except (ValueError, AttributeError):
            continue
        if isinstance(url, str) and url.startswith("file:"):
            trees.append(_real(unquote(urlparse(url).path)) + os.sep)
    return trees


def _foreign(entry: _Entry, target: Target, suffixes: tuple[str, ...]) -> Finding | None:
    assert target.version is not None
    own = target.version[:2]
    match = _VERSIONED.search(entry.path.replace(os.sep, "/"))
    listing = _listing(entry.path)
    if not listing:
        return None  # absent or empty: harmless
    where = f"{entry.path} ({entry.origin})"
    fix = _fix(entry)
    if match and (int(match.group(1)), int(match.group(2))) != own:
        theirs = f"{match.group(1)}.{match.group(2)}"
        return Finding(
            NAME,
            "foreign-site-packages",
            Severity.ERROR,
            None,
            None,
            None,
            entry.path,
            f"{where} holds Python {theirs}'s packages, but this is Python "
            f"{own[0]}.{own[1]}: their compiled modules cannot load here and their "
            "pure-Python ones shadow the versions installed for it",
            fix,
        )
    # No version in the name: judge by the compiled modules it holds (two levels down).
    foreign: dict[str, str] = {}
    loadable: set[str] = set()
    for rel in _below(entry.path, listing):
        if not rel.endswith((".so", ".pyd")):
            continue  # what a tag can end with: the regex is asked of compiled modules only
        base = os.path.basename(rel)
        tag = tagged_suffix(base)
        if tag is None:
            continue
        stem = rel[: -len(tag)]
        if tag in target.extension_suffixes:
            loadable.add(stem)
        else:
            foreign.setdefault(stem, rel)
    stale = sorted(rel for stem, rel in foreign.items() if stem not in loadable)
    if not stale:
        return None
    return Finding(
        NAME,
        "foreign-site-packages",
        Severity.ERROR,
        None,
        None,
        None,
        entry.path,
        f"{where} holds compiled modules built for another interpreter and none for "
        f"this one ({', '.join(stale[:3])}{' …' if len(stale) > 3 else ''}); this "
        f"interpreter loads {', '.join(target.extension_suffixes)}",
        fix,
    )


def _below(directory: str, listing: list[tuple[str, bool]], depth: int = 3) -> Iterator[str]:
    """Relative paths of the files ``depth`` levels down, through importable dirs only."""
    stack = [("", listing, 1)]
    while stack:
        prefix, entries, level = stack.pop()
        for name, is_dir in entries:
            if not is_dir:
                yield prefix + name
            elif level < depth and name.isidentifier():
                rel = prefix + name
                stack.append((rel + "/", _listing(os.path.join(directory, rel)), level + 1))


def _fix(entry: _Entry) -> str:
    if entry.origin == "PYTHONPATH":
        return f"remove {entry.path} from PYTHONPATH"
    if ".pth line" in entry.origin:
        return f"remove {entry.origin} (it adds {entry.path} to sys.path)"
    return f"remove {entry.path} from sys.path"


def _shadowing(
    entries: list[_Entry],
    ctx: Context,
    suffixes: tuple[str, ...],
    provided: dict[str, list[tuple[str, Distribution]]],
    owned: set[str],
) -> Iterator[Finding]:
    target, inventory = ctx.target, ctx.inventory
    os_db = inventory.os_database
    trees = tuple(_source_trees(inventory.distributions))
    site_real = {_real(s): s for s in inventory.site_dirs}
    before_stdlib = True
    earlier: list[tuple[_Entry, dict[str, str], Callable[[str], bool]]] = []
    for entry in entries:
        real = _real(entry.path)
        if entry.origin != "working directory" and real not in site_real:
            before_stdlib = False  # the standard library (site dirs hold everything else)
            continue

        def unowned(found: str, base: str = entry.path) -> bool:
            location = os.path.normpath(os.path.join(base, found.rstrip("/")))
            if location in owned:
                return False
            return not (_real(location) + os.sep).startswith(trees) if trees else True

        def os_owned(found: str, base: str = entry.path) -> bool:
            """Asked last, of what would be reported: dpkg's database costs ~100 ms to read."""
            location = os.path.normpath(os.path.join(base, found.rstrip("/")))
            return os_db is not None and os_db.owner(location) is not None

        modules = {n: e for n, e in _modules(entry.path, suffixes).items() if unowned(e)}
        if before_stdlib:
            for name in sorted(set(modules) & target.stdlib_modules - _NEVER_IMPORTED):
                if os_owned(modules[name]):
                    continue
                location = os.path.join(entry.path, modules[name])
                here = entry.origin == "working directory"
                yield Finding(
                    NAME,
                    "shadowed-module",
                    Severity.WARNING if here else Severity.ERROR,
                    None,
                    None,
                    None,
                    location,
                    f"{location} ({entry.origin}) shadows the standard library's "
                    f"{name!r} for every python started "
                    f"{'in this directory' if here else 'with this setting'}",
                    f"rename or remove {location}",
                )
        if real in site_real:
            site = site_real[real]
            for before, found, os_owned_there in earlier:
                for name in sorted(found):
                    hits = [
                        dist
                        for dist_site, dist in provided.get(name, ())
                        if dist_site == site and ctx.scope.includes(dist)
                    ]
                    if hits and not os_owned_there(found[name]):
                        yield from (_shadow_finding(before, found[name], d) for d in hits)
        if modules:
            earlier.append((entry, modules, os_owned))


def _shadow_finding(entry: _Entry, found: str, dist: Distribution) -> Finding:
    location = os.path.join(entry.path, found)
    return Finding(
        NAME,
        "shadowed-module",
        Severity.ERROR,
        dist.name,
        dist.version,
        dist.installer,
        location,
        f"{location} ({entry.origin}) shadows the installed {dist.name} {dist.version}: "
        f"'import {found.rstrip('/').split('.')[0]}' finds it first"
        + (
            " in every python started in this directory"
            if entry.origin == "working directory"
            else ""
        ),
        f"rename or remove {location}" if entry.origin == "working directory" else _fix(entry),
    )


_METADATA_GLOBS = (
    "lib/python*/site-packages/*.dist-info",
    "lib/python*/site-packages/*.egg-info",
    "lib64/python*/site-packages/*.dist-info",
    "Lib/site-packages/*.dist-info",
)


def _unseen(ctx: Context) -> Finding | None:
    """Distributions on disk while the inventory holds none: the facts are wrong."""
    if ctx.inventory.distributions:
        return None
    import glob

    target = ctx.target
    prefixes = [target.prefix]
    if target.executable:
        prefixes.append(os.path.dirname(os.path.dirname(os.path.abspath(target.executable))))
    for prefix in dict.fromkeys(prefixes):
        for pattern in _METADATA_GLOBS:
            found = sorted(glob.glob(os.path.join(glob.escape(prefix), pattern)))
            if found:
                where = os.path.dirname(found[0])
                return Finding(
                    NAME,
                    "distributions-unseen",
                    Severity.ERROR,
                    None,
                    None,
                    None,
                    where,
                    f"{where} holds {len(found)} distribution metadata dir(s) "
                    f"({os.path.basename(found[0])} …) but no distribution was found: the "
                    "interpreter's account of its own site dirs cannot be right",
                    "check that --python/--prefix names this environment's own interpreter; "
                    "recreate the environment if its interpreter is damaged",
                )
    return None


def run(ctx: Context) -> CheckResult:
    result = CheckResult()
    target = ctx.target
    result.findings.extend(cannot_start(target))
    if target.executable is None or target.version is None:
        result.skips.append(Skip(NAME, None, None, "the prefix holds no Python interpreter"))
        return result
    suffixes = tuple(sorted({*target.extension_suffixes, ".py"}, key=len, reverse=True))
    try:
        cwd: str | None = os.getcwd()
    except OSError:
        cwd = None
    entries = _search_order(target, cwd)
    own_sites = {_real(s) for s in target.site_packages}
    for entry in entries[1:] if cwd else entries:
        if _real(entry.path) in own_sites:
            continue
        finding = _foreign(entry, target, suffixes)
        if finding is not None:
            result.findings.append(finding)
    inventory = ctx.inventory
    # each computed once: the shadowing, start-up code and user-site parts all ask
    owned = _owned_locations(inventory.distributions)
    provided = _provided(inventory.distributions, inventory.site_dirs, suffixes)
    result.findings.extend(_shadowing(entries, ctx, suffixes, provided, owned))
    result.findings.extend(startup_code(ctx, lambda _dists: owned))
    result.findings.extend(script_findings(ctx))
    result.findings.extend(pth_findings(ctx))
    result.findings.extend(user_site_shadowing(ctx, lambda: provided))
    unseen = _unseen(ctx)
    if unseen is not None:
        result.findings.append(unseen)
    return result
