"""Which compiled files the bytecode check judges (`verify_env.checks.bytecode` judges them).

For every recorded ``.py`` the record check may read, the files Python's ``SourceFileLoader``
would load for it: ``__pycache__/NAME.<cache_tag>.pyc`` and, under ``-O`` / ``-OO``,
``.opt-1`` / ``.opt-2``, with the *target's* cache tag. A legacy ``NAME.pyc`` beside
``NAME.py`` is never loaded (``FileFinder`` tries source before sourceless files for one
name), so it is left alone.

Which of them (the speed budget, measured on the torch venv: 24 distributions, 9.5k compiled
files, 165 MB of sources):

- **by default, each distribution's entry modules**: its top-level modules and top-level
  packages' ``__init__`` (what ``import NAME`` runs first): 30 files, 554 KB of source here,
  ~5 ms to find here and ~70 ms of CPU in a background process (~60 of it compiling).
- **under ``--strict``, every compiled file Python would load**: compiling all sources takes
  ~35 s of CPU here (~5 MB/s), spread over ``--jobs`` processes and remembered by the stat
  cache, so the next strict run pays only for what changed. Reading every header alone (9.5k
  opens and stats, +30% on a cold run) is not done by default: it would catch only a stale
  unchecked hash-based file of a deep module, which a forger replaces as easily as a
  timestamp one.

The stat cache remembers, per compiled file's stat key, the source's stat key and how far it
was judged (header, or content), so a warm run stats both files and reads nothing; a file
changed in the last two seconds is judged but not remembered.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass

from verify_env.cache.statcache import StatCache, StatKey, packed, stat_key
from verify_env.checks.containment import readable_files, resolved_roots, roots_of
from verify_env.checks.interface import Context
from verify_env.finding import Skip
from verify_env.inventory import Distribution, FileKind, RecordedFile

__all__ = ["CHECK", "CONTENT", "HEADER", "SPACE", "Item", "candidates"]

CHECK = "record"
SPACE = "bytecode"
"""The stat cache's space: compiled file -> (packed stat key of its source, level)."""
HEADER, CONTENT = 1, 2
"""How far a file was judged: its header only, or its content too (or it is never loaded)."""
_RECENT_NS = 2_000_000_000


@dataclass(frozen=True, slots=True)
class Item:
    dist: Distribution
    source: RecordedFile
    pyc: str
    """Its location."""
    path: str
    """As the finding names it: the source's recorded path with ``__pycache__/NAME`` put in."""
    optimize: int
    compare: bool
    keys: tuple[StatKey, StatKey] | None
    """(compiled file, source) stat keys, to remember the verdict under (None: no cache)."""
    recent: bool
    """One of the two changed in the last two seconds: judged now, remembered by a later run
    (a rewrite within the same timestamp tick would look unchanged)."""
    size: int
    """The source's recorded size: the compile work it costs."""


def _entry(source: str, tops: frozenset[str]) -> bool:
    """Whether ``source`` is what ``import NAME`` runs first: a module in a site dir, or a
    top-level package's ``__init__.py``."""
    directory, name = os.path.split(source)
    return directory in tops or (name == "__init__.py" and os.path.dirname(directory) in tops)


class _Listing:
    """The names in each ``__pycache__`` directory, read once; a directory that is a symlink
    is read only when it resolves inside the distribution's roots."""

    def __init__(self) -> None:
        self.names: dict[str, frozenset[str]] = {}
        self.skips: list[Skip] = []

    def of(self, directory: str, dist: Distribution, prefix: str) -> frozenset[str]:
        known = self.names.get(directory)
        if known is None:
            known = self.names[directory] = self._read(directory, dist, prefix)
        return known

    def _read(self, directory: str, dist: Distribution, prefix: str) -> frozenset[str]:
        try:
            st = os.lstat(directory)
            if stat.S_ISLNK(st.st_mode):
                real = os.path.realpath(directory)
                if _outside(real, dist, prefix):
                    self.skips.append(
                        Skip(
                            CHECK,
                            dist.name,
                            directory,
                            f"{directory} links to {real}, outside the environment: its "
                            "compiled files are not read",
                        )
                    )
                    return frozenset()
                st = os.stat(directory)
            return frozenset(os.listdir(directory)) if stat.S_ISDIR(st.st_mode) else frozenset()
        except OSError:
            return frozenset()


def _outside(real: str, dist: Distribution, prefix: str) -> bool:
    """Whether a symlink's resolved path ``real`` leaves the distribution's roots."""
    roots = roots_of(dist, prefix)
    return roots != (os.sep,) and not (real + os.sep).startswith(
        resolved_roots(roots + dist.link_roots)
    )


def candidates(ctx: Context, dists: Iterable[Distribution]) -> tuple[list[Item], list[Skip]]:
    """The compiled files to judge now: those Python would load for a recorded source, less
    those the stat cache says were judged far enough in this state.

    The hot loop of a warm run (9.5k files on the torch venv): two stats and a cache look-up
    per file, paths built by concatenation (``os.path`` costs more than the stats)."""
    target = ctx.target
    tag = target.cache_tag
    if not tag:
        return [], []
    sep = os.sep
    suffixes = ((0, f".{tag}.pyc"), (1, f".{tag}.opt-1.pyc"), (2, f".{tag}.opt-2.pyc"))
    tops = frozenset(os.path.normpath(d) for d in target.site_dirs)
    strict = ctx.options.strict
    cache: StatCache = ctx.cache
    cached = cache.enabled
    now = time.time_ns()
    listing = _Listing()
    resolved: dict[str, str] = {}
    seen: set[str] = set()
    items: list[Item] = []
    skips: list[Skip] = []
    for dist in dists:
        if dist.judged_by is not None:
            continue  # another record judges these files, and lists them itself
        dist_tops = tops | {os.path.normpath(dist.site_dir)} if dist.site_dir else tops
        for f in _sources(dist, target.prefix, None if strict else dist_tops, resolved):
            location = f[1]
            directory, _, base = location.rpartition(sep)
            pycache = directory + sep + "__pycache__"
            names = listing.of(pycache, dist, target.prefix)
            if not names:
                continue
            stem = base[:-3]
            for optimize, suffix in suffixes:
                name = stem + suffix
                if name not in names:
                    continue
                pyc = pycache + sep + name
                if pyc in seen:
                    continue
                seen.add(pyc)
                try:
                    st = os.lstat(pyc)
                    if stat.S_ISLNK(st.st_mode):
                        real = os.path.realpath(pyc)
                        if _outside(real, dist, target.prefix):
                            why = f"{pyc} links to {real}, outside the environment; not read"
                            skips.append(Skip(CHECK, dist.name, pyc, why))
                            continue
                        st = os.stat(pyc)
                    source = os.stat(location) if cached else None
                except OSError:
                    continue  # vanished, or the source is missing (the record check says so)
                if not stat.S_ISREG(st.st_mode):
                    why = f"{pyc} is not a regular file; not opened"
                    skips.append(Skip(CHECK, dist.name, pyc, why))
                    continue
                compare = strict or _entry(location, dist_tops)
                keys = (stat_key(st), stat_key(source)) if source is not None else None
                if keys is not None and _settled(cache, pyc, keys, compare):
                    continue
                rel = f.path.rpartition("/")[0]
                path = (rel + "/" if rel else "") + "__pycache__/" + name if f.path else pyc
                recent = keys is None or _recent(keys[0], now) or _recent(keys[1], now)
                size = f.size if f.size is not None else st.st_size
                items.append(Item(dist, f, pyc, path, optimize, compare, keys, recent, size))
    return items, skips + listing.skips


def _recent(key: StatKey, now_ns: int) -> bool:
    return now_ns - max(key[3], key[4]) < _RECENT_NS


def _sources(
    dist: Distribution, prefix: str, entry_dirs: frozenset[str] | None, real: dict[str, str]
) -> Iterable[RecordedFile]:
    """The recorded ``.py`` files whose compiled files are judged, each read only inside the
    distribution's roots: all (``entry_dirs`` None: ``--strict``), or its entry modules. The
    default run never walks the whole record (a cold run of the torch venv would pay for
    9.5k files it does not judge). ``real``: resolved paths, shared by the distributions (most
    have the same roots)."""
    regular = FileKind.REGULAR
    if entry_dirs is None:
        for f in readable_files(dist, prefix):
            if f[1].endswith(".py") and f.kind is regular:
                yield f
        return
    roots: tuple[str, ...] = ()
    real_roots: tuple[str, ...] | None = None
    sep = os.sep
    for f in dist.files:  # 21.7k rows on the torch venv: the cheapest tests first
        location = f[1]
        if location[-3:] != ".py":
            continue
        directory, _, name = location.rpartition(sep)
        if directory not in entry_dirs and (
            name != "__init__.py" or directory.rpartition(sep)[0] not in entry_dirs
        ):
            continue
        if not roots:
            roots = roots_of(dist, prefix)
            if roots != (os.sep,):
                real_roots = tuple(
                    {_real(r, real).rstrip(sep) + sep for r in roots + dist.link_roots}
                )
        if f.kind is not regular or not location.startswith(roots):
            continue
        if real_roots is None or (_real(directory, real) + sep).startswith(real_roots):
            yield f


def _real(path: str, known: dict[str, str]) -> str:
    real = known.get(path)
    if real is None:
        real = known[path] = os.path.realpath(path)
    return real


def _settled(cache: StatCache, pyc: str, keys: tuple[StatKey, StatKey], compare: bool) -> bool:
    """Whether the cache holds a verdict for this very state of both files, judged at least as
    far as this run asks."""
    known = cache.fact(SPACE, pyc, keys[0])
    return (
        isinstance(known, tuple)
        and len(known) == 2
        and known[0] == packed(keys[1])
        and isinstance(known[1], int)
        and known[1] >= (CONTENT if compare else HEADER)
    )
