"""The record check: every file as its installer recorded it, and what no installer owns.

Size before digest (a truncated file never needs hashing), digests from the stat cache when the
file's (device, inode, size, mtime, ctime) has not changed, the rest hashed in parallel. A path
that escapes the environment or is not a regular file is reported and never opened.
"""

from __future__ import annotations

import base64
import errno
import os
import stat
from collections import defaultdict
from collections.abc import Iterable, Iterator

from packaging.version import InvalidVersion, Version

from verify_env.checks.interface import CheckResult, Context
from verify_env.finding import Finding, Severity, Skip
from verify_env.hashing import hash_files
from verify_env.inventory import Distribution, FileKind, RecordedFile
from verify_env.statcache import stat_key

__all__ = ["CODES", "run"]

NAME = "record"
CODES = ("hash-mismatch", "size-mismatch", "missing-file", "record-missing", "record-malformed",
         "unrecorded-extension", "duplicate-distribution", "clobbered-file")

_TYPE_NAMES = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket",
               stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}


def _finding(dist: Distribution, code: str, path: str | None, message: str,
             severity: Severity = Severity.ERROR, hint: str | None = None) -> Finding:
    return Finding(NAME, code, severity, dist.name, dist.version, dist.installer, path, message,
                   hint if hint is not None else dist.hint)


def _roots(dist: Distribution, prefix: str) -> tuple[str, ...]:
    """Where a distribution's recorded files may legitimately live."""
    if dist.installer == "dpkg":
        return (os.sep,)
    roots = {os.path.normpath(prefix), os.path.normpath(dist.root)}
    if dist.site_dir:
        parts = os.path.normpath(dist.site_dir).split(os.sep)
        for i in range(len(parts) - 1, 0, -1):  # the scheme base: the parent of lib/lib64
            if parts[i] in ("lib", "lib64", "Lib"):
                roots.add(os.sep.join(parts[:i]) or os.sep)
                break
    return tuple(r.rstrip(os.sep) + os.sep for r in roots)


_PEM_MARK = b"-----BEGIN CERTIFICATE-----"


def _trust_bundle(location: str) -> bool:
    """A PEM certificate bundle: configuration that admins extend with local CAs on purpose
    (rpm and dpkg treat trust stores as config files for the same reason)."""
    try:
        with open(location, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return False
    return _PEM_MARK in head and b"\0" not in head


def _changed(dist: Distribution, f: RecordedFile, code: str, message: str,
             shrank: bool = False) -> Finding:
    """A file whose bytes changed: an error, unless it is a trust store that was not cut."""
    if not shrank and _trust_bundle(f.location):
        return _finding(dist, code, f.path, message + "; it is a certificate bundle, which "
                        "admins extend with local CAs on purpose", Severity.WARNING)
    return _finding(dist, code, f.path, message)


def _describe(err: OSError) -> tuple[str, str]:
    """(code, phrase) for a file that could not be stat'ed."""
    if err.errno == errno.ELOOP:
        return "hash-mismatch", "is a symlink loop"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "", "cannot be read (permission denied)"
    return "missing-file", "is missing"


class _Plan:
    """Files to hash, deduplicated by (location, algorithm), with who expects what."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.sizes: list[int] = []
        self.keys: list[tuple[int, int, int, int, int]] = []
        self.expect: list[list[tuple[Distribution, RecordedFile]]] = []
        self._index: dict[tuple[str, str], int] = {}

    def add(self, dist: Distribution, f: RecordedFile, st: os.stat_result) -> None:
        assert f.algorithm is not None
        key = (f.location, f.algorithm)
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(self.items)
            self.items.append(key)
            self.sizes.append(st.st_size)
            self.keys.append(stat_key(st))
            self.expect.append([])
        self.expect[index].append((dist, f))


def _check_file(dist: Distribution, f: RecordedFile, roots: tuple[str, ...],
                plan: _Plan, result: CheckResult, ctx: Context,
                failed: dict[str, list[tuple[Distribution, Finding]]]) -> None:
    def fail(code: str, phrase: str, severity: Severity = Severity.ERROR) -> None:
        finding = _finding(dist, code, f.path, f"{f.path} {phrase}", severity)
        failed[f.location].append((dist, finding))

    if not f.location.startswith(roots):
        result.findings.append(_finding(
            dist, "record-malformed", f.path,
            f"recorded path {f.path!r} lies outside the environment; not opened",
            Severity.WARNING))
        return
    if f.kind is FileKind.OPTIONAL:
        return
    try:
        st = os.stat(f.location)
    except OSError as err:
        if f.kind is FileKind.SOFTLINK and os.path.islink(f.location):
            fail("missing-file", f"is a softlink to {os.readlink(f.location)!r}, which is missing")
            return
        code, phrase = _describe(err)
        if not code:
            result.skips.append(Skip(NAME, dist.name, f.path, f"{f.path} {phrase}"))
            return
        if os.path.islink(f.location) and code == "missing-file":
            phrase = f"is a dangling symlink to {os.readlink(f.location)!r}"
        fail(code, phrase, Severity.WARNING if f.kind is FileKind.GENERATED else Severity.ERROR)
        return
    if f.kind is not FileKind.REGULAR:
        return
    if not stat.S_ISREG(st.st_mode):
        kind = _TYPE_NAMES.get(stat.S_IFMT(st.st_mode), "not a regular file")
        fail("hash-mismatch", f"is {kind}, not a regular file; not opened")
        return
    result.files += 1
    if f.size is not None and st.st_size != f.size:
        shrank = st.st_size < f.size
        failed[f.location].append((dist, _changed(
            dist, f, "size-mismatch", f"{f.path} has {st.st_size} bytes, {f.size} recorded"
            + (" (truncated)" if shrank else ""), shrank)))
        return
    if f.digest is None or f.algorithm is None:
        return
    cached = ctx.cache.get(f.location, stat_key(st), f.digest_style)
    if cached is not None:
        if cached != f.digest:
            failed[f.location].append((dist, _changed(
                dist, f, "hash-mismatch",
                f"{f.path} content differs from its recorded {f.algorithm} digest")))
        return
    plan.add(dist, f, st)


def _spell(raw: bytes, hex_: bool) -> str:
    """A raw digest spelled as its record spells digests."""
    if hex_:
        return raw.hex()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _hash(plan: _Plan, ctx: Context, result: CheckResult,
          failed: dict[str, list[tuple[Distribution, Finding]]]) -> None:
    total_files, total_bytes = len(plan.items), sum(plan.sizes)
    progress = None
    if ctx.progress is not None:
        report = ctx.progress

        def progress(files: int, nbytes: int) -> None:
            report("hashing", files, total_files, nbytes, total_bytes)

    digests = hash_files(plan.items, plan.sizes, ctx.jobs, progress)
    for index, outcome in enumerate(digests):
        location, algorithm = plan.items[index]
        for dist, f in plan.expect[index]:
            if isinstance(outcome, str):
                failed[location].append((dist, _finding(
                    dist, "hash-mismatch" if outcome == "not a regular file" else "missing-file",
                    f.path, f"{f.path} could not be read: {outcome}")))
                continue
            text = _spell(outcome, f.hex)
            ctx.cache.put(location, plan.keys[index], f.digest_style, text)
            if text != f.digest:
                failed[location].append((dist, _changed(
                    dist, f, "hash-mismatch",
                    f"{f.path} content differs from its recorded {algorithm} digest")))
        if isinstance(outcome, bytes):
            result.bytes_hashed += plan.sizes[index]


def _clobbered(failed: dict[str, list[tuple[Distribution, Finding]]],
               dists: Iterable[Distribution]) -> Iterator[Finding]:
    """Failures of conda-owned files that another installer now owns become clobbered-file."""
    other_owner: dict[str, Distribution] = {}
    by_key: dict[str, Distribution] = {}
    for d in dists:
        if d.installer != "conda" and d.judged_by is None and d.source != "conda-meta":
            by_key.setdefault(d.key, d)
            for f in d.files:
                other_owner.setdefault(f.location, d)
    gone: dict[str, int] = defaultdict(int)
    conda_by_name: dict[str, Distribution] = {}
    for location, entries in failed.items():
        for dist, finding in entries:
            if dist.source != "conda-meta":
                yield finding
                continue
            writer = other_owner.get(location)
            replacing = by_key.get(dist.key)
            if writer is not None:
                yield _finding(
                    dist, "clobbered-file", finding.path,
                    f"{finding.path} of conda package {dist.name} {dist.version} was rewritten by "
                    f"{writer.installer}'s {writer.name} {writer.version}: {finding.message}")
            elif replacing is not None and finding.code == "missing-file":
                gone[dist.name] += 1
                conda_by_name[dist.name] = dist
            else:
                yield finding
    for name, count in gone.items():
        dist = conda_by_name[name]
        writer = by_key[dist.key]
        yield _finding(
            dist, "clobbered-file", None,
            f"{count} files of conda package {dist.name} {dist.version} were removed when "
            f"{writer.installer} installed {writer.name} {writer.version} over it",
            hint=f"{writer.installer} uninstall {writer.name} && {dist.hint}")


def _duplicates(dists: Iterable[Distribution]) -> Iterator[Finding]:
    groups: dict[tuple[str, str], list[Distribution]] = defaultdict(list)
    for d in dists:
        if d.site_dir is not None:
            groups[(d.site_dir, d.key)].append(d)
    for group in groups.values():
        if len(group) < 2:
            continue

        def norm(v: str) -> str:
            try:
                return str(Version(v))
            except InvalidVersion:
                return v

        versions = {norm(d.version) for d in group}
        owners = {d.os_package or d.installer for d in group}
        if len(versions) == 1 and len(owners) == 1:
            continue  # one owner shipping one version twice (distro dist-info + egg-info)
        first = group[0]
        listing = ", ".join(
            f"{os.path.basename(d.metadata_dir or '?')} ({d.installer})" for d in group)
        yield _finding(
            first, "duplicate-distribution", os.path.basename(first.metadata_dir or ""),
            f"{len(group)} metadata dirs for {first.name} in {first.site_dir}: {listing}",
            hint=f"remove the stale metadata dir, then: {group[-1].hint or 'reinstall it'}")


def run(ctx: Context) -> CheckResult:
    from verify_env.checks.leftovers import unrecorded_extensions

    result = CheckResult()
    dists = [d for d in ctx.inventory.distributions if ctx.scope.includes(d)]
    plan = _Plan()
    failed: dict[str, list[tuple[Distribution, Finding]]] = defaultdict(list)
    for dist in dists:
        for problem in dist.problems:
            result.findings.append(_finding(
                dist, problem.code, problem.path, problem.message,
                Severity.WARNING if problem.warning else Severity.ERROR))
        if dist.judged_by is not None:
            continue
        roots = _roots(dist, ctx.target.prefix)
        for f in dist.files:
            _check_file(dist, f, roots, plan, result, ctx, failed)
    if plan.items:
        _hash(plan, ctx, result, failed)
    result.findings.extend(_clobbered(failed, ctx.inventory.distributions))
    result.findings.extend(_duplicates(dists))
    result.findings.extend(unrecorded_extensions(ctx, dists))
    return result
