"""What is installed: distributions and the files their installers recorded.

Every file is judged by the record of the installer that owns it — conda's record for conda
packages, the OS package database for distro packages, RECORD for pip and uv — so a
`Distribution` carries the files of exactly one such record, already translated to absolute
locations and expected digests, and the checks never need to know which format they came from.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from verify_env.names import canonical_name

__all__ = [
    "Distribution",
    "FileKind",
    "Inventory",
    "RecordProblem",
    "RecordedFile",
    "canonical_name",
]


class FileKind(str, enum.Enum):
    """How a recorded file must be verified."""

    REGULAR = "regular"
    """A file with content: size and digest checked where recorded."""
    SOFTLINK = "softlink"
    """A symbolic link the installer made: it must exist and resolve."""
    GENERATED = "generated"
    """Made by the installer at link time without a recorded digest (entry points): it must
    exist."""
    OPTIONAL = "optional"
    """May legitimately be absent (bytecode caches)."""

    def __str__(self) -> str:
        return self.value


class RecordedFile(NamedTuple):
    """One file as its installer recorded it.

    A NamedTuple, not a frozen dataclass, because there are tens of thousands per run: creating
    23.5k of them took 33 ms as a frozen slots dataclass and 10 ms as a NamedTuple here.
    """

    path: str
    """The path as the record spells it (relative to `Distribution.root`, or absolute)."""
    location: str
    """The absolute, normalized (not symlink-resolved) location on disk."""
    algorithm: str | None
    """The hashlib name of the recorded digest, or None if no digest is recorded."""
    digest: str | None
    """The expected digest of the bytes on disk, as the record spells it: urlsafe base64
    without padding (RECORD), or lowercase hex when `hex` is set (conda, dpkg). Kept as text so
    that a warm run compares strings and decodes nothing."""
    size: int | None
    """The expected size in bytes, or None when the record has none that holds on disk (conda's
    text-mode prefix-replaced files)."""
    kind: FileKind = FileKind.REGULAR
    """How to verify it."""
    hex: bool = False
    """`digest` is hex rather than RECORD's base64."""

    @property
    def digest_style(self) -> str:
        """``sha256:b64`` or ``md5:hex``: the algorithm and spelling, the stat cache's key."""
        return f"{self.algorithm}:{'hex' if self.hex else 'b64'}"


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """A defect of the record itself, found while reading it (becomes a record finding)."""

    code: str
    """``record-missing`` or ``record-malformed``."""
    path: str | None
    """The record file concerned, relative to the distribution's root."""
    message: str
    """What is wrong, quoting the input."""
    warning: bool = False
    """True when it is suspicious but may be intended."""


@dataclass(frozen=True, slots=True)
class Distribution:
    """One installed distribution (or conda package, or OS package reached through one)."""

    name: str
    """The project's name as its metadata spells it (the conda package name for conda)."""
    key: str
    """The canonical name (PEP 503), for comparisons."""
    version: str
    """The installed version, as recorded."""
    installer: str
    """Whose record judges the files: pip, uv, conda, dpkg, … or ``unknown``."""
    source: str
    """What the entry was read from: ``dist-info``, ``egg-info`` or ``conda-meta``."""
    root: str
    """The directory recorded relative paths start from (the site dir, or the conda prefix)."""
    metadata_dir: str | None
    """The metadata directory or conda-meta JSON file."""
    site_dir: str | None
    """The site dir holding it (None for conda records)."""
    files: tuple[RecordedFile, ...] = ()
    """The files its authoritative record lists."""
    wheel_tags: tuple[str, ...] = ()
    """``Tag:`` lines of the WHEEL file."""
    requires: tuple[str, ...] = ()
    """``Requires-Dist`` lines (conda: ``depends``)."""
    requires_python: str | None = None
    """``Requires-Python``."""
    problems: tuple[RecordProblem, ...] = ()
    """Defects found in its record while reading it."""
    judged_by: str | None = None
    """When another installer's record is authoritative for these files (a conda package's
    dist-info), its name, e.g. ``conda:numpy``; the record check then leaves this one alone."""
    link_roots: tuple[str, ...] = ()
    """Directories outside the environment that its installer declares it links files from
    (pdm's install cache, named in ``REFER_TO``): a recorded symlink may lead there."""
    editable: tuple[str, ...] = ()
    """For an editable install, the package directories of the working copy it exposes: the
    distribution owns them and what is built in place there (`inventory.editable`)."""
    os_package: str | None = None
    """The OS package that owns it (dpkg), for the reinstall hint."""
    hint: str | None = None
    """The repair command for damage to its files."""


class OsDatabase(Protocol):
    """The OS package database as the checks ask it (`verify_env.inventory.dpkg.DpkgDatabase`;
    a Protocol so that the model imports no reader)."""

    def owner(self, path: str) -> str | None:
        """The OS package that installed ``path``, if one did."""


@dataclass(frozen=True, slots=True)
class Inventory:
    """Everything installed in the target, in discovery order."""

    distributions: tuple[Distribution, ...]
    """All distributions, conda records and dist-infos alike."""
    site_dirs: tuple[str, ...] = ()
    """The site dirs that were scanned."""
    conda_prefix: str | None = None
    """The conda prefix whose conda-meta was read, if any."""
    os_database: OsDatabase | None = field(default=None, compare=False)
    """The OS package database, to ask who owns a file no Python record lists."""
