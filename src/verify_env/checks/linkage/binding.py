"""What ld.so checks after it has mapped a closure: symbol versions and symbol bindings.

**Versions** (``elf/dl-version.c``): for every DT_VERNEED entry of every object, the file the
loader mapped for that DT_NEEDED name must define each version needed (unless the need is weak,
or the file defines no versions at all: then ld.so assumes an unversioned build and accepts it).
Otherwise the load fails with ``version `GLIBCXX_3.4.32' not found (required by …)``: an
extension built with a newer g++ than the libstdc++ the process gets (conda's, an RPATH's, an
LD_LIBRARY_PATH's older copy). Every versioned dependency counts (``CXXABI_1.3.N``,
``GCC_N``, a vendored library's own); glibc's ``GLIBC_2.N`` are left to the tags check, which
compares them with the target's glibc (``libc-mismatch``).

**Bindings**: CPython dlopens extension modules with RTLD_NOW, so every symbol the closure
references strongly must be defined by some object of the process: the interpreter's closure
(libpython or the executable's exported ``Py*``), the closure itself, what the packages
imported first loaded. Weak references may stay unresolved. Libraries nothing loads at import
are not judged (a plugin ``dlopen``ed later, if ever). The verdict of one closure depends only
on its objects, so it is kept in the stat cache under the root, with the stat keys of every
object it read: a warm run reads no symbol table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from verify_env.binary import elf
from verify_env.binary.elfsym import SymbolNames, symbol_names
from verify_env.cache.statcache import StatCache, StatKey, packed
from verify_env.loader.search import Closure, ObjectFacts

__all__ = ["Binder", "GapMemo", "VersionGap", "family", "version_gaps"]

_SPACE = "linkage.bind.1"  # bump when the verdict changes meaning
_FAMILY = re.compile(r"(.*?)(\d+(?:\.\d+)*)")


def family(version: str) -> tuple[str, tuple[int, ...]] | None:
    """(``GLIBCXX_``, (3, 4, 32)) for ``GLIBCXX_3.4.32``; None for a name without a number."""
    m = _FAMILY.fullmatch(version)
    if m is None or not m[1]:
        return None
    return m[1], tuple(int(p) for p in m[2].split("."))


@dataclass(frozen=True, slots=True)
class VersionGap:
    """A version an object needs that the file the loader maps for it does not define."""

    needer: str
    """The object whose DT_VERNEED names the version."""
    name: str
    """The DT_NEEDED name it needs it from (``libstdc++.so.6``)."""
    version: str
    """The version (``GLIBCXX_3.4.32``)."""
    provider: str
    """The file the loader maps for that name."""
    how: str
    """How the loader found it (`loader.search.Resolution.how`)."""
    newest: str | None
    """The provider's newest version of the same family, or None when it has none."""


GapMemo = dict[tuple[str, str, str, str], list["VersionGap"]]
"""(needer, name, provider, how) -> its gaps; one per run (closures share most objects)."""


def version_gaps(
    cl: Closure, facts: Callable[[str], ObjectFacts | str], memo: GapMemo | None = None
) -> list[VersionGap]:
    """Every version need of ``cl``'s objects that the loader's pick fails."""
    out: list[VersionGap] = []
    memo = {} if memo is None else memo
    for obj in cl.order:
        f = facts(obj)
        if not isinstance(f, ObjectFacts):
            continue
        for name, versions in f.version_needs:
            res = cl.resolved.get(name)
            if res is None or res.path is None:
                continue  # a missing library is its own finding
            key = (obj, name, res.path, res.how)
            got = memo.get(key)
            if got is None:
                got = memo[key] = _gaps(obj, name, versions, res.path, res.how, facts)
            out += got
    return out


def _gaps(
    obj: str,
    name: str,
    versions: tuple[str, ...],
    path: str,
    how: str,
    facts: Callable[[str], ObjectFacts | str],
) -> list[VersionGap]:
    p = facts(path)
    if not isinstance(p, ObjectFacts) or not p.version_defs:
        return []  # no versions at all: ld.so takes it for an unversioned build
    out = []
    defined = set(p.version_defs)
    for v in versions:
        if v in defined or v.startswith("GLIBC_"):
            continue
        fam = family(v)
        newest = None
        if fam is not None:
            same = [(k[1], d) for d in defined if (k := family(d)) and k[0] == fam[0]]
            newest = max(same)[1] if same else None
        out.append(VersionGap(obj, name, v, path, how, newest))
    return out


_EMPTY = SymbolNames(frozenset(), frozenset(), frozenset())


class Binder:
    """The binding pass over the closures of one run."""

    __slots__ = (
        "_cache",
        "_key",
        "_names",
        "_prefetched",
        "_python_visible",
        "resolved",
        "tables_read",
    )

    def __init__(
        self,
        cache: StatCache,
        key: Callable[[str], StatKey | None],
        prefetched: Callable[[str], SymbolNames | None] | None = None,
    ) -> None:
        self._cache, self._key = cache, key
        self._prefetched = prefetched
        """Names read ahead (by the prefetch workers, `facts.FileFacts.symbol_names`)."""
        self._names: dict[str, SymbolNames] = {}
        self._python_visible: bool | None = None
        self.resolved = 0
        """Strong symbol references found defined in their process (for ``--verbose``)."""
        self.tables_read = 0
        """Symbol tables read in this run (the rest came from the stat cache)."""

    def names(self, path: str) -> SymbolNames:
        got = self._names.get(path)
        if got is None and self._prefetched is not None:
            got = self._prefetched(path)
            if got is not None:
                self.tables_read += 1
                self._names[path] = got
        if got is None:
            try:
                got = symbol_names(path)
                self.tables_read += 1
            except (OSError, elf.ElfFormatError):
                got = _EMPTY
            self._names[path] = got
        return got

    @staticmethod
    def _scope(cl: Closure, process: list[str], loaded: Iterable[str]) -> list[str]:
        return list(dict.fromkeys([*process, *cl.order, *loaded]))

    def _cached(
        self, cl: Closure, inputs: tuple[tuple[str, int], ...] | None
    ) -> tuple[object, ...] | None:
        root_key = self._key(cl.root)
        if inputs is None or root_key is None:
            return None
        hit = self._cache.fact(_SPACE, cl.root, root_key)
        if isinstance(hit, tuple) and len(hit) == 3 and hit[0] == inputs:
            return hit
        return None

    def unresolved(
        self, cl: Closure, process: list[str], loaded: Iterable[str]
    ) -> list[tuple[str, tuple[str, ...]]]:
        """(object, the names it needs that nothing in its process defines) per object of the
        closure that lacks some; the process is ``process`` (the interpreter's objects, in
        load order), the closure and ``loaded`` (objects it found already in the process)."""
        scope = self._scope(cl, process, loaded)
        # the stat keys of every object read, once a closure; none without a stat cache to
        # keep the verdict under them (--no-cache: ~10 ms over the torch venv's 244 closures)
        inputs = self._inputs(scope) if self._cache.enabled else None
        hit = self._cached(cl, inputs)
        if hit is not None:
            self.resolved += int(hit[2])  # type: ignore[call-overload]
            return [(o, tuple(n)) for o, n in hit[1]]  # type: ignore[attr-defined]
        needed = {obj: self.names(obj).undefined for obj in cl.order}
        remaining = set().union(*needed.values())
        total = len(remaining)
        for obj in scope:
            if not remaining:
                break
            remaining = remaining - self.names(obj).defined  # O(len(remaining)), not O(theirs)
        if remaining and not self._sees_python(process):
            remaining = {n for n in remaining if not n.startswith(("Py", "_Py"))}
        found = [
            (obj, tuple(sorted(lack)))
            for obj, names in needed.items()
            if (lack := names & remaining)
        ]
        self.resolved += total - len(remaining)
        root_key = self._key(cl.root)
        if inputs is not None and root_key is not None:
            self._cache.remember(_SPACE, cl.root, root_key, (inputs, found, total - len(remaining)))
        return found

    def _inputs(self, scope: list[str]) -> tuple[tuple[str, int], ...] | None:
        out = []
        for obj in scope:
            key = self._key(obj)
            if key is None:
                return None
            out.append((os.path.normpath(obj), packed(key)))
        return tuple(out)

    def _sees_python(self, process: list[str]) -> bool:
        """Whether the interpreter's objects export the C API (a static build's executable
        exports it with ``-Xlinker -export-dynamic``); when they cannot be read, ``Py*`` names
        are assumed to be the interpreter's, as they are for every extension module."""
        if self._python_visible is None:
            self._python_visible = any("Py_Initialize" in self.names(p).defined for p in process)
        return self._python_visible
