"""The one shape every check reports in, and the codes it may use.

`CODES` is the single table of finding codes (DESIGN.md: add, never rename): which check owns
each, how bad it is by default, and what it means. Severity follows harm: what breaks an import
is an error; what is suspicious but may be intended is a warning. A few codes are judged per
case (an unrecorded extension the target could load is an error, one it could not is only a
warning); those carry the harsher default here and the check lowers it where it must.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["CODES", "Code", "Finding", "Severity", "Skip"]


class Severity(str, enum.Enum):
    """How bad a finding is. Errors set exit status 1; warnings only under `--strict`."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Code:
    """One finding code of the contract."""

    name: str
    """The code as it appears in reports, e.g. ``hash-mismatch``."""
    check: str
    """The check that reports it."""
    severity: Severity
    """Default severity; see the module docstring for the codes judged per case."""
    meaning: str
    """One line for `--explain`, SARIF rules and the docs."""


_E, _W = Severity.ERROR, Severity.WARNING
CODES: dict[str, Code] = {
    c.name: c
    for c in (
        Code("tag-mismatch", "tags", _E,
             "no WHEEL tag of the distribution is supported by the target"),
        Code("extension-suffix", "tags", _E,
             "an extension module's filename ABI tag cannot load in the target"),
        Code("elf-arch", "tags", _E,
             "ELF class/machine differs from the interpreter's, or not an ELF file on Linux"),
        Code("libc-mismatch", "tags", _E,
             "musl vs glibc, or needs a newer glibc (tag or GLIBC_2.N symbol versions)"),
        Code("hash-mismatch", "record", _E, "file bytes differ from what its installer recorded"),
        Code("size-mismatch", "record", _E, "file size differs from what its installer recorded"),
        Code("missing-file", "record", _E, "a file its installer recorded is gone"),
        Code("record-missing", "record", _E, "the installer's record of a distribution is absent"),
        Code("record-malformed", "record", _E, "the installer's record cannot be read as written"),
        Code("unrecorded-extension", "record", _E,
             "a compiled module inside a distribution's package that no installer owns"),
        Code("duplicate-distribution", "record", _E,
             "two metadata dirs for one project in one site dir"),
        Code("clobbered-file", "record", _E,
             "a file recorded by a conda package was rewritten by another installer"),
        Code("leftover-directory", "record", _W,
             "a '~'-prefixed directory pip left behind after an interrupted uninstall/upgrade"),
        Code("missing-library", "linkage", _E,
             "the loader cannot find a library a compiled file needs (DT_NEEDED)"),
        Code("undefined-symbol", "linkage", _E,
             "a symbol a compiled file needs is defined by none of the libraries it gets"),
        Code("blas-missing", "linkage", _E, "a BLAS/LAPACK consumer finds no provider"),
        Code("blas-symbols", "linkage", _E,
             "the BLAS/LAPACK provider lacks symbols its consumer imports"),
        Code("blas-interface", "linkage", _E,
             "LP64 consumer against an ILP64 BLAS/LAPACK provider, or the reverse"),
        Code("blas-probe", "linkage", _E,
             "a BLAS/LAPACK provider crashed or computed wrong in a numeric probe"),
        Code("requirement-missing", "requirements", _E,
             "a Requires-Dist (markers evaluated for the target) is not installed"),
        Code("requirement-conflict", "requirements", _E,
             "an installed version does not satisfy a Requires-Dist or Requires-Python"),
        Code("numpy-abi", "requirements", _E,
             "a binary built against NumPy 1.x headers while NumPy 2 is installed"),
        Code("import-error", "imports", _E,
             "importing a top-level module fails, crashes or hangs (message classified)"),
        Code("foreign-site-packages", "paths", _E,
             "sys.path holds another Python's packages"),
        Code("shadowed-module", "paths", _E,
             "a file or dir earlier on sys.path shadows an installed or standard module"),
    )
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found wrong, in the shape of the JSON contract."""

    check: str
    """The check that found it (``record``, ``tags`` …)."""
    code: str
    """A key of `CODES`."""
    severity: Severity
    """How bad it is here."""
    distribution: str | None
    """The distribution (or conda / OS package) the path belongs to, if any."""
    version: str | None
    """Its installed version."""
    installer: str | None
    """Who installed it: pip, uv, conda, dpkg …; its record is the one the file is judged by."""
    path: str | None
    """The path as the owning record names it (relative to the record's root)."""
    message: str
    """What is wrong, quoting the input."""
    hint: str | None = None
    """The exact repair, for the installer that owns the file."""
    accepted: str | None = None
    """Why it is accepted (``--ignore RULE``, a baseline file …): an accepted finding is reported
    with severity info and never changes the exit status, under ``--strict`` neither."""
    location: str | None = None
    """The absolute path on disk of `path`, when it names a file (filled in by `verify`), for
    baselines and SARIF; never rendered as the finding's path."""


@dataclass(frozen=True, slots=True)
class Skip:
    """Something a check could not judge, and why (never an error: a note for the report)."""

    check: str
    """The check that skipped it."""
    distribution: str | None
    """The distribution concerned, if any."""
    path: str | None
    """The path concerned, if any."""
    reason: str
    """Why it could not be judged."""
