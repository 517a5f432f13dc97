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

    def with_consumers(self, inventory: Inventory, changed: Iterable[str]) -> Scope:
        """This scope widened to every distribution with a compiled file whose DT_NEEDED names
        one of the ``changed`` shared libraries (paths, or sonames): a transaction that
        replaced conda's libopenblas or a file in ``numpy.libs`` can break them all."""
        if self.keys is None:
            return self
        from verify_env.linkage.consumers import consumers_of

        extra = consumers_of(inventory, changed) - self.keys
        if not extra:
            return self
        return Scope(self.keys | extra,
                     f"{self.reason}; consumers of the changed libraries: "
                     f"{', '.join(sorted(extra))}")
