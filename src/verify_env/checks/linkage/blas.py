"""BLAS/LAPACK by name: which symbols belong to the families, which files consume or provide
them, and what a provider is (family, version, LP64 or ILP64) — all read from the files.

Names come in several manglings of one routine: Fortran ``dgemm_``, CBLAS ``cblas_dgemm``,
LAPACKE ``LAPACKE_dgesv``; ILP64 builds add a suffix (OpenBLAS ``dgemm_64_`` and
``cblas_dgemm64_``, MKL ``dgemm_64``) and scipy-openblas a ``scipy_`` prefix. `split` maps each to
(routine, ILP64 by name). A consumer imports such names (or names a known BLAS/LAPACK soname); a
provider exports them. Whether a provider without a suffix is ILP64 is read from its soname
(``openblas64``, ``ilp64``, ``blas64``) or OpenBLAS's build string (``USE64BITINT``).
"""

from __future__ import annotations

import functools
import mmap
import os
import re
from dataclasses import dataclass

from verify_env.binary.elf_sections import read_only_data

__all__ = [
    "CORE_IN_STRINGS",
    "BlasFacts",
    "family_of",
    "interface_of",
    "is_blas_soname",
    "split",
]

# A cheap first look at a dynamic string table: core routines in any mangling.
CORE_IN_STRINGS = re.compile(
    rb"\x00(?:scipy_)?(?:cblas_)?[sdcz](?:gemm|gemv|dot|axpy|scal|gesv|getrf|potrf)"
    rb"(?:_64_|64_|_64|_)?\x00"
)
# Whole BLAS/LAPACK-like names between NULs (`elfsym.NameTable.matching`);
# starting with the NUL itself lets the engine scan for a literal (5x faster than a lookbehind);
# ``_``, ``_64`` and ``_64_`` as one tail: 3.6 ms instead of 4.4 on scipy-openblas's table.
NAMES = re.compile(
    rb"\x00((?:scipy_)?(?:cblas_[a-z0-9_]+|LAPACKE_[a-z0-9_]+|[sdczi][a-z0-9]{2,14}_(?:64_?)?"
    rb"|(?:lsame|xerbla|ilaenv)_(?:64_)?))(?=\x00)"
)
_MARKERS = (
    (b"\x00scipy_openblas", "OpenBLAS (scipy-openblas)"),
    (b"\x00openblas_", "OpenBLAS"),
    (b"\x00mkl_", "MKL"),
    (b"\x00bli_", "BLIS"),
    (b"\x00flexiblas_", "FlexiBLAS"),
    (b"\x00ATL_", "ATLAS"),
)
_LITERALS = (b"gemm", b"gemv", b"dot", b"axpy", b"scal", b"gesv", b"getrf", b"potrf")
_FORTRAN = re.compile(r"[sdczi][a-z0-9]{2,14}_|lsame_|xerbla_|ilaenv_")
_CORE = re.compile(
    r"[sdcz](?:gemm|gemv|dot[uc]?|axpy|scal|copy|swap|nrm2|trsm|gesv|getrf|potrf)"
    r"_?|i[sdcz]amax_?"
)
_CORE_STEM = re.compile(r"gemm|gemv|dot|axpy|scal|copy|swap|nrm2|trsm|gesv|getrf|potrf|amax")
_SONAME = re.compile(
    r"lib(?:scipy_)?(?:openblas|blas|cblas|lapack|lapacke|mkl_rt|mkl_core|"
    r"mkl_intel|blis|flexiblas|satlas|tatlas|atlas|goto2)",
    re.IGNORECASE,
)
_ILP64_SONAME = re.compile(r"openblas64|ilp64|blas64|lapack64|blis64|flexiblas64", re.I)
_OPENBLAS_BUILD = re.compile(rb"OpenBLAS (\d+\.\d+\.\d+)[^\x00]{0,200}")


def maybe_blas(strings: bytes) -> bool:
    """Whether a dynamic string table names a core routine (literal searches first: they run
    at memchr speed, the regex only where one of them hits)."""
    return any(k in strings for k in _LITERALS) and CORE_IN_STRINGS.search(strings) is not None


def is_blas_soname(name: str) -> bool:
    """A DT_NEEDED name of a known BLAS/LAPACK library (OpenBLAS, MKL, BLIS, FlexiBLAS …)."""
    return bool(_SONAME.match(name))


def split(symbol: str) -> tuple[str, bool] | None:
    """(routine as plain Fortran/CBLAS/LAPACKE name, ILP64 by suffix), or None if the symbol
    is no BLAS/LAPACK name: ``scipy_dgemm_64_`` -> ("dgemm_", True), ``cblas_ddot`` ->
    ("cblas_ddot", False)."""
    s = symbol[6:] if symbol.startswith("scipy_") else symbol
    ilp = False
    if s.endswith("_64_") or (s.endswith("64_") and s.startswith(("cblas_", "LAPACKE_"))):
        s, ilp = s[:-3], True
    elif s.endswith("_64"):
        s, ilp = s[:-3] + "_", True
    if s.startswith(("cblas_", "LAPACKE_")):
        return (s, ilp) if len(s) > 7 else None
    return (s, ilp) if _FORTRAN.fullmatch(s) else None


def is_core(routine: str) -> bool:
    """A routine every BLAS-using consumer is likely to import (gemm, dot …), in any mangling."""
    plain = routine.split("_", 1)[1] if routine.startswith(("cblas_", "LAPACKE_")) else routine
    return bool(_CORE.fullmatch(plain))


@dataclass(frozen=True, slots=True)
class BlasFacts:
    """What one file imports and exports of the BLAS/LAPACK families (plain data, cacheable)."""

    imports: tuple[str, ...]
    """BLAS/LAPACK names it imports (strongly), as spelled in the file."""
    exports: tuple[str, ...]
    """BLAS/LAPACK names it defines."""
    family: str | None
    """The provider family read from its other exports (``openblas_get_config`` …), if any."""
    build: str | None
    """OpenBLAS's build string (``OpenBLAS 0.3.27 USE64BITINT DYNAMIC_ARCH …``), if found."""
    links_blas: bool = False
    """Its DT_NEEDED names a known BLAS/LAPACK library (then any BLAS name it imports counts:
    numpy's lapack_lite imports only LAPACK drivers)."""

    @property
    def consumer(self) -> bool:
        return has_core(self.imports) or (self.links_blas and bool(routines(self.imports)))

    @property
    def provider(self) -> bool:
        return has_core(self.exports)


def family_of(real: str, facts: BlasFacts) -> str:
    """A provider's family: from its exports, else from its name, links resolved (``real``)."""
    if facts.family:
        return facts.family
    real = real.lower()
    for marker, family in (
        ("openblas", "OpenBLAS"),
        ("mkl", "MKL"),
        ("blis", "BLIS"),
        ("flexiblas", "FlexiBLAS"),
        ("atlas", "ATLAS"),
        ("accelerate", "Accelerate"),
        ("libblas", "reference BLAS"),
        ("liblapack", "reference LAPACK"),
    ):
        if marker in real:
            return family
    return "unknown"


def family_from_strings(strings: bytes) -> str | None:
    """The family a provider's dynamic string table names (``openblas_get_config`` …)."""
    for marker, family in _MARKERS:
        if marker in strings:
            return family
    return None


def _maybe_core(names: tuple[str, ...]) -> tuple[str, ...]:
    """The names that may be core routines: each core routine's name holds one of these
    stems in every mangling, so the rest need no `split` (a provider exports thousands of
    names, ~40 of them core)."""
    search = _CORE_STEM.search
    return tuple(n for n in names if search(n))


@functools.lru_cache(maxsize=1024)
def has_core(names: tuple[str, ...]) -> bool:
    """Whether any of ``names`` is a core routine (memoized like `routines`)."""
    return any(is_core(r) for r in routines(_maybe_core(names)))


@functools.lru_cache(maxsize=1024)
def core_flags(names: tuple[str, ...]) -> tuple[bool, ...]:
    """ILP64-by-name of each core routine among ``names`` (memoized like `routines`): the same
    routines, in the same order, with the same flag, as from all of ``names``."""
    return tuple(ilp for r, ilp in routines(_maybe_core(names)).items() if is_core(r))


@functools.lru_cache(maxsize=256)
def routines(names: tuple[str, ...]) -> dict[str, bool]:
    """routine -> ILP64 by name, for the BLAS/LAPACK names among ``names`` (memoized: a
    provider's exports are looked at once per consumer)."""
    return {r[0]: r[1] for n in names if (r := split(n))}


def version_of(facts: BlasFacts) -> str | None:
    """The provider's version where its own bytes say it (OpenBLAS's build string)."""
    if facts.build:
        m = re.match(r"OpenBLAS (\d+\.\d+\.\d+)", facts.build)
        return m.group(1) if m else None
    return None


def interface_of(path: str, soname: str | None, facts: BlasFacts, *, as_consumer: bool) -> str:
    """``LP64`` or ``ILP64``: by the names imported (consumer) or exported (provider)."""
    names = facts.imports if as_consumer else facts.exports
    flags = core_flags(names) or tuple(routines(names).values())
    if flags and all(flags):
        return "ILP64"
    if as_consumer:
        return "LP64"
    if facts.build and "USE64BITINT" in facts.build:
        return "ILP64"
    if _ILP64_SONAME.search(soname or os.path.basename(path)):
        return "ILP64"
    return "LP64"


def read_build_string(path: str) -> str | None:
    """OpenBLAS's build string, searched through mmap (no read of the whole file into memory;
    the page cache does the work): in ``.rodata``, where the linker puts the literal, then, if
    it is not there (no section table, or a build that keeps it writable), in the whole file.
    numpy 2.2's 27 MB scipy-openblas: 12 ms for the whole file, 0.1 ms for its ``.rodata``."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                return None
            spans = read_only_data(fh.fileno(), size) or []
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                m = None
                for start, length in [*spans, (0, size)]:
                    m = _OPENBLAS_BUILD.search(mm, start, start + length)
                    if m is not None:
                        break
                found = None if m is None else bytes(m.group(0))  # before the map closes
    except (OSError, ValueError):
        return None
    return None if found is None else found.decode("ascii", "replace").strip()
