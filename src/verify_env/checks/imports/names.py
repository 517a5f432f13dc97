"""Which modules the imports check imports, per distribution, each name once.

A user's ``import x`` is the test, so the names are the distribution's top-level import names:
its ``top_level.txt`` when it has one (the author's own list), else the first component of each
file its record puts in a site dir. A name must exist in the site dir (``top_level.txt`` goes
stale) and be an identifier; ``__pycache__``, metadata dirs, ``.pth`` helpers, editable-install
finders and scripts outside site-packages are not modules (an editable install's names come
from its finder's ``MAPPING``). A namespace package (a dir without
``__init__.py``, shared by several distributions) proves nothing when imported, so each
distribution's own portions below it are imported instead.

``import scipy`` loads none of scipy's compiled modules: they sit in lazily imported
subpackages, and a scipy built for NumPy 1.x imports cleanly until ``scipy.linalg``. So the
public packages that hold compiled modules are imported too (the path up to the first private
``_x`` or ``tests`` component: ``scipy/linalg/_fblas…so`` -> ``scipy.linalg``,
``pandas/_libs/…so`` -> ``pandas``). They go in the same unit as their top-level name, after
it, so one process imports them in turn and nothing is imported twice.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from verify_env.files import read_regular
from verify_env.inventory import Distribution

__all__ = ["ImportUnit", "import_units"]

_SKIP_PREFIXES = ("__editable__", "__pycache__")
_NOT_API = frozenset({"tests", "test"})
_MAX_NAMESPACE_DEPTH = 4


@dataclass(frozen=True, slots=True)
class ImportUnit:
    """Modules of one distribution imported in turn by one process, the top-level one first."""

    dist: Distribution
    """The distribution the modules belong to."""
    modules: tuple[str, ...]
    """Dotted names; every one after the first lies below the first."""
    paths: tuple[str, ...]
    """Per module, its file or package dir relative to the site dir (the finding's path)."""
    site_dir: str
    """The site dir holding them."""
    weight: int
    """How many recorded files lie below it: big packages start first."""
    files: tuple[str, ...] = ()
    """Absolute locations of the recorded files below it (looked at before importing)."""


def _suffixes(extension_suffixes: Sequence[str]) -> tuple[str, ...]:
    """Module file suffixes, longest first, so ``.cpython-311-…so`` wins over ``.so``."""
    return tuple(sorted({*extension_suffixes, ".py"}, key=len, reverse=True))


def _module_name(filename: str, suffixes: Sequence[str]) -> str | None:
    for suffix in suffixes:
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            return stem if stem.isidentifier() else None
    return None


def _usable(name: str) -> bool:
    return name.isidentifier() and not name.startswith(_SKIP_PREFIXES)


def _relative(dist: Distribution, site_dirs: Sequence[str]) -> tuple[str, list[str]]:
    """The site dir holding most of the dist's files, and their paths relative to it."""
    candidates = [dist.site_dir] if dist.site_dir else list(site_dirs)
    by_site: dict[str, list[str]] = {s: [] for s in candidates}
    prefixes = [(s, os.path.normpath(s) + os.sep) for s in candidates]
    for f in dist.files:
        for site, prefix in prefixes:
            if f.location.startswith(prefix):
                by_site[site].append(f.location[len(prefix) :])
                break
    if not candidates:
        return "", []
    best = max(candidates, key=lambda s: len(by_site[s]))
    return best, by_site[best]


def _top_level_txt(dist: Distribution) -> list[str] | None:
    if dist.metadata_dir is None or dist.source == "conda-meta":
        return None
    data = read_regular(os.path.join(dist.metadata_dir, "top_level.txt"))
    if data is None:
        return None
    return [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]


def _module_file(site: str, dotted: str, suffixes: Sequence[str]) -> str | None:
    """The package dir or module file of ``dotted`` in ``site``, relative, if it exists."""
    rel = dotted.replace(".", "/")
    if os.path.isdir(os.path.join(site, rel)):
        return rel
    for suffix in reversed(suffixes):  # .py before the extension suffixes
        if os.path.isfile(os.path.join(site, rel + suffix)):
            return rel + suffix
    return None


def _is_namespace(site: str, rel: str) -> bool:
    return os.path.isdir(os.path.join(site, rel)) and not os.path.isfile(
        os.path.join(site, rel, "__init__.py")
    )


def _children(rels: Iterable[str], prefix: str, suffixes: Sequence[str]) -> list[str]:
    """Names directly below the dir ``prefix`` (``a/b``) that the record lists files in."""
    out: list[str] = []
    start = prefix + "/"
    for rel in rels:
        if not rel.startswith(start):
            continue
        part, sep, _ = rel[len(start) :].partition("/")
        name = part if sep else _module_name(part, suffixes)
        if name and _usable(name) and name not in out:
            out.append(name)
    return out


def _holds_python(rels: Iterable[str], prefix: str, suffixes: Sequence[str]) -> bool:
    """Whether the record lists a Python module (source or compiled) below the dir
    ``prefix``: a directory of headers is no package, whatever top_level.txt says."""
    start, ends = prefix + "/", tuple(suffixes)
    return any(rel.startswith(start) and rel.endswith(ends) for rel in rels)


def _tops(dist: Distribution, site: str, rels: Sequence[str], suffixes: Sequence[str]) -> list[str]:
    """Top-level import names, namespace packages replaced by the dist's portions below."""
    declared = _top_level_txt(dist)
    names: list[str] = []
    if declared is not None:
        names = [n.replace("/", ".") for n in declared]
    else:
        for rel in rels:
            part, sep, _ = rel.partition("/")
            name = part if sep else _module_name(part, suffixes)
            if name and name not in names:
                names.append(name)
    out: list[str] = []
    todo = [(n, 0) for n in names if all(_usable(p) for p in n.split("."))]
    while todo:
        name, depth = todo.pop(0)
        rel = name.replace(".", "/")
        if _module_file(site, name, suffixes) is None:
            continue  # a stale top_level.txt line: nothing to import
        if _is_namespace(site, rel) and not _holds_python(rels, rel, suffixes):
            continue  # C/C++ headers (pythran's top_level.txt lists pythran/pythonic)
        if _is_namespace(site, rel) and depth < _MAX_NAMESPACE_DEPTH:
            below = [
                child
                for child in _children(rels, rel, suffixes)
                if _holds_python(rels, f"{rel}/{child}", suffixes)
                or _module_name(child, suffixes) is not None
                or not os.path.isdir(os.path.join(site, rel, child))
            ]
            if below:
                todo.extend((f"{name}.{child}", depth + 1) for child in below)
                continue
        if name not in out:
            out.append(name)
    return out


_FINDER = re.compile(r"__editable___\w+_finder\.py")
_MAPPING = re.compile(r"^MAPPING\s*(?::[^=\n]*)?=\s*(\{.*\})\s*$", re.MULTILINE)


def _editable(site: str, rels: Iterable[str]) -> dict[str, str]:
    """Top-level name -> source dir of a setuptools editable install (its finder's
    ``MAPPING``): the modules live in the project's tree, not in the site dir."""
    out: dict[str, str] = {}
    for rel in rels:
        if "/" in rel or not _FINDER.fullmatch(rel):
            continue
        data = read_regular(os.path.join(site, rel))
        match = _MAPPING.search(data.decode("utf-8", "replace")) if data else None
        try:
            mapping = ast.literal_eval(match.group(1)) if match else None
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            mapping = None
        if isinstance(mapping, dict):
            out.update(
                {
                    k: v
                    for k, v in mapping.items()
                    if isinstance(k, str)
                    and isinstance(v, str)
                    and all(_usable(p) for p in k.split("."))
                }
            )
    return out


def _extension_packages(rels: Iterable[str], suffixes: Sequence[str]) -> list[str]:
    """Public packages that hold compiled modules (see the module docstring)."""
    relset = set(rels)
    out: list[str] = []
    ext_suffixes = [s for s in suffixes if s != ".py"]
    for rel in rels:
        if not rel.endswith(tuple(ext_suffixes)):
            continue
        parts = rel.split("/")[:-1]
        public: list[str] = []
        for part in parts:
            if part.startswith("_") or part in _NOT_API or not part.isidentifier():
                break
            public.append(part)
        if len(public) < 2:
            continue
        if not all(
            "/".join(public[:i]) + "/__init__.py" in relset for i in range(1, len(public) + 1)
        ):
            continue  # not a regular package all the way down (e.g. torch/lib)
        dotted = ".".join(public)
        if dotted not in out:
            out.append(dotted)
    return sorted(out)


def import_units(
    dists: Iterable[Distribution],
    site_dirs: Sequence[str],
    extension_suffixes: Sequence[str],
    stdlib: Iterable[str] = (),
) -> list[ImportUnit]:
    """The units to import, biggest first; a module name claimed twice is imported once, for
    the first distribution (conda's record, not the dist-info it judges, speaks for a conda
    package). A name of the standard library (``stdlib``: a backport such as ``enum34``'s
    ``enum``) is left out: its import finds the stdlib's module and proves nothing about the
    distribution (shadowing is the paths check's business)."""
    suffixes = _suffixes(extension_suffixes)
    claimed: set[str] = set(stdlib)
    units: list[ImportUnit] = []
    for dist in dists:
        if dist.judged_by is not None:
            continue
        site, rels = _relative(dist, site_dirs)
        if not site:
            continue
        extras = _extension_packages(rels, suffixes)
        for top in _tops(dist, site, rels, suffixes):
            if top in claimed:
                continue
            claimed.add(top)
            below = [e for e in extras if e.startswith(top + ".") and e not in claimed]
            claimed.update(below)
            modules = (top, *below)
            paths = tuple(_module_file(site, m, suffixes) or m.replace(".", "/") for m in modules)
            prefix = top.replace(".", "/") + "/"
            below_files = tuple(
                os.path.join(site, r) for r in rels if r.startswith(prefix) or r == paths[0]
            )
            units.append(
                ImportUnit(dist, modules, paths, site, max(1, len(below_files)), below_files)
            )
        for name, source in _editable(site, rels).items():
            if name not in claimed:
                claimed.add(name)
                units.append(ImportUnit(dist, (name,), (source,), site, 1))
    units.sort(key=lambda u: -u.weight)
    return units
