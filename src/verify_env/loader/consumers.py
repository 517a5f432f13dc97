"""The scope edge of issue 5 §5: a transaction that changed a shared library (conda's
libopenblas, a file in ``numpy.libs``) can break every file that names it, in any distribution.

`consumers_of` answers "which distributions hold a compiled file whose DT_NEEDED names one of
these libraries?" from the inventory, reading only dynamic sections (no symbol tables). A
changed library is matched by its SONAME when it can still be read, and by its
file name either way (a deleted file has only its name left).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from verify_env.binary import elf
from verify_env.binary.extensions import is_elf_shared_object
from verify_env.cache.statcache import StatCache
from verify_env.inventory import Distribution, FileKind, Inventory

__all__ = ["consumers_of"]


def _dynamic(location: str) -> elf.DynamicInfo | None:
    """DT_NEEDED and DT_SONAME only: a scope decision must not pay for symbol tables (the
    BLAS facts of one 30 MB OpenBLAS cost ~80 ms)."""
    try:
        return elf.read_dynamic(location)
    except (OSError, elf.ElfFormatError):
        return None


def _names(changed: Iterable[str]) -> set[str]:
    names: set[str] = set()
    for item in changed:
        if "/" not in item:
            names.add(item)  # already a soname
            continue
        names.add(os.path.basename(item))
        got = _dynamic(item)
        if got is not None and got.soname:
            names.add(got.soname)
    return names


def consumers_of(
    inventory: Inventory, changed: Iterable[str], cache: StatCache | None = None
) -> frozenset[str]:
    """Keys of the distributions with a file that needs one of ``changed`` (paths or sonames).

    The distributions that own a changed file are not added for that reason alone: the caller
    has them in scope already, as what the transaction touched.
    """
    del cache  # kept for callers; the dynamic sections are cheap enough to read afresh
    names = _names(changed)
    out: set[str] = set()
    for dist in inventory.distributions:
        if dist.key in out or not _has_consumer(dist, names):
            continue
        out.add(dist.key)
    return frozenset(out)


def _has_consumer(dist: Distribution, names: set[str]) -> bool:
    for f in dist.files:
        if f.kind is not FileKind.REGULAR or not is_elf_shared_object(f.location):
            continue
        got = _dynamic(f.location)
        if got is not None and names.intersection(got.needed):
            return True
    return False
