"""The process an extension module is loaded into: what is already there before it.

First the interpreter's own closure: the executable, libpython when the build is shared, libc,
libm … and the ELF interpreter itself; their SONAMEs satisfy a DT_NEEDED without a search. An
extension module is dlopened by libpython (or the executable), so it inherits their DT_RPATH
(conda's python has ``$ORIGIN/../lib``). Then the distributions a package requires are imported
before it (Requires-Dist, transitively; extras left out), and the libraries their extension
modules loaded are in the process too, matched by SONAME exactly as at run time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from verify_env.checks.linkage.facts import FileFacts
from verify_env.inventory import Distribution
from verify_env.loader.search import Closure, ObjectFacts, SearchSetup, closure, own_rpath
from verify_env.names import requirement_name

__all__ = ["Process", "required_keys"]


class Process:
    """The interpreter's closure, as every extension module meets it."""

    __slots__ = ("inherited", "interp_closure", "order", "preloaded", "sonames")

    def __init__(
        self,
        order: list[str],
        preloaded: dict[str, str],
        inherited: tuple[str, ...],
        sonames: dict[str, str],
        interp_closure: Closure | None,
    ) -> None:
        self.order = order
        """Objects of the interpreter's closure, in load order."""
        self.preloaded = preloaded
        """Names (SONAMEs and DT_NEEDED names) already satisfied -> paths."""
        self.inherited = inherited
        """DT_RPATH dirs an extension inherits from libpython and the executable."""
        self.sonames = sonames
        """path -> SONAME for every object seen (filled as closures are computed)."""
        self.interp_closure = interp_closure

    @classmethod
    def of_interpreter(
        cls, exe: str, interpreter: str | None, setup: SearchSetup, facts: FileFacts
    ) -> Process:
        cl = closure(exe, setup, facts.object, realpath=facts.realpath)
        preloaded = cl.paths_by_name()
        sonames: dict[str, str] = {}
        inherited: tuple[str, ...] = ()
        for path in cl.order:
            f = facts.object(path)
            if not isinstance(f, ObjectFacts):
                continue
            if f.soname:
                preloaded.setdefault(f.soname, path)
                sonames[path] = f.soname
            if path == exe or os.path.basename(path).startswith("libpython"):
                inherited = own_rpath(path, f, setup) + inherited
        if interpreter:
            preloaded.setdefault(os.path.basename(interpreter), interpreter)
            f = facts.object(interpreter)
            if isinstance(f, ObjectFacts) and f.soname:
                preloaded.setdefault(f.soname, interpreter)
        return cls(list(cl.order), preloaded, inherited, sonames, cl)

    def loaded_by(self, cl: Closure, facts: FileFacts) -> dict[str, str]:
        """Names a closure puts into the process (resolved names and SONAMEs) -> paths."""
        out = cl.paths_by_name()
        for path in cl.order:
            f = facts.object(path)
            if isinstance(f, ObjectFacts) and f.soname:
                out.setdefault(f.soname, path)
                self.sonames[path] = f.soname
        return out


def required_keys(dists: Iterable[Distribution]) -> Mapping[str, frozenset[str]]:
    """key -> the keys it requires, transitively (itself excluded), among installed ones."""
    direct: dict[str, set[str]] = {}
    for d in dists:
        names = {n for line in d.requires if (n := requirement_name(line, extras=False))}
        direct.setdefault(d.key, set()).update(names)
    out: dict[str, frozenset[str]] = {}
    for key in direct:
        seen: set[str] = set()
        stack = list(direct[key])
        while stack:
            k = stack.pop()
            if k in seen or k == key or k not in direct:
                continue
            seen.add(k)
            stack.extend(direct[k])
        out[key] = frozenset(seen)
    return out
