"""``os.path.realpath`` for the many files of one run of the loader model (`search`)."""

from __future__ import annotations

import os
import stat

from verify_env.loader.rootfs import RootFS

__all__ = ["RealPaths"]


class RealPaths:
    """``os.path.realpath`` for many files in few directories.

    realpath looks at every component of every path (an lstat each: ~13.7k of them for the
    torch venv's 421 objects, a third of the static pass). Here a path is walked one component
    at a time as realpath walks it (``..`` is the parent of what is resolved so far, as the
    kernel takes it), and what each component of an already resolved directory is — itself, or
    where its link leads — is looked at once: a run lstats each directory and file it meets
    once, whatever the number of paths through them. A link is resolved by realpath itself
    (strictly: a dangling link or a loop sends the whole path to realpath). Only for one run:
    directories are assumed not to change under it."""

    __slots__ = ("_files", "_fs", "_parts")

    def __init__(self, fs: RootFS | None = None) -> None:
        self._files: dict[str, str] = {}
        self._parts: dict[str, str | None] = {}
        """A resolved directory + one component -> what that resolves to; None: realpath's."""
        self._fs = fs
        """``--root``: links are followed inside this image instead (`RootFS.resolve`)."""

    def __call__(self, path: str) -> str:
        got = self._files.get(path)
        if got is None:
            if self._fs is not None:
                got = self._fs.resolve(path)
            else:
                full = path if path.startswith("/") else os.path.join(os.getcwd(), path)
                got = self._walk(full)
                if got is None:
                    got = os.path.realpath(path)
            self._files[path] = got
        return got

    def _walk(self, path: str) -> str | None:
        out = "/"
        for name in path.split("/"):
            if not name or name == ".":
                continue
            if name == "..":
                out = os.path.dirname(out)
                continue
            step = out + name if out == "/" else f"{out}/{name}"
            if step in self._parts:
                got = self._parts[step]
            else:
                got = self._parts[step] = self._component(step)
            if got is None:
                return None
            out = got
        return out

    @staticmethod
    def _component(step: str) -> str | None:
        try:
            st = os.lstat(step)
        except (OSError, ValueError):  # missing, or no directory: realpath keeps it as it is
            return step
        if not stat.S_ISLNK(st.st_mode):
            return step
        try:
            return os.path.realpath(step, strict=True)
        except (OSError, ValueError):  # dangling, or a loop: realpath's own non-strict answer
            return None
