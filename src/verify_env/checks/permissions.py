"""``permission-denied`` and ``owner-only-permissions``: files the users of an environment
cannot read.

A root install under ``umask 077`` (a Dockerfile's ``RUN umask 077 && pip install …``, a
hardened host) leaves every directory it creates ``0700`` and every file ``0600``. Root sees a
whole environment; any other user's ``import numpy`` finds ``site-packages/numpy`` unreadable,
and the path finder, which cannot see ``numpy/__init__.py``, imports an empty namespace package:
``module 'numpy' has no attribute 'array'``, or a PermissionError.

- Run as that other user, the record check meets ``EACCES`` on the recorded files (and on the
  metadata dir): ``permission-denied``, one error per distribution, the files counted.
- Run as root, nothing is refused. "An environment others use" is decided from its modes: its
  prefix and each site dir are readable and searchable by others (``o+rx``: whoever made them
  meant others to come in) and the directories above it let them through; then a
  distribution's metadata dir or top-level package dir that others cannot read and search is
  ``owner-only-permissions`` (a warning: root's own, private environment may be meant so, and
  its prefix or a directory above it then says so by being private itself).
  Only those directories are looked at, not every file: a umask-077 install makes each of them
  private, and a stat per file would cost a root run ~25 ms on a torch venv.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Iterable, Iterator

from verify_env.finding import Finding, Severity
from verify_env.inventory import Distribution

__all__ = ["DENIED", "chmod_hint", "denied_findings", "owner_only"]

DENIED = "permission-denied"

Failed = dict[str, list[tuple[Distribution, Finding]]]


def chmod_hint(prefix: str) -> str:
    """The repair: make it readable (files) and searchable (directories, ``X``) for all."""
    return f"as the environment's owner: chmod -R a+rX {shlex.quote(prefix)}"


def denied_findings(failed: Failed, prefix: str) -> Iterator[Finding]:
    """Take the per-file ``permission-denied`` findings out of ``failed``, one per
    distribution instead: an unreadable package is one cause, not a thousand."""
    per_dist: dict[int, tuple[Distribution, list[str]]] = {}
    for location in list(failed):
        kept = []
        for dist, finding in failed[location]:
            if finding.code == DENIED:
                per_dist.setdefault(id(dist), (dist, []))[1].append(finding.path or location)
            else:
                kept.append((dist, finding))
        if kept:
            failed[location] = kept
        else:
            del failed[location]
    user = _user()
    for dist, paths in per_dist.values():
        paths.sort()
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        yield Finding(
            "record",
            DENIED,
            Severity.ERROR,
            dist.name,
            dist.version,
            dist.installer,
            paths[0],
            f"{len(paths)} recorded file{'s' if len(paths) != 1 else ''} of {dist.name} "
            f"{dist.version} cannot be read by {user} ({shown}): its import fails for this user "
            "(PermissionError, or an empty namespace package), and its bytes cannot be verified",
            chmod_hint(prefix),
        )


def _user() -> str:
    try:
        import pwd

        return f"user {pwd.getpwuid(os.geteuid()).pw_name!r}"
    except (ImportError, KeyError, OSError):
        return "this user"


def _open_to_others(path: str) -> bool | None:
    """Whether others may list and enter the directory (None: not a directory)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return None
    return st.st_mode & 0o005 == 0o005


def _reachable(directory: str) -> bool:
    """Whether others may pass through ``directory`` and every directory above it."""
    while True:
        try:
            if not os.stat(directory).st_mode & 0o001:
                return False
        except OSError:
            return False
        parent = os.path.dirname(directory)
        if parent == directory:
            return True
        directory = parent


def owner_only(
    prefix: str,
    site_dirs: Iterable[str],
    dists: Iterable[Distribution],
    tops: dict[str, Distribution],
) -> Iterator[Finding]:
    """Run as root: the private directories of an environment others use (module docstring)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    sites = [s for s in site_dirs if s.startswith(prefix.rstrip(os.sep) + os.sep)]
    if _open_to_others(prefix) is not True or not all(_open_to_others(s) for s in sites):
        return
    if not _reachable(os.path.dirname(os.path.abspath(prefix))):
        return  # inside a private directory (root's home): nobody else gets there anyway
    private: dict[int, tuple[Distribution, list[str]]] = {}
    for dist in dists:
        meta = dist.metadata_dir
        if meta and dist.site_dir in sites and _open_to_others(meta) is False:
            private.setdefault(id(dist), (dist, []))[1].append(meta)
    for top, dist in tops.items():
        if dist.site_dir in sites and _open_to_others(top) is False:
            private.setdefault(id(dist), (dist, []))[1].append(top)
    for dist, paths in private.values():
        paths.sort()
        names = [os.path.basename(p) for p in paths]
        try:
            mode = f"mode {stat.S_IMODE(os.stat(paths[0]).st_mode):04o}"
        except OSError:
            mode = "private"
        yield Finding(
            "record",
            "owner-only-permissions",
            Severity.WARNING,
            dist.name,
            dist.version,
            dist.installer,
            os.path.relpath(paths[0], dist.site_dir or prefix),
            f"{', '.join(names)} of {dist.name} {dist.version} ({mode}) cannot be read by "
            f"other users, while {prefix} is open to them: their 'import' of it fails "
            "(PermissionError, or an empty namespace package); root does not notice",
            chmod_hint(prefix),
        )
