"""What a transaction changed, told by two cheap looks at the environment.

A `Snapshot` lists each metadata directory of the target's site dirs (and each conda-meta
record) with its version and the stat key of its RECORD (or record JSON): no file is hashed, so
taking one costs a directory listing and a few stats per distribution. Two of them, before and
after pip or conda ran, give a `Change`; `verify_env.transaction.scope.scope_of` turns it into the
`Scope` the core verifies — what changed, widened to what the change could break. conda's
linked and unlinked package records give a `Change` too (`Change.of_packages`), so every front
door's transaction is scoped by the one rule.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from verify_env.cache.statcache import StatKey, stat_key
from verify_env.names import canonical_name

# A front door takes its first snapshot before pip or conda starts: this module must not pull
# in the inventory readers or the target probe (~50 ms of imports) to do it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from verify_env.target.model import Target

__all__ = ["Change", "Snapshot"]

_META = (".dist-info", ".egg-info")


@dataclass(frozen=True, slots=True)
class Entry:
    """One distribution as a snapshot saw it."""

    key: str
    """Canonical name (conda records: ``conda:<name>``)."""
    version: str
    """Version from the directory or file name."""
    record: StatKey | None
    """Stat key of its RECORD / installed-files.txt / conda-meta JSON, None if absent."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The distributions of a target at one moment, by metadata location."""

    entries: dict[str, Entry] = field(default_factory=dict)
    """Metadata dir or conda-meta JSON path -> what was there."""
    interpreter: StatKey | None = None
    """Stat key of the interpreter's real executable: a new one means every binary may be
    dead."""
    layout: frozenset[str] = frozenset()
    """Every top-level entry of the site dirs: an installer killed before it wrote the
    metadata dir still leaves new package dirs (or pip's ``~`` stashes) behind."""
    tops: dict[str, StatKey | None] = field(default_factory=dict)
    """The lstat key of each `layout` entry: a directory's changes when an entry in it is
    added or removed, so two snapshots tell which package dirs a transaction went into."""

    @classmethod
    def take(cls, target: Target) -> Snapshot:
        return cls.of(target.prefix, target.executable, target.site_dirs)

    @classmethod
    def of(cls, prefix: str, executable: str | None, site_dirs: tuple[str, ...]) -> Snapshot:
        """A snapshot from the three facts it needs (a front door may know them before the
        target has been fully described)."""
        entries: dict[str, Entry] = {}
        layout: set[str] = set()
        tops: dict[str, StatKey | None] = {}
        for site in site_dirs:
            try:
                names = os.listdir(site)
            except OSError:
                continue
            layout.update(os.path.join(site, n) for n in names)
            for name in names:
                tops[os.path.join(site, name)] = _lstat(os.path.join(site, name))
            for name in names:
                if not name.endswith(_META):
                    continue
                stem = name.rpartition(".")[0]
                project, _, version = stem.partition("-")
                path = os.path.join(site, name)
                entries[path] = Entry(
                    canonical_name(project),
                    version.split("-")[0],
                    _stat(path, "RECORD", "installed-files.txt", "PKG-INFO"),
                )
        meta = os.path.join(prefix, "conda-meta")
        try:
            records = [n for n in os.listdir(meta) if n.endswith(".json")]
        except OSError:
            records = []
        for name in records:
            project, version = _conda_name(name[:-5])
            path = os.path.join(meta, name)
            entries[path] = Entry(f"conda:{canonical_name(project)}", version, _stat(path))
        exe = None
        if executable:
            try:
                exe = stat_key(os.stat(os.path.realpath(executable)))
            except OSError:
                exe = None
        return cls(entries, exe, frozenset(layout), tops)


def _stat(path: str, *inside: str) -> StatKey | None:
    for name in inside or ("",):
        try:
            return stat_key(os.stat(os.path.join(path, name) if name else path))
        except OSError:
            continue
    return None


def _lstat(path: str) -> StatKey | None:
    try:
        return stat_key(os.lstat(path))
    except OSError:
        return None


def _conda_name(stem: str) -> tuple[str, str]:
    """``numpy-base-2.1.3-py311h_0`` -> (``numpy-base``, ``2.1.3``)."""
    parts = stem.rsplit("-", 2)
    if len(parts) == 3:
        return parts[0], parts[1]
    return stem, ""


@dataclass(frozen=True, slots=True)
class Change:
    """The difference between two snapshots, by distribution key."""

    added: frozenset[str]
    removed: frozenset[str]
    changed: frozenset[str]
    """Present before and after with another version or a rewritten record."""
    interpreter_changed: bool = False
    layout_changed: bool = False
    """Top-level entries of a site dir appeared or vanished (also without any metadata)."""
    removed_libraries: frozenset[str] = frozenset()
    """File names of shared libraries the transaction took away (known when the front door
    saw the removed packages' file lists, as conda's unlink records give them): their
    consumers lose them, though nothing on disk names them any more."""
    disturbed: frozenset[str] = frozenset()
    """Top-level site-dir entries that appeared, vanished or were changed in (`Snapshot.tops`)
    by a transaction that removed or replaced a distribution: where files another
    distribution also recorded may have gone with it (`scope.Scope.with_bereaved`)."""

    @classmethod
    def of_packages(
        cls,
        linked: Iterable[tuple[str, Iterable[str]]],
        unlinked: Iterable[tuple[str, Iterable[str]]],
        interpreter: str = "python",
    ) -> Change:
        """The change a package manager reports: (name, files) of the packages it linked and
        unlinked (a package in both was replaced: changed). The interpreter changed when the
        package named ``interpreter`` was linked."""
        from verify_env.binary.extensions import is_library

        new = {f"conda:{canonical_name(name)}" for name, _ in linked}
        gone: set[str] = set()
        libraries: set[str] = set()
        for name, files in unlinked:
            gone.add(f"conda:{canonical_name(name)}")
            libraries.update(os.path.basename(f) for f in files if is_library(f))
        return cls(
            frozenset(new - gone),
            frozenset(gone - new),
            frozenset(new & gone),
            interpreter_changed=f"conda:{canonical_name(interpreter)}" in new,
            removed_libraries=frozenset(libraries),
        )

    @classmethod
    def between(cls, before: Snapshot, after: Snapshot) -> Change:
        def by_key(s: Snapshot) -> dict[str, set[tuple[str, str, StatKey | None]]]:
            out: dict[str, set[tuple[str, str, StatKey | None]]] = {}
            for path, e in s.entries.items():
                out.setdefault(e.key, set()).add((path, e.version, e.record))
            return out

        old, new = by_key(before), by_key(after)
        added = frozenset(new.keys() - old.keys())
        removed = frozenset(old.keys() - new.keys())
        changed = frozenset(k for k in old.keys() & new.keys() if old[k] != new[k])
        disturbed: frozenset[str] = frozenset()
        if removed or changed:
            disturbed = frozenset(
                p
                for p in before.tops.keys() | after.tops.keys()
                if before.tops.get(p) != after.tops.get(p) and not p.endswith(_META)
            )
        return cls(
            added,
            removed,
            changed,
            before.interpreter is not None and before.interpreter != after.interpreter,
            before.layout != after.layout,
            disturbed=disturbed,
        )

    @property
    def empty(self) -> bool:
        return not (
            self.added
            or self.removed
            or self.changed
            or self.interpreter_changed
            or self.layout_changed
        )

    def describe(self) -> str:
        """What changed, in words: the scope's reason."""
        parts = [
            f"{len(keys)} {label}"
            for label, keys in (
                ("added", self.added),
                ("changed", self.changed),
                ("removed", self.removed),
            )
            if keys
        ]
        if self.interpreter_changed:
            parts.append("the interpreter changed")
        return "transaction: " + (", ".join(parts) or "nothing changed")

    @property
    def touched(self) -> frozenset[str]:
        """Keys added, removed or changed, with conda's ``conda:`` prefix taken off."""
        return frozenset(k.removeprefix("conda:") for k in self.added | self.removed | self.changed)
