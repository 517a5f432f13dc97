"""Which distributions a run looks at, and why.

A full run looks at everything. The front doors (pipv, the conda plugin) pass the result of a
transaction: what changed, widened to what the change could break.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from verify_env.inventory import Distribution, Inventory

__all__ = ["Scope"]


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
        from verify_env.inventory.model import canonical_name

        wanted = set(keys)
        extra = set()
        for dist in inventory.distributions:
            for line in dist.requires:
                name = _requirement_name(line)
                if name and canonical_name(name) in wanted:
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


def _requirement_name(line: str) -> str:
    """The project name a Requires-Dist / conda ``depends`` line starts with."""
    end = 0
    while end < len(line) and (line[end].isalnum() or line[end] in "-_."):
        end += 1
    return line[:end]
