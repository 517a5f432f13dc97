"""The Debian package database, as ``dpkg -V`` reads it.

Debian's build rewrites files after their RECORD was written (stripped ``.so`` files,
regenerated metadata, moved scripts), so a distro package's RECORD cannot be trusted; its files
are judged by dpkg's own ``info/<pkg>.md5sums`` instead. Conffiles are not in md5sums, as in
``dpkg -V``: the admin may edit them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from verify_env.files import read_regular
from verify_env.inventory.model import RecordedFile

__all__ = ["DpkgDatabase"]

DEFAULT_ADMINDIR = "/var/lib/dpkg"
_MAX_INFO = 64 << 20
"""Bytes read of one info file (the largest real .list is a few MB)."""


@dataclass(slots=True)
class DpkgDatabase:
    """Read-only, lazily loaded view of ``/var/lib/dpkg/info``."""

    admindir: str = DEFAULT_ADMINDIR
    """dpkg's administrative directory."""
    root: str | None = None
    """``--root``: the image the database describes. Its paths are then the image's
    (``/usr/lib/...``) and stand for ``ROOT/usr/lib/...`` here; `admindir` is on this machine."""
    _owner: dict[str, str] | None = field(default=None, repr=False)
    """path -> info file stem (``pkg`` or ``pkg:arch``), loaded on first use."""

    @property
    def present(self) -> bool:
        return os.path.isdir(os.path.join(self.admindir, "info"))

    def _load(self) -> dict[str, str]:
        # ~700 list files, ~120k lines here: ~40 ms, paid only for targets with OS packages.
        if self._owner is None:
            owner: dict[str, str] = {}
            info = os.path.join(self.admindir, "info")
            try:
                names = os.listdir(info)
            except OSError:
                names = []
            for name in names:
                if not name.endswith(".list"):
                    continue
                stem = name[:-5]
                # non-blocking, regular files only, capped: a FIFO here must not hang us
                raw = read_regular(os.path.join(info, name), _MAX_INFO)
                if raw is None:
                    continue
                data = raw.decode("utf-8", "surrogateescape")
                for line in data.splitlines():
                    owner.setdefault(line, stem)
            self._owner = owner
        return self._owner

    def owner(self, path: str) -> str | None:
        """The info stem of the package that installed ``path`` (as given, or resolved)."""
        if not self.present:
            return None
        table = self._load()
        if self.root is not None:
            from verify_env.loader.rootfs import RootFS

            fs = RootFS(self.root)
            found = table.get(fs.inner(path).rstrip("/"))
            return found if found is not None else table.get(fs.inner(fs.resolve(path)))
        found = table.get(path.rstrip("/"))
        if found is None:
            found = table.get(os.path.realpath(path))
        return found

    def stems_under(self, directory: str) -> tuple[str, ...]:
        """The packages that installed files below ``directory`` (the standard library's
        packages), in name order."""
        if not self.present:
            return ()
        inner = directory
        if self.root is not None:
            from verify_env.loader.rootfs import RootFS

            inner = RootFS(self.root).inner(directory)
        base = inner.rstrip("/") + "/"
        return tuple(sorted({stem for p, stem in self._load().items() if p.startswith(base)}))

    def files(self, stem: str) -> tuple[RecordedFile, ...]:
        """The package's files with their recorded md5 digests."""
        sums = os.path.join(self.admindir, "info", stem + ".md5sums")
        raw = read_regular(sums, _MAX_INFO)
        if raw is None:
            return ()
        data = raw.decode("utf-8", "surrogateescape")
        out: list[RecordedFile] = []
        for line in data.splitlines():
            digest_hex, _, rel = line.partition("  ")
            if not rel:
                continue
            if len(digest_hex) != 32:
                continue
            location = os.path.normpath("/" + rel)
            if self.root is not None:
                location = self.root + location
            out.append(RecordedFile(rel, location, "md5", digest_hex.lower(), None, hex=True))
        return tuple(out)

    def version(self, stem: str) -> str | None:
        """The installed version of a package, from the ``status`` file."""
        raw = read_regular(os.path.join(self.admindir, "status"), _MAX_INFO)
        if raw is None:
            return None
        package, _, arch = stem.partition(":")
        for para in raw.decode("utf-8", "replace").split("\n\n"):
            fields = dict(
                line.split(": ", 1) for line in para.splitlines() if ": " in line and line[0] != " "
            )
            if fields.get("Package") == package and (
                not arch or fields.get("Architecture") == arch
            ):
                return fields.get("Version")
        return None

    @staticmethod
    def package_name(stem: str) -> str:
        """``python3-yaml:amd64`` -> ``python3-yaml``."""
        return stem.split(":", 1)[0]
