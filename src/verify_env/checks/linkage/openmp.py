"""OpenMP runtimes: which file is one, of which kind, and which mixes one process cannot hold.

A runtime is known by what it exports, never by its file name (auditwheel renames vendored
copies: ``libgomp-a34b3233.so.1.0.0``, ``libiomp5-1a2b3c4d.so``): every OpenMP runtime defines
``omp_get_num_threads``; the KMP runtimes (Intel's ``libiomp5`` and LLVM's ``libomp``, a fork
of it) also define the ``__kmpc_*`` entry points their compilers call (``__kmpc_fork_call``);
GNU ``libgomp`` defines ``GOMP_parallel`` and no ``__kmpc_*``. The SONAME's stem only names the
kind in a message.

The rule, from how the runtimes behave (threadpoolctl's ``multiple_openmp.md``, the KMP
sources' "OMP: Error #15"): a KMP runtime registers itself in the process at start-up
(``__KMP_REGISTERED_LIB_<pid>``) and aborts when another KMP copy already did — two copies of
``libiomp5``, of ``libomp``, or one of each (crashes or deadlocks on Linux besides). So two KMP
runtimes reachable in one process is an error. GNU ``libgomp`` copies do coexist (torch and
scikit-learn each vendor one), and ``libgomp`` beside one KMP runtime is the most common mix on
Linux (NumPy with MKL beside a GCC-built package) and works: neither is reported.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

__all__ = ["GNU", "IN_STRINGS", "KMP", "NAMES", "Runtime", "clashes", "kind_of"]

KMP, GNU = "kmp", "gnu"
IN_STRINGS = b"\x00omp_get_num_threads\x00"
"""A first look at a dynamic string table: no runtime lacks this name."""
NAMES = re.compile(rb"\x00(omp_get_num_threads|__kmpc_fork_call|GOMP_parallel)(?=\x00)")
"""The names that identify a runtime (`elfsym.NameTable.matching`)."""


def kind_of(defined: Iterable[str]) -> str | None:
    """``kmp``, ``gnu``, or None for a file that is no OpenMP runtime, from its exports."""
    names = set(defined)
    if "omp_get_num_threads" not in names:
        return None
    if "__kmpc_fork_call" in names:
        return KMP
    return GNU if "GOMP_parallel" in names else None


@dataclass(frozen=True, slots=True)
class Runtime:
    """One OpenMP runtime file a process maps, and who brings it there."""

    path: str
    """The file, as the loader found it."""
    soname: str | None
    """Its DT_SONAME (the loader maps one file per SONAME in a process)."""
    kind: str
    """``kmp`` or ``gnu``."""
    loaded_by: tuple[str, ...]
    """The modules whose closure maps it."""

    @property
    def label(self) -> str:
        stem = (self.soname or os.path.basename(self.path)).split(".so")[0]
        if self.kind == GNU:
            return f"GNU OpenMP ({stem})"
        family = "Intel" if "iomp" in stem else "LLVM" if stem.startswith("libomp") else "KMP"
        return f"{family} OpenMP ({stem})"


def clashes(
    closures: Mapping[str, Iterable[str]],
    kind: Callable[[str], str | None],
    soname: Callable[[str], str | None],
    realpath: Callable[[str], str],
) -> list[Runtime]:
    """The KMP runtimes of one process when there are two or more, else [].

    ``closures``: module -> the objects its closure maps; ``kind``/``soname``/``realpath``
    the facts of one object. One file reached through several paths, or several files under
    one SONAME (the loader maps the first and reuses it for the name), count once."""
    found: dict[str, tuple[str, str | None, list[str]]] = {}
    by_name: dict[str, str] = {}
    for module, objects in closures.items():
        for obj in objects:
            if kind(obj) != KMP:
                continue
            real = realpath(obj)
            name = soname(obj)
            key = by_name.setdefault(name, real) if name else real
            entry = found.setdefault(key, (obj, name, []))
            if module not in entry[2]:
                entry[2].append(module)
    if len(found) < 2:
        return []
    return [Runtime(p, n, KMP, tuple(m)) for p, n, m in found.values()]
