"""The record check: every file as its installer recorded it, and what no installer owns.

Size before digest (a truncated file never needs hashing), digests from the stat cache when the
file's (device, inode, size, mtime, ctime) has not changed, the rest hashed in parallel. A path
that escapes the environment or is not a regular file is reported and never opened. A location
several records name is hashed once (`conflicts.Shared`); the others' verdicts are derived.
What the outcomes mean as findings is `record_verdicts`; what two owners of one file mean is
`duplicates` (one project twice), `conflicts` (two projects, or pip over conda); unreadable
files are `permissions`.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from verify_env.cache.observer import declare
from verify_env.cache.statcache import StatCache, StatKey, stat_key
from verify_env.checks import bytecode
from verify_env.checks.conflicts import HERE, Owner, Shared, clobbered, conflicts, derive
from verify_env.checks.containment import readable_files, roots_of
from verify_env.checks.deliberate import spell
from verify_env.checks.duplicates import Failed, duplicate_finding, duplicate_groups, superseded
from verify_env.checks.interface import CheckResult, Context, Deferred, Start
from verify_env.checks.permissions import DENIED, chmod_hint, denied_findings, owner_only
from verify_env.checks.record_verdicts import escape_of, finding, judge
from verify_env.finding import Severity
from verify_env.inventory import Distribution, FileKind, RecordedFile
from verify_env.pool.hashing import CHUNK, PER_FILE_COST, ForkMap, digest
from verify_env.pool.stream import ForkStream
from verify_env.transaction.scope import Scope

__all__ = ["CODES", "run"]

NAME = "record"
CODES = (
    "hash-mismatch",
    "size-mismatch",
    "missing-file",
    "record-missing",
    "record-malformed",
    "unrecorded-extension",
    "duplicate-distribution",
    "clobbered-file",
    "leftover-directory",
    "path-escape",
    "file-conflict",
    "permission-denied",
    "owner-only-permissions",
    bytecode.CODE,
)


def _racy(st: os.stat_result, now_ns: int) -> bool:
    """A file changed so recently that a rewrite within the same timestamp tick would look
    unchanged (same size and inode) — "racily clean", as git calls it. Its digest is checked
    but not remembered; the next run remembers it. Filesystems whose timestamps carry no
    sub-millisecond digits tick in seconds (FAT, some network filesystems): two seconds there;
    others tick at most every 10 ms (the kernel's coarse clock): 20 ms."""
    newest = max(st.st_mtime_ns, st.st_ctime_ns)
    coarse = st.st_mtime_ns % 1_000_000 == 0 and st.st_ctime_ns % 1_000_000 == 0
    return now_ns - newest < (2_000_000_000 if coarse else 20_000_000)


_OPTIONAL, _REGULAR = FileKind.OPTIONAL.value, FileKind.REGULAR.value
_KIND_TEXT = {kind: kind.value for kind in FileKind}  # FileKind.value is a slow property


MAX_UNSIZED = 1 << 30
"""Bytes hashed at most of a file whose row records a digest but no size (dpkg's md5sums,
a RECORD row without one): more is a finding, not a read without bound (issue 18, §8)."""
MAX_HASHED = 16 << 30
"""Bytes hashed at most of any file: no installed file is this big, a sparse one planted
behind a recorded name (and a row claiming its size) is."""


def _too_big(size: int, unsized: bool) -> str:
    if unsized:
        return (
            f"{size} bytes and no recorded size: not hashed (verify-env reads at most "
            f"{MAX_UNSIZED >> 20} MiB of a file whose size was not recorded)"
        )
    return f"{size} bytes: not hashed (no installed file is over {MAX_HASHED >> 30} GiB)"


def _columns(files: Sequence[RecordedFile]) -> tuple[Sequence[object], ...]:
    """What a worker forked before the files were read needs of them, as marshal-able columns
    in `RecordedFile`'s field order (the path itself is not needed: an empty column). The rows
    are transposed by ``zip`` in C, not by a comprehension per field."""
    if not files:
        return ((),) * len(RecordedFile._fields)
    _, locations, algorithms, digests, sizes, kinds, hexes = zip(*files, strict=True)
    declare(locations)  # the workers read them: a stored verdict holds while they do
    return (
        ("",) * len(files),
        locations,
        algorithms,
        digests,
        sizes,
        tuple(map(_KIND_TEXT.__getitem__, kinds)),
        hexes,
    )


class _FileJudge:
    """The per-file work, run in the hashing workers: stat, cache, size, digest.

    Returns None for a file that is as recorded and needs nothing remembered (the common warm
    case: nothing crosses the pipe), else a small tuple the parent turns into findings:
    ``("hashed", stat key or None, digest text, bytes)``, ``("cached-bad",)``,
    ``("size", actual)``, ``("type", mode)``, ``("errno", number, text)``.
    """

    def __init__(self, cache: StatCache) -> None:
        self.cache = cache
        self.buf = bytearray(CHUNK)
        self.started = time.time_ns()

    def __call__(self, f: Sequence[Any], follow: bool = False) -> object:
        """``f``: a `RecordedFile`, or the same fields as a plain tuple (`_columns`).
        A recorded file that is a symlink comes back as ``("link",)`` unless ``follow``: the
        parent checks where it leads before anything opens it (issue 18, §9)."""
        location, algorithm, expected, size, kind, hex_ = f[1], f[2], f[3], f[4], f[5], f[6]
        if kind == _OPTIONAL:
            return None
        # stat before any open, even without a cache: opening a FIFO, even non-blocking,
        # would wake a writer blocked on it; "not opened" must be true.
        try:
            st = os.lstat(location) if kind == _REGULAR and not follow else os.stat(location)
        except OSError as err:
            return ("errno", err.errno, err.strerror or str(err))
        except ValueError:  # a NUL in a path an installer's list gave: no file is named so
            return ("errno", errno.EINVAL, "the recorded path holds a NUL character")
        if kind != _REGULAR:
            return None
        if stat.S_ISLNK(st.st_mode):
            return ("link",)
        if not stat.S_ISREG(st.st_mode):
            if size is None and algorithm is None and stat.S_ISDIR(st.st_mode):
                # a row that records neither digest nor size promises only that the path
                # exists: virtualenv's --symlink-app-data records each top-level directory it
                # links from its image so
                return None
            return ("type", stat.S_IFMT(st.st_mode))
        if size is not None and st.st_size != size:
            return ("size", st.st_size)
        if algorithm is None or expected is None:
            return None
        if st.st_size > (MAX_HASHED if size is not None else MAX_UNSIZED):
            return ("errno", None, _too_big(st.st_size, size is None))
        key: StatKey | None = None
        if self.cache.enabled:
            key = stat_key(st)
            cached = self.cache.get(location, key, f"{algorithm}:{'hex' if hex_ else 'b64'}")
            if cached is not None:
                return None if cached == expected else ("cached-bad",)
            if _racy(st, self.started):
                key = None  # changed too recently to trust its timestamps
        outcome = digest(location, algorithm, -1 if size is None else size, self.buf, st.st_size)
        if isinstance(outcome, bytes):
            text = spell(outcome, hex_)
            if key is None and text == expected:
                if not self.cache.enabled and size is not None:
                    return None  # the parent counts the recorded size: nothing travels
                return ("ok", st.st_size)  # nothing to remember: only the byte count travels
            return ("hashed", key, text, st.st_size)
        if isinstance(outcome, int):
            return ("size", outcome)
        if outcome.startswith("type:"):
            return ("type", int(outcome[5:]))
        _, number, text = outcome.split(":", 2)
        return ("errno", int(number) if number.lstrip("-").isdigit() else None, text)


# A file this big is a chunk of its own that workers take before any other (issue 3: a 434 MB
# libtorch met late must not end the run alone); smaller files go in chunks of about this many
# bytes (plus PER_FILE_COST each).
_HEAVY = 8 << 20
_CHUNK_WEIGHT = 4 << 20


class Prefetch:
    """The record check's hashing, started before the inventory is complete.

    `prepare` makes one when the run builds the inventory itself, which hands each distribution
    to `feed`; each distribution's files are queued as soon as its record is read, so
    the workers hash while the rest of the inventory is still being parsed. `run` then takes
    the results instead of starting its own workers. ``files``/``starts``/``judged`` are what
    `run` would have built, in the same order per distribution (heavy files first)."""

    def __init__(
        self, ctx_cache: StatCache, prefix: str, scope: Scope, jobs: int, report_progress: bool
    ) -> None:
        self.prefix = prefix
        self.scope = scope
        self.files: list[RecordedFile] = []
        self.starts: list[int] = []
        self.judged: list[Distribution] = []
        self.partial: set[int] = set()
        """ids of the distributions that record files outside the environment."""
        self.shared = Shared()
        """Locations queued so far: a location another record names is hashed once."""
        self.stream = ForkStream(_FileJudge(ctx_cache), jobs, report_progress)

    @property
    def started(self) -> bool:
        return self.stream.started

    def feed(self, dist: Distribution) -> None:
        if dist.judged_by is not None or not self.scope.includes(dist):
            return
        inside = readable_files(dist, self.prefix)
        if len(inside) != len(dist.files):
            self.partial.add(id(dist))
        fresh = self.shared.claim(dist, inside)
        heavy = [f for f in fresh if (f.size or 0) >= _HEAVY]
        light = [f for f in fresh if (f.size or 0) < _HEAVY] if heavy else fresh
        self.starts.append(len(self.files))
        self.judged.append(dist)
        self.files.extend(heavy)
        self.files.extend(light)
        for f in heavy:
            self.stream.put(_columns([f]), f.size or 0, heavy=True)
        first = load = 0
        for k, f in enumerate(light):
            load += (f.size or 0) + PER_FILE_COST
            if load >= _CHUNK_WEIGHT:
                chunk = light[first : k + 1]
                self.stream.put(_columns(chunk), load - PER_FILE_COST * len(chunk))
                first, load = k + 1, 0
        if first < len(light):
            chunk = light[first:]
            self.stream.put(_columns(chunk), sum(f.size or 0 for f in chunk))

    def abort(self) -> None:
        self.stream.abort()


def prepare(start: Start) -> Prefetch | None:
    """The hashing, started while the inventory is read (`Prefetch`); None when no worker
    could be forked (the check then hashes in `run`)."""
    prefetch = Prefetch(
        start.cache, start.target.prefix, start.scope, start.jobs, start.report_progress
    )
    return prefetch if prefetch.started else None


def _judge_alone(
    dist: Distribution, f: RecordedFile, ctx: Context, result: CheckResult, failed: Failed
) -> None:
    """A row judged by itself, as `finish` judges a hashed one (the rare alias `derive`
    cannot answer for)."""
    outcome = _FileJudge(ctx.cache)(f)
    if isinstance(outcome, tuple) and outcome[0] == "link":
        escape = escape_of(dist, f, ctx.target.prefix)
        if escape is not None:
            failed[f.location].append((dist, escape))
            return
        outcome = _FileJudge(ctx.cache)(f, follow=True)
    if outcome is not None:
        judge(dist, f, outcome, ctx, result, failed)


def _outside(ctx: Context, shared: Shared) -> dict[str, list[tuple[Distribution, RecordedFile]]]:
    """Rows of the records out of a scoped run's scope naming a location it hashes: installing
    B over A's files conflicts with A whether or not A is in scope."""
    out: dict[str, list[tuple[Distribution, RecordedFile]]] = defaultdict(list)
    queued = shared.seen
    for dist in ctx.inventory.distributions:
        if dist.judged_by is None and not ctx.scope.includes(dist):
            for f in dist.files:
                if f[1] in queued:
                    out[f[1]].append((dist, f))
    return out


def _shared_verdicts(
    ctx: Context,
    result: CheckResult,
    failed: Failed,
    shared: Shared,
    queue: tuple[Sequence[RecordedFile], Sequence[Distribution], Sequence[int]],
    first: dict[str, tuple[int, object]],
) -> dict[str, list[Owner]]:
    """The verdicts of the rows whose location another row was hashed for (`derive`), and
    location -> every owner of a shared location with whether its row matches the bytes."""
    files, judged, starts = queue
    rows: list[tuple[Distribution, RecordedFile]] = []
    for index, _ in first.values():
        rows.append((judged[bisect_right(starts, index) - 1], files[index]))
    for dist, f in shared.aliases:
        index, outcome = first[f[1]]
        primary_dist, primary = judged[bisect_right(starts, index) - 1], files[index]
        if dist is primary_dist and f == primary:
            continue  # one record listing one row twice
        rows.append((dist, f))
        result.files += f.kind is FileKind.REGULAR
        verdict = HERE if outcome == ("link",) else derive(primary, outcome, f)
        if verdict is HERE:
            _judge_alone(dist, f, ctx, result, failed)
        elif verdict is not None:
            judge(dist, f, verdict, ctx, result, failed)
    owners: dict[str, list[Owner]] = defaultdict(list)
    for dist, f in rows:
        bad = failed.get(f[1], ())
        owners[f[1]].append((dist, f, not any(d is dist for d, _ in bad)))
    return owners


def run(ctx: Context) -> CheckResult | Deferred:
    """Start the workers on every recorded file, do the rest while they work, finish later."""
    from verify_env.checks.leftovers import (
        orphan_packages,
        package_dirs,
        stashed_leftovers,
        unrecorded_extensions,
    )

    result = CheckResult()
    dists = [d for d in ctx.inventory.distributions if ctx.scope.includes(d)]
    early = ctx.prepared.get(NAME)
    pre = early if isinstance(early, Prefetch) and early.scope is ctx.scope else None
    files: list[RecordedFile] = []  # what the workers get: the records' own tuples, no copies
    starts: list[int] = []  # files[starts[k]:starts[k+1]] belong to judged[k]
    judged: list[Distribution] = []
    shared = Shared()
    for dist in dists:
        for problem in dist.problems:
            result.findings.append(
                finding(
                    dist,
                    problem.code,
                    problem.path,
                    problem.message,
                    Severity.WARNING if problem.warning else Severity.ERROR,
                    chmod_hint(ctx.target.prefix) if problem.code == DENIED else None,
                )
            )
        if dist.judged_by is not None:
            continue
        if pre is not None:
            if id(dist) not in pre.partial:
                continue
            inside = readable_files(dist, ctx.target.prefix)
        else:
            inside = readable_files(dist, ctx.target.prefix)
            starts.append(len(files))
            judged.append(dist)
            files.extend(shared.claim(dist, inside))
        if len(inside) != len(dist.files):
            kept = {f.location for f in inside}
            roots = roots_of(dist, ctx.target.prefix)
            for f in (f for f in dist.files if f.location not in kept):
                kept.add(f.location)  # once, however often the record lists it
                escape = escape_of(dist, f, ctx.target.prefix)
                if f.location.startswith(roots) and escape is not None:
                    result.findings.append(escape)
                elif not f.location.startswith(roots):
                    result.findings.append(
                        finding(
                            dist,
                            "record-malformed",
                            f.path,
                            f"recorded path {f.path!r} lies outside the environment; not opened",
                            Severity.WARNING,
                        )
                    )
    if pre is not None:  # the same files, queued while the inventory was read
        files, starts, judged, shared = pre.files, pre.starts, pre.judged, pre.shared
    progress = None
    if ctx.progress is not None:
        report, total = ctx.progress, len(files)
        total_bytes = sum(f.size or 0 for f in files)

        def progress(n: int, done: int) -> None:
            report("verifying", n, total, done, total_bytes)

    work: ForkMap[RecordedFile] | ForkStream
    if pre is not None:
        pre.stream.progress = progress
        work = pre.stream
    else:
        weights = [f.size or 0 for f in files]  # only without the early start (prepare)
        declare(f.location for f in files)  # the workers read them (`_columns` for the stream)
        work = ForkMap(_FileJudge(ctx.cache), files, weights, ctx.jobs, progress)
    compiled = bytecode.start(ctx, dists)  # the .pyc files, judged while the workers hash
    duplicates = duplicate_groups(dists)
    tops = package_dirs(ctx, dists)
    result.findings.extend(unrecorded_extensions(ctx, tops))
    result.findings.extend(stashed_leftovers(ctx, dists))
    result.findings.extend(orphan_packages(ctx, tops))
    result.findings.extend(owner_only(ctx.target.prefix, ctx.inventory.site_dirs, dists, tops))

    def finish() -> CheckResult:
        failed: Failed = defaultdict(list)
        problems = 0
        answered: set[int] = set()
        outside = _outside(ctx, shared) if ctx.scope.keys is not None else {}
        aliased = {f[1] for _, f in shared.aliases} | outside.keys()
        first: dict[str, tuple[int, object]] = {}  # aliased location -> (index, final outcome)
        if aliased:
            first = {f[1]: (i, None) for i, f in enumerate(files) if f[1] in aliased}
        for index, outcome in work.results():
            dist, f = judged[bisect_right(starts, index) - 1], files[index]
            if isinstance(outcome, tuple) and outcome[0] == "link":
                escape = escape_of(dist, f, ctx.target.prefix)
                if escape is not None:  # never opened
                    failed[f.location].append((dist, escape))
                    answered.add(index)
                    if f[1] in aliased:
                        first[f[1]] = (index, outcome)
                    continue
                outcome = _FileJudge(ctx.cache)(f, follow=True)
                if f[1] in aliased:
                    first[f[1]] = (index, outcome)
                if outcome is None:
                    continue
            elif f[1] in aliased:
                first[f[1]] = (index, outcome)
            judge(dist, f, outcome, ctx, result, failed)
            problems += isinstance(outcome, tuple) and outcome[0] in ("errno", "type")
            answered.add(index)
        if not ctx.cache.enabled:  # a file hashed and found as recorded sent nothing back
            result.bytes_hashed += sum(
                f.size
                for i, f in enumerate(files)
                if f.size is not None
                and f.digest is not None
                and f.algorithm is not None
                and f.kind is FileKind.REGULAR
                and i not in answered
            )
        owners = _shared_verdicts(ctx, result, failed, shared, (files, judged, starts), first)
        for loc, entries in outside.items():  # their failures are out of scope: not reported
            index, outcome = first[loc]
            for dist, f in entries:
                owners[loc].append((dist, f, derive(files[index], outcome, f) is None))
        result.files = sum(1 for f in files if f.kind is FileKind.REGULAR) - problems
        notes = superseded(duplicates, failed)
        result.findings.extend(duplicate_finding(group, notes) for group in duplicates)
        python = ctx.target.command_python or "python"
        report = {id(d) for d in judged}
        result.findings.extend(conflicts(owners, failed, python, report))
        result.findings.extend(denied_findings(failed, ctx.target.prefix))
        result.findings.extend(clobbered(failed, ctx.inventory.distributions))
        compiled.into(result)
        return result

    return finish
