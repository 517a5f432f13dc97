"""Compiled files: what Python loads in place of a recorded source must be compiled from it.

A recorded ``six.py`` that hashes as recorded proves nothing about what ``import six`` runs:
Python loads ``__pycache__/six.cpython-311.pyc`` instead whenever that file's header names the
source's mtime and size (or, PEP 552, its hash), and never looks at what the body holds. A
``.pyc`` compiled from other source and stamped with the untouched ``.py``'s mtime and size
runs on import (issue 18, §4). Reported by the record check as ``bytecode-mismatch``.

Which files: for every recorded ``.py`` the record check may read, the files Python's
``SourceFileLoader`` would load for it: ``__pycache__/NAME.<cache_tag>.pyc`` and, under ``-O``
/ ``-OO``, ``.opt-1`` / ``.opt-2``, with the *target's* cache tag and magic number. A legacy
``NAME.pyc`` beside ``NAME.py`` is never loaded (``FileFinder`` tries source before sourceless
files for one name), so it is left alone.

Which of them (the speed budget, measured on the torch venv: 24 distributions, 9.5k compiled
files, 165 MB of sources):

- **by default, each distribution's entry modules**: its top-level modules and top-level
  packages' ``__init__`` (what ``import NAME`` runs first): 30 files, 554 KB of source here,
  ~20 ms to find and ~100 ms of compile in a parallel process. Their header and their code.
- **under ``--strict``, every compiled file Python would load**: compiling all sources takes
  ~35 s of CPU here (~5 MB/s), spread over ``--jobs`` processes and remembered by the stat
  cache, so the next strict run pays only for what changed. Reading every header alone (9.5k
  opens and stats, +30% on a cold run) is not done by default: it would catch only a stale
  unchecked hash-based file of a deep module, which a forger replaces as easily as a
  timestamp one.

What is judged (`pyc_compare`):

- **the header**: a wrong magic number or unknown flags, or a timestamp/size or checked
  source hash that names another state of the source, makes Python compile the source
  instead: harmless (stale), never a finding. An *unchecked* hash-based file is loaded without
  a look at the source: if its hash is not the source's, the code that runs is not the
  installed source, an error.
- **the code, compiled and compared** (code objects, not bytes): for a file Python would
  load, only a compile of its source proves the body.
- **which interpreter compiles**: verify-env's own when it is the target's exact version
  (magic numbers are shared by patch releases whose compilers may still differ), else the
  target's own interpreter, isolated (``-I -S -B``, standard library only, like the probe);
  in-process never: ``marshal.loads`` of a hostile file may crash the process that runs it.
  The subprocess runs in its own session with a deadline and an output cap
  (`verify_env.sandbox`); a file whose judgement died with it is a skip, not a verdict.

The stat cache remembers, per compiled file's stat key, the source's stat key and how far it
was judged (header, or content), so a warm run stats both files and reads nothing; a file
changed in the last two seconds is judged but not remembered.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

from verify_env.cache.statcache import StatCache, StatKey, packed, stat_key
from verify_env.checks.containment import readable_files, resolved_roots, roots_of
from verify_env.checks.interface import CheckResult, Context
from verify_env.finding import Finding, Severity, Skip
from verify_env.inventory import Distribution, FileKind, RecordedFile
from verify_env.target.model import Target

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess

__all__ = ["CODE", "Pending", "start"]

CHECK = "record"
CODE = "bytecode-mismatch"
SPACE = "bytecode"
"""The stat cache's space: compiled file -> (packed stat key of its source, level)."""
_HEADER, _CONTENT = 1, 2
"""How far a file was judged: its header only, or its content too (or it is never loaded)."""
_RECENT_NS = 2_000_000_000
_SPLIT_BYTES = 8 << 20
"""Source bytes to compile above which the work is split over ``--jobs`` processes."""


@dataclass(frozen=True, slots=True)
class _Item:
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


def _compiler(target: Target) -> tuple[str, bool]:
    """The interpreter that judges (verify-env's own when it is the target's version, else the
    target's), and whether it may compile (False: header only)."""
    import importlib.util

    same = (
        target.implementation == sys.implementation.name
        and target.version == tuple(sys.version_info[:3])
        and target.magic == importlib.util.MAGIC_NUMBER
    )
    if same or target.executable is None:
        return sys.executable, same
    return target.executable, target.implementation == "cpython"


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


def _candidates(ctx: Context, dists: Iterable[Distribution]) -> tuple[list[_Item], list[Skip]]:
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
    seen: set[str] = set()
    items: list[_Item] = []
    skips: list[Skip] = []
    for dist in dists:
        if dist.judged_by is not None:
            continue  # another record judges these files, and lists them itself
        dist_tops = tops | {os.path.normpath(dist.site_dir)} if dist.site_dir else tops
        for f in _sources(dist, target.prefix, None if strict else dist_tops):
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
                items.append(_Item(dist, f, pyc, path, optimize, compare, keys, recent, size))
    return items, skips + listing.skips


def _recent(key: StatKey, now_ns: int) -> bool:
    return now_ns - max(key[3], key[4]) < _RECENT_NS


def _sources(
    dist: Distribution, prefix: str, entry_dirs: frozenset[str] | None
) -> Iterable[RecordedFile]:
    """The recorded ``.py`` files whose compiled files are judged, each read only inside the
    distribution's roots: all (``entry_dirs`` None: ``--strict``), or its entry modules. The
    default run never walks the whole record (a cold run of the torch venv would pay for
    9.5k files it does not judge)."""
    regular = FileKind.REGULAR
    if entry_dirs is None:
        for f in readable_files(dist, prefix):
            if f[1].endswith(".py") and f.kind is regular:
                yield f
        return
    roots = roots_of(dist, prefix)
    real_roots = None if roots == (os.sep,) else resolved_roots(roots + dist.link_roots)
    sep = os.sep
    for f in dist.files:
        location = f[1]
        if not location.endswith(".py") or f.kind is not regular:
            continue
        directory, _, name = location.rpartition(sep)
        if directory not in entry_dirs and (
            name != "__init__.py" or directory.rpartition(sep)[0] not in entry_dirs
        ):
            continue
        if not location.startswith(roots):
            continue
        if real_roots is None or (os.path.realpath(directory) + sep).startswith(real_roots):
            yield f


def _settled(cache: StatCache, pyc: str, keys: tuple[StatKey, StatKey], compare: bool) -> bool:
    """Whether the cache holds a verdict for this very state of both files, judged at least as
    far as this run asks."""
    known = cache.fact(SPACE, pyc, keys[0])
    return (
        isinstance(known, tuple)
        and len(known) == 2
        and known[0] == packed(keys[1])
        and isinstance(known[1], int)
        and known[1] >= (_CONTENT if compare else _HEADER)
    )


class Pending:
    """The compiled files' judgement, started by `start`; `into` waits and adds what it found
    to the record check's result."""

    def __init__(self, ctx: Context, items: list[_Item], skips: list[Skip]) -> None:
        self.ctx = ctx
        self.skips = skips
        self.items = items
        self.runs: list[tuple[subprocess.Popen[bytes], list[_Item]]] = []
        self.judged: list[tuple[_Item, str, str]] = []
        """Verdicts reached in this process: headers read, no code loaded."""
        self.interpreter, self.compiles = _compiler(ctx.target)
        later = self._headers(items)
        if later:
            self._start(later)

    def _headers(self, items: list[_Item]) -> list[_Item]:
        """Judge by header, here, what needs no compile; return what the comparer must see:
        the files whose code is compared, and hash-based files (their hash is the target's
        to compute)."""
        from verify_env.checks.pyc_compare import judge

        magic = self.ctx.target.magic
        later = []
        for item in items:
            if self.compiles and item.compare:
                later.append(item)
                continue
            if magic is None:
                continue
            verdict, detail = judge(item.source[1], item.pyc, item.optimize, False, False, magic)
            if verdict == "loaded" and detail != "timestamp" and self.compiles:
                compare = item.compare or detail == "unchecked-hash"
                later.append(dataclasses.replace(item, compare=compare))
            else:
                self.judged.append((item, verdict, detail))
        return later

    def _start(self, items: list[_Item]) -> None:
        import json
        import tempfile

        from verify_env import sandbox

        work = sum(i.size for i in items if i.compare)
        parts = max(1, min(self.ctx.jobs, work // _SPLIT_BYTES)) if self.compiles else 1
        groups: list[list[_Item]] = [[] for _ in range(parts)]
        loads = [0] * parts
        for item in sorted(items, key=lambda i: -i.size if i.compare else 0):
            k = loads.index(min(loads))
            groups[k].append(item)
            loads[k] += (item.size if item.compare else 0) + 1
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyc_compare.py")
        for group in groups:
            request = {
                "compile": self.compiles,
                "items": [[i.source.location, i.pyc, i.optimize, i.compare] for i in group],
            }
            with tempfile.TemporaryFile() as tmp:
                tmp.write(json.dumps(request).encode("utf-8", "surrogateescape"))
                tmp.seek(0)
                try:
                    proc = sandbox.start(
                        [self.interpreter, "-I", "-S", "-B", script], stdin=tmp.fileno()
                    )
                except OSError as exc:
                    self.skips.append(
                        Skip(
                            CHECK,
                            None,
                            None,
                            f"compiled files not judged: {self.interpreter} could not be run "
                            f"({exc.strerror or exc})",
                        )
                    )
                    continue
            self.runs.append((proc, group))

    def into(self, result: CheckResult) -> None:
        """Wait for the comparer processes; their findings and skips join ``result``."""
        from verify_env import sandbox

        compared = 0
        for item, verdict, detail in self.judged:
            self._judged(item, verdict, detail, result)
        for proc, group in self.runs:
            work = sum(i.size for i in group if i.compare)
            timeout = 60.0 + 2.0 * work / (1 << 20)
            done = sandbox.finish(proc, timeout, 256 * len(group) + (64 << 10))
            answered: set[int] = set()
            for line in done.stdout.decode("utf-8", "replace").splitlines():
                index_text, _, rest = line.partition("\t")
                verdict, _, detail = rest.partition("\t")
                if not index_text.isdigit() or int(index_text) >= len(group):
                    continue
                index = int(index_text)
                answered.add(index)
                compared += verdict in ("same", "differs")
                self._judged(group[index], verdict, detail, result)
            missing = [i for k, i in enumerate(group) if k not in answered]
            if missing:
                why = (
                    "timed out"
                    if done.timed_out
                    else f"stopped (exit {done.returncode}) while judging {missing[0].pyc}"
                )
                result.skips.append(
                    Skip(
                        CHECK,
                        missing[0].dist.name,
                        missing[0].path,
                        f"{len(missing)} compiled file(s) not judged: {self.interpreter} {why}",
                    )
                )
        result.skips.extend(self.skips)
        if self.items:
            which = "every file Python would load" if self.ctx.options.strict else "entry modules"
            how = "" if self.compiles else ", by header only: no interpreter of its version"
            result.details.append(
                f"bytecode: {len(self.items)} compiled file(s) of {which} judged, {compared} "
                f"compared with their source by {self.interpreter}{how}"
            )

    def _judged(self, item: _Item, verdict: str, detail: str, result: CheckResult) -> None:
        level = {"ignored": _CONTENT, "stale": _CONTENT, "same": _CONTENT, "loaded": _HEADER}
        if verdict in level:
            if not item.recent and item.keys is not None:
                pyc_key, source_key = item.keys
                value = (packed(source_key), level[verdict])
                self.ctx.cache.remember(SPACE, item.pyc, pyc_key, value)
            return
        if verdict == "unreadable":
            result.skips.append(Skip(CHECK, item.dist.name, item.path, detail))
            return
        result.findings.append(_finding(item, verdict, detail, self.ctx.target))


_HOW = {
    "timestamp": "its header names the source's mtime and size",
    "checked-hash": "its header carries the source's hash",
    "unchecked-hash": "it is an unchecked hash-based file, loaded without a look at the source",
}


def _finding(item: _Item, verdict: str, detail: str, target: Target) -> Finding:
    import shlex

    source = item.source.path
    if verdict == "unchecked-stale":
        message = (
            f"{item.path} is an unchecked hash-based compiled file whose source hash is not "
            f"{source}'s: Python loads it without a look at the source, so what runs is not "
            "the installed source"
        )
    else:
        kind, _, why = detail.partition("; ")
        message = (
            f"{item.path} is not compiled from {source}, yet Python loads it in its place "
            f"({_HOW.get(kind, kind)})" + (f": {why}" if why else "")
        )
    hint = (
        f"rm {shlex.quote(item.pyc)} (Python compiles {os.path.basename(source)} again), then "
        "find out what wrote it: a compiled file that does not match its source is a tamper "
        "or a corruption"
    )
    return Finding(
        CHECK,
        CODE,
        Severity.ERROR,
        item.dist.name,
        item.dist.version,
        item.dist.installer,
        item.path,
        message,
        hint,
    )


def start(ctx: Context, dists: Iterable[Distribution]) -> Pending:
    """Find the compiled files to judge and start judging them (in the background); the
    result's `Pending.into` waits."""
    items, skips = _candidates(ctx, dists)
    return Pending(ctx, items, skips)
