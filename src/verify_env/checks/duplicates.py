"""Two metadata dirs for one project in one site dir (``duplicate-distribution``).

Moved out of the record check, which calls it once its files are judged: a stale record's file
failures that another member of the group explains are folded into the one finding that names
the cause.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable

from verify_env.finding import Finding, Severity
from verify_env.inventory import Distribution

__all__ = ["Failed", "duplicate_finding", "duplicate_groups", "superseded"]

Failed = dict[str, list[tuple[Distribution, Finding]]]
"""Location -> (distribution whose record it fails, the finding), as the record check builds it."""


def duplicate_groups(dists: Iterable[Distribution]) -> list[list[Distribution]]:
    """Metadata dirs of one project in one site dir that differ in version or owner (one owner
    shipping one version twice, a distro's dist-info + egg-info, is not a problem)."""
    from packaging.version import InvalidVersion, Version

    def norm(v: str) -> str:
        try:
            return str(Version(v))
        except InvalidVersion:
            return v

    groups: dict[tuple[str, str], list[Distribution]] = defaultdict(list)
    for d in dists:
        if d.site_dir is not None:
            groups[(d.site_dir, d.key)].append(d)
    out = []
    for group in groups.values():
        if len(group) < 2:
            continue
        versions = {norm(d.version) for d in group}
        owners = {d.os_package or d.installer for d in group}
        if len(versions) > 1 or len(owners) > 1:
            out.append(group)
    return out


def superseded(groups: list[list[Distribution]], failed: Failed) -> dict[int, tuple[int, int]]:
    """Take out the file findings of a leftover record that another install explains.

    A stale ``numpy-1.26.4.dist-info`` beside ``numpy-2.2.6.dist-info`` records ~600 files that
    2.2.6 rewrote or removed: reported one by one they drown the one finding that names the
    cause (the duplicate metadata dir). A failure of member A is explained when another member
    records the same file and finds it as recorded; when most of A's failures are explained,
    A's files that are simply gone are too. Returns id(A) -> (rewritten, gone) for the
    duplicate finding's message; what stays unexplained is still reported."""
    notes: dict[int, tuple[int, int]] = {}
    for group in groups:
        recorded = {id(d): {f.location for f in d.files} for d in group}
        for a in group:
            mine = [loc for loc, entries in failed.items() if any(d is a for d, _ in entries)]
            if not mine:
                continue
            explained = [
                loc
                for loc in mine
                if any(
                    loc in recorded[id(b)] and not any(d is b for d, _ in failed[loc])
                    for b in group
                    if b is not a
                )
            ]
            is_superseded = 2 * len(explained) >= len(mine)
            gone = [
                loc
                for loc in mine
                if is_superseded
                and loc not in explained
                and any(d is a and f.code == "missing-file" for d, f in failed[loc])
                and not any(loc in recorded[id(b)] for b in group if b is not a)
            ]
            for loc in (*explained, *gone):
                failed[loc] = [(d, f) for d, f in failed[loc] if d is not a]
                if not failed[loc]:
                    del failed[loc]
            if explained or gone:
                notes[id(a)] = (len(explained), len(gone))
    return notes


def duplicate_finding(group: list[Distribution], notes: dict[int, tuple[int, int]]) -> Finding:
    first = group[0]
    listing = ", ".join(f"{os.path.basename(d.metadata_dir or '?')} ({d.installer})" for d in group)
    stale = ""
    for d in group:
        if id(d) in notes:
            rewritten, gone = notes[id(d)]
            stale += (
                f"; {d.name} {d.version}'s record no longer describes what is installed: "
                f"{rewritten} of its files hold another install's bytes"
                + (f" and {gone} are gone" if gone else "")
                + " (not listed one by one)"
            )
    return Finding(
        "record",
        "duplicate-distribution",
        Severity.ERROR,
        first.name,
        first.version,
        first.installer,
        os.path.basename(first.metadata_dir or ""),
        f"{len(group)} metadata dirs for {first.name} in {first.site_dir}: {listing}{stale}",
        f"remove the stale metadata dir, then: {group[-1].hint or 'reinstall it'}",
    )
