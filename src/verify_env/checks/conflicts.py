"""One path recorded by two installed distributions (``file-conflict``), and hashing it once.

pip installs ``opencv-python-headless`` over ``opencv-python`` without a word: the second
writes ``cv2/…`` over the first's files and both records claim them. Nothing fails until one of
the two is uninstalled and takes the shared files with it. A reinstall of either only moves the
damage to the other; the repair is to uninstall both and install one.

The same location recorded twice is hashed once per run (issue 18: "no file is hashed twice"):
the record check queues a location the first time a record names it (`Shared.claim`); every
later record of it is an alias whose verdict `derive` works out from the first one's outcome
(its size and, when hashed, its digest), so the bytes are read once whatever the number of
owners. Only when the first outcome says too little (a digest in another spelling, a link) is
the alias judged on its own.

What is not a conflict (so not reported): two records of one project (``duplicate-distribution``
says it), conda's files (conda-meta against a pip RECORD is ``clobbered-file``; conda
arbitrates its own packages), the OS's packages (dpkg arbitrates its files), bytecode under
``__pycache__`` (it follows its source), rows that promise only that a path exists, and
``__init__.py`` files only, identical or namespace declarations: the namespace packages
declared the old way (``pkgutil``/``pkg_resources`` style, ``zope/__init__.py`` in every
``zope.*``, ``backports/__init__.py``) ship one in each distribution on purpose; the record
whose copy was overwritten by the other's is not reported as damaged either. Directories are
never rows, so PEP 420 namespace dirs shared by many distributions are not either.
"""

from __future__ import annotations

import os
import shlex
from collections import defaultdict
from collections.abc import Iterable, Iterator

from verify_env.checks.record_verdicts import finding
from verify_env.files import read_regular
from verify_env.finding import Finding, Severity
from verify_env.inventory import Distribution, FileKind, RecordedFile

__all__ = ["HERE", "Owner", "Shared", "clobbered", "conflicts", "derive"]

Failed = dict[str, list[tuple[Distribution, Finding]]]

HERE = ("here",)
"""`derive`'s answer when the first outcome says too little: judge the alias itself."""

Owner = tuple[Distribution, RecordedFile, bool]
"""A distribution recording a location, its row, and whether the bytes there are as its row
says."""


class Shared:
    """The locations already queued for hashing, and the later rows naming one of them."""

    __slots__ = ("aliases", "seen")

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.aliases: list[tuple[Distribution, RecordedFile]] = []
        """(distribution, row) of every row whose location an earlier row queued."""

    def claim(self, dist: Distribution, files: list[RecordedFile]) -> list[RecordedFile]:
        """The rows of ``files`` to hash: those whose location no earlier row named
        (``files`` names each location once: `containment.readable_files`)."""
        seen = self.seen
        locations = [f[1] for f in files]
        if seen.isdisjoint(locations):
            seen.update(locations)
            return files
        fresh = []
        for f in files:
            if f[1] in seen:
                self.aliases.append((dist, f))
            else:
                seen.add(f[1])
                fresh.append(f)
        return fresh


def derive(first: RecordedFile, outcome: object, f: RecordedFile) -> object:
    """The outcome ``f`` would have had, from the outcome of the row hashed for its location
    (`record._FileJudge`'s vocabulary), or `HERE`."""
    if f.kind is FileKind.OPTIONAL:
        return None
    if first.kind is not FileKind.REGULAR or f.kind is not FileKind.REGULAR:
        return HERE
    tag = outcome[0] if isinstance(outcome, tuple) else None
    if tag in ("type", "errno"):
        return outcome  # the file's state, whoever recorded it
    size: int | None
    found: str | None = None  # the digest on disk, in first's spelling, when known
    if outcome is None or tag == "ok":
        size = first.size if first.size is not None else None
        if tag == "ok" and isinstance(outcome, tuple):
            size = outcome[1]
        if first.algorithm is not None and first.digest is not None:
            found = first.digest
    elif tag == "hashed" and isinstance(outcome, tuple):
        size, found = outcome[3], outcome[2]
    elif tag == "cached-bad":
        size = first.size
    elif tag == "size" and isinstance(outcome, tuple):
        size = outcome[1]
    else:
        return HERE
    if f.size is not None and size is not None and size >= 0 and f.size != size:
        return ("size", size)
    if f.algorithm is None or f.digest is None:
        return None if f.size is None or size is not None else HERE
    if found is not None and f.algorithm == first.algorithm and f.hex != first.hex:
        found = _respell(found, f.hex)  # conda's hex beside pip's base64 of one sha256
        if found is None:
            return HERE
    elif f.digest_style != first.digest_style:
        return HERE
    if found is not None:
        return None if found == f.digest else ("cached-bad",)
    if tag == "cached-bad" and f.digest == first.digest:
        return ("cached-bad",)
    return HERE


def _respell(digest: str, to_hex: bool) -> str | None:
    """A digest in the other spelling (hex <-> RECORD's unpadded urlsafe base64)."""
    import base64
    import binascii

    try:
        if to_hex:
            return base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4)).hex()
        return base64.urlsafe_b64encode(bytes.fromhex(digest)).rstrip(b"=").decode()
    except (ValueError, binascii.Error):
        return None


def _eligible(d: Distribution) -> bool:
    return d.source != "conda-meta" and d.judged_by is None and d.os_package is None


def _counted(f: RecordedFile) -> bool:
    """A row that can conflict: a file with content, not bytecode, not an existence promise."""
    return (
        f.kind is not FileKind.OPTIONAL
        and "/__pycache__/" not in f.path.replace(os.sep, "/")
        and not (f.algorithm is None and f.size is None)
    )


def _old_namespace(rows: Iterable[tuple[RecordedFile, RecordedFile]]) -> bool:
    """Only ``__init__.py`` files, each identical in both records or a namespace declaration
    (``pkgutil.extend_path`` / ``pkg_resources.declare_namespace``): a package several
    distributions fill, declared the old way. Removing it with either leaves a PEP 420
    namespace package that still imports the other's modules."""
    for a, b in rows:
        if os.path.basename(a.location) != "__init__.py":
            return False
        if a.digest is not None and (a.digest_style, a.digest) == (b.digest_style, b.digest):
            continue
        data = read_regular(a.location, 64 << 10)
        if data is None or not (b"extend_path(" in data or b"declare_namespace(" in data):
            return False
    return True


def _repair(python: str, keep: Distribution, other: Distribution) -> str:
    """Uninstall both, install one: the order matters (uninstalling B after installing A
    would take A's files again)."""
    names = f"{keep.name} {other.name}"
    spec = shlex.quote(f"{keep.name}=={keep.version}")
    if keep.installer == other.installer == "uv":
        py = shlex.quote(python)
        return f"uv pip uninstall --python {py} {names} && uv pip install --python {py} {spec}"
    py = shlex.quote(python)
    return f"{py} -m pip uninstall -y {names} && {py} -m pip install {spec}"


def conflicts(
    owners: dict[str, list[Owner]], failed: Failed, python: str, report: set[int]
) -> Iterator[Finding]:
    """One finding per pair of distributions whose records share files, for pairs with a
    member in ``report`` (ids of the distributions in scope). A shared file's failure in one
    record is dropped when the other's record matches the bytes (the second install wrote
    them: that is the conflict, not damage); when no record matches, the damage is reported
    too."""
    pairs: dict[tuple[int, int], list[tuple[Owner, Owner]]] = defaultdict(list)
    for rows in owners.values():
        rows = [r for r in rows if _eligible(r[0]) and _counted(r[1])]
        for i, a in enumerate(rows):
            for b in rows[i + 1 :]:
                if a[0] is not b[0] and a[0].key != b[0].key:
                    pairs[(id(a[0]), id(b[0]))].append((a, b))
    for shared in pairs.values():
        a_dist, b_dist = shared[0][0][0], shared[0][1][0]
        if not ({id(a_dist), id(b_dist)} & report):
            continue
        benign = _old_namespace((a[1], b[1]) for a, b in shared)
        a_ok = sum(a[2] for a, _ in shared)
        b_ok = sum(b[2] for _, b in shared)
        for a, b in shared:
            for mine, theirs in ((a, b), (b, a)):
                loc = mine[1].location
                if theirs[2] and not mine[2] and loc in failed:
                    failed[loc] = [(d, x) for d, x in failed[loc] if d is not mine[0]]
                    if not failed[loc]:
                        del failed[loc]
        if benign:
            continue
        keep, other = (b_dist, a_dist) if b_ok >= a_ok else (a_dist, b_dist)
        # named in one order whatever the scope gathered first: a run and a scoped run agree
        first, second = sorted((a_dist, b_dist), key=lambda d: (d.key, d.version))
        paths = sorted(a[1].path for a, _ in shared)
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        stale = len(shared) - min(a_ok, b_ok)
        whose = (
            f"; the bytes on disk are {keep.name}'s ({other.name}'s record no longer matches "
            f"{stale} of them)"
            if a_ok != b_ok
            else ""
        )
        yield Finding(
            "record",
            "file-conflict",
            Severity.ERROR,
            keep.name,
            keep.version,
            keep.installer,
            paths[0],
            f"{len(paths)} file{'s are' if len(paths) != 1 else ' is'} recorded by both "
            f"{first.name} {first.version} ({first.installer}) and {second.name} "
            f"{second.version} ({second.installer}): {shown}{whose}. Uninstalling either "
            "removes them from the other, and reinstalling either only moves the conflict",
            _repair(python, keep, other),
        )


def clobbered(
    failed: dict[str, list[tuple[Distribution, Finding]]], dists: Iterable[Distribution]
) -> Iterator[Finding]:
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
        for dist, found in entries:
            if dist.source != "conda-meta":
                yield found
                continue
            writer = other_owner.get(location)
            replacing = by_key.get(dist.key)
            if writer is not None:
                yield finding(
                    dist,
                    "clobbered-file",
                    found.path,
                    f"{found.path} of conda package {dist.name} {dist.version} was rewritten by "
                    f"{writer.installer}'s {writer.name} {writer.version}: {found.message}",
                )
            elif replacing is not None and found.code == "missing-file":
                gone[dist.name] += 1
                conda_by_name[dist.name] = dist
            else:
                yield found
    for name, count in gone.items():
        dist = conda_by_name[name]
        writer = by_key[dist.key]
        yield finding(
            dist,
            "clobbered-file",
            None,
            f"{count} files of conda package {dist.name} {dist.version} were removed when "
            f"{writer.installer} installed {writer.name} {writer.version} over it",
            hint=f"{writer.installer} uninstall {writer.name} && {dist.hint}",
        )
