"""The conda package records a transaction names, as plain data.

conda hands the plugin ``PackageRecord`` objects (``PrefixRecord`` for what it unlinks); the
plugin reads only a few attributes of them, through `PackageRef.of`, so everything after that
is testable without conda.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PackageRef"]

_ARCHIVE_SUFFIXES = (".conda", ".tar.bz2")


@dataclass(frozen=True, slots=True)
class PackageRef:
    """One package a transaction links or unlinks."""

    name: str
    """The conda package name (``numpy``, ``libopenblas``)."""
    version: str
    """Its version."""
    build: str = ""
    """Its build string."""
    fn: str = ""
    """The archive's file name (``numpy-2.2.6-py311h_0.conda``), when known."""
    files: tuple[str, ...] = ()
    """Prefix-relative paths it installed (known for unlinked ``PrefixRecord``s)."""
    extracted_package_dir: str | None = None
    """Its extracted directory in the package cache, when the record says."""

    @property
    def dist_name(self) -> str:
        """``name-version-build``: the name of its directory in the package cache."""
        for suffix in _ARCHIVE_SUFFIXES:
            if self.fn.endswith(suffix):
                return self.fn[: -len(suffix)]
        return f"{self.name}-{self.version}-{self.build}"

    @property
    def spec(self) -> str:
        return f"{self.name}={self.version}"

    @classmethod
    def of(cls, record: object) -> PackageRef:
        """Read a conda ``PackageRecord`` (or anything with its attribute names)."""

        def text(attr: str) -> str:
            value = getattr(record, attr, "")
            return value if isinstance(value, str) else ""

        files = getattr(record, "files", ()) or ()
        extracted = getattr(record, "extracted_package_dir", None)
        return cls(
            text("name"),
            text("version"),
            text("build"),
            text("fn"),
            tuple(f for f in files if isinstance(f, str)),
            extracted if isinstance(extracted, str) and extracted else None,
        )
