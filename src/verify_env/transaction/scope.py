"""Which distributions a run looks at, and why.

A full run looks at everything. After a transaction (pipv's, conda's) `scope_of` is the one
rule for every front door: what changed, widened to what the change could break.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from verify_env.binary.extensions import is_library
from verify_env.inventory import Distribution, FileKind, Inventory
from verify_env.names import requirement_name

if TYPE_CHECKING:
    from verify_env.transaction.snapshot import Change

__all__ = ["Scope", "scope_of"]


@dataclass(frozen=True, slots=True)
class Scope:
    """The distributions to check; ``None`` means all of them."""

    keys: frozenset[str] | None = None
    """Canonical names (or conda package names) in scope, or None for a full run."""
    reason: str = "full"
    """Why this scope: ``full``, or a front door's description of the transaction."""

    def includes(self, dist: Distribution) -> bool:
        return self.keys is None or dist.key in self.keys

    @classmethod
    def full(cls) -> Scope:
        return cls()

    def with_dependents(self, inventory: Inventory, keys: Iterable[str]) -> Scope:
        """This scope widened to every distribution whose Requires-Dist names one of ``keys``
        (a removed or changed numpy puts scipy and pandas in scope). Names are read from the
        requirement text, markers not evaluated: widening too far costs a little time,
        too narrow misses breakage."""
        if self.keys is None:
            return self
        wanted = set(keys)
        extra = set()
        for dist in inventory.distributions:
            for line in dist.requires:
                if requirement_name(line) in wanted:
                    extra.add(dist.key)
                    break
        extra -= self.keys
        if not extra:
            return self
        return Scope(self.keys | extra, f"{self.reason}; dependents: {', '.join(sorted(extra))}")

    def with_binaries(self, inventory: Inventory) -> Scope:
        """This scope widened to every distribution with a compiled file: after the
        interpreter changed (``conda install python=3.12``) any of them may be dead."""
        if self.keys is None:
            return self
        from verify_env.binary.extensions import is_shared_object

        extra = {
            d.key
            for d in inventory.distributions
            if any(is_shared_object(f.location) for f in d.files)
        } - self.keys
        if not extra:
            return self
        return Scope(
            self.keys | extra,
            f"{self.reason}; every distribution with compiled files (the interpreter changed)",
        )

    def with_bereaved(self, inventory: Inventory, disturbed: Iterable[str]) -> Scope:
        """This scope widened to every distribution a file of which is gone from a
        ``disturbed`` package dir: removing a distribution removes the files it recorded, also
        those another one recorded too (``pip uninstall opencv-python`` takes ``cv2/`` from
        opencv-python-headless). Only distributions with a file there are looked at (an lstat
        per recorded file of theirs), so an ordinary transaction costs nothing more."""
        if self.keys is None:
            return self
        import os

        entries = frozenset(disturbed)  # a package dir, or a single-file module
        under = tuple(os.path.join(p, "") for p in entries)
        if not under:
            return self
        extra = set()
        for dist in inventory.distributions:
            if dist.key in self.keys:
                continue
            there = [
                f.location
                for f in dist.files
                if f.kind != FileKind.OPTIONAL
                and (f.location.startswith(under) or f.location in entries)
            ]
            if any(not os.path.lexists(p) for p in there):
                extra.add(dist.key)
        if not extra:
            return self
        return Scope(
            self.keys | extra,
            f"{self.reason}; distributions whose files it removed: {', '.join(sorted(extra))}",
        )

    def with_consumers(self, inventory: Inventory, changed: Iterable[str]) -> Scope:
        """This scope widened to every distribution with a compiled file whose DT_NEEDED names
        one of the ``changed`` shared libraries (paths, or sonames): a transaction that
        replaced conda's libopenblas or a file in ``numpy.libs`` can break them all."""
        if self.keys is None:
            return self
        from verify_env.loader.consumers import consumers_of

        extra = consumers_of(inventory, changed) - self.keys
        if not extra:
            return self
        return Scope(
            self.keys | extra,
            f"{self.reason}; consumers of the changed libraries: {', '.join(sorted(extra))}",
        )


def scope_of(change: Change, inventory: Inventory, also: Iterable[str] = ()) -> Scope:
    """What to verify after ``change``: the touched distributions (and ``also``: keys a front
    door knows are affected, such as pip packages stranded in a site dir the new interpreter
    no longer reads), their dependents through Requires-Dist / ``depends``, the distributions
    that lost files with a removed or replaced one (they recorded them too), the consumers of
    the shared libraries they ship or took away, and every distribution with compiled files
    when the interpreter itself changed."""
    touched = change.touched | frozenset(also)
    scope = Scope(touched, change.describe())
    if change.interpreter_changed:
        scope = scope.with_binaries(inventory)
    scope = scope.with_dependents(inventory, touched)
    if change.disturbed:
        scope = scope.with_bereaved(inventory, change.disturbed)
    libraries = [
        f.location
        for d in inventory.distributions
        if d.key in touched
        for f in d.files
        if is_library(f.location)
    ]
    libraries += sorted(change.removed_libraries)
    if libraries:
        scope = scope.with_consumers(inventory, libraries)
    return scope
