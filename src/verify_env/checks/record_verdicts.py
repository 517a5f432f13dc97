"""What a hashing worker's outcome for a recorded file means, as findings.

Split out of the record check (which keeps the hashing itself): the messages for a file that
differs from its record, is missing, unreadable, not a regular file, or leads out of the
environment; ``failed`` collects them by location so that the checks of two owners
(`duplicates`, `conflicts`, `permissions`) can explain them before they are reported.
"""

from __future__ import annotations

import errno
import os
import stat

from verify_env.checks.containment import escapes, roots_of
from verify_env.checks.deliberate import appended_certificates, only_shebang_flags
from verify_env.checks.duplicates import Failed
from verify_env.checks.interface import CheckResult, Context, dist_finding
from verify_env.checks.permissions import DENIED
from verify_env.finding import Finding, Severity, Skip
from verify_env.inventory import Distribution, FileKind, RecordedFile
from verify_env.repair.hints import accept_rule

__all__ = ["NAME", "escape_of", "finding", "judge", "size_of"]

NAME = "record"

_TYPE_NAMES = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def finding(
    dist: Distribution,
    code: str,
    path: str | None,
    message: str,
    severity: Severity = Severity.ERROR,
    hint: str | None = None,
) -> Finding:
    return dist_finding(NAME, dist, code, path, message, severity, hint)


def _grown_bundle_hint(dist: Distribution, code: str, path: str) -> str:
    """A trust store grown on purpose is accepted, not reinstalled (that would drop the
    admin's CA); the reinstall only for certificates nobody meant to add."""
    accept = accept_rule(NAME, code, dist.name, path)
    if dist.hint is None:
        return f"if these are your CAs, accept them: {accept}"
    return f"if these are your CAs, accept them: {accept}; if not: {dist.hint}"


def _unreadable(
    dist: Distribution, f: RecordedFile, err_no: int | None, text: str
) -> Finding | Skip:
    """What an OSError on a recorded path means for the user."""
    if err_no == errno.ELOOP:
        return finding(dist, "hash-mismatch", f.path, f"{f.path} is a symlink loop")
    if err_no in (errno.EACCES, errno.EPERM):  # one finding per distribution (permissions)
        return finding(dist, DENIED, f.path, f"{f.path} cannot be read: {text}")
    if os.path.islink(f.location) and not os.path.exists(f.location):
        target = os.readlink(f.location)
        what = "softlink" if f.kind is FileKind.SOFTLINK else "dangling symlink"
        return finding(
            dist, "missing-file", f.path, f"{f.path} is a {what} to {target!r}, which is missing"
        )
    severity = Severity.WARNING if f.kind is FileKind.GENERATED else Severity.ERROR
    phrase = "is missing" if err_no in (errno.ENOENT, errno.ENOTDIR) else f"is unreadable: {text}"
    return finding(dist, "missing-file", f.path, f"{f.path} {phrase}", severity)


def _not_regular(dist: Distribution, f: RecordedFile, mode: int) -> Finding:
    kind = _TYPE_NAMES.get(stat.S_IFMT(mode), "not a regular file")
    return finding(
        dist, "hash-mismatch", f.path, f"{f.path} is {kind}, not a regular file; not opened"
    )


def size_of(location: str) -> int:
    try:
        return os.stat(location).st_size
    except OSError:
        return -1


def _size_changed(dist: Distribution, f: RecordedFile, actual: int) -> Finding:
    assert f.size is not None
    message = f"{f.path} has {actual} bytes, {f.size} recorded"
    if actual < f.size:
        return finding(dist, "size-mismatch", f.path, message + " (truncated)")
    if appended_certificates(f, actual):
        return finding(
            dist,
            "size-mismatch",
            f.path,
            message + ": certificates were appended to the recorded bundle, which is otherwise "
            "unchanged (admins extend trust stores with local CAs on purpose)",
            Severity.WARNING,
            _grown_bundle_hint(dist, "size-mismatch", f.path),
        )
    return finding(dist, "size-mismatch", f.path, message)


def _content_changed(dist: Distribution, f: RecordedFile, actual: int = -1) -> Finding:
    if f.size is None and actual > 0 and appended_certificates(f, actual):
        return finding(
            dist,
            "hash-mismatch",
            f.path,
            f"{f.path} content differs from its recorded {f.algorithm} digest: certificates "
            "were appended to the recorded bundle, which is otherwise unchanged (admins extend "
            "trust stores with local CAs on purpose)",
            Severity.WARNING,
            _grown_bundle_hint(dist, "hash-mismatch", f.path),
        )
    return finding(
        dist,
        "hash-mismatch",
        f.path,
        f"{f.path} content differs from its recorded {f.algorithm} digest",
    )


def judge(
    dist: Distribution,
    f: RecordedFile,
    outcome: object,
    ctx: Context,
    result: CheckResult,
    failed: Failed,
) -> None:
    """One worker outcome (not None) as findings, skips and cache entries."""
    assert isinstance(outcome, tuple)
    tag = outcome[0]
    if tag == "ok":
        result.bytes_hashed += outcome[1]
    elif tag == "hashed":
        _, key, text, nbytes = outcome
        result.bytes_hashed += max(nbytes, 0)
        if key is not None:
            ctx.cache.put(f.location, tuple(key), f.digest_style, text)
        if text != f.digest and not only_shebang_flags(f):
            failed[f.location].append((dist, _content_changed(dist, f, nbytes)))
    elif tag == "cached-bad":
        if not only_shebang_flags(f):
            failed[f.location].append((dist, _content_changed(dist, f, size_of(f.location))))
    elif tag == "size":
        if not only_shebang_flags(f):
            failed[f.location].append((dist, _size_changed(dist, f, outcome[1])))
    elif tag == "type":
        failed[f.location].append((dist, _not_regular(dist, f, outcome[1])))
    else:
        found = _unreadable(dist, f, outcome[1], outcome[2])
        if isinstance(found, Skip):
            result.skips.append(found)
        else:
            failed[f.location].append((dist, found))


def escape_of(dist: Distribution, f: RecordedFile, prefix: str) -> Finding | None:
    """The finding for a recorded path that resolves out of the distribution's roots."""
    roots = roots_of(dist, prefix)
    if roots == (os.sep,):
        return None
    if f.algorithm is None and f.size is None:
        return None  # it promises only that it exists: stat'ed, never opened
    real = os.path.realpath(f.location)
    if not escapes(dist, f, roots, real):
        return None
    return finding(
        dist,
        "path-escape",
        f.path,
        f"{f.path} resolves through a symlink to {real}, outside the environment; not opened",
    )
