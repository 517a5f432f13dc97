"""Paths inside an unpacked image (``verify-env --root DIR``), resolved as a chroot would.

An image's absolute symlinks (``/opt/app/bin/python -> /usr/bin/python3.11``) name paths of
the image, not of the machine verifying it; ``os.path.realpath`` would follow them out to the
host's ``/usr/bin``, and a hostile image could point at any host file. `RootFS.resolve` walks a
path one component at a time, re-roots every absolute link target at the root and clamps
``..`` there, as the kernel does for a process whose root is the image: the result never
leaves the root. Nothing here opens a file; the callers read what it returns through
`verify_env.files`.
"""

from __future__ import annotations

import os

__all__ = ["RootFS"]

_MAX_LINKS = 40
"""Symlinks followed in one resolution (the kernel's ELOOP limit)."""


class RootFS:
    """One image root: host path <-> path inside the image, and link resolution inside it."""

    __slots__ = ("_base", "_memo", "root")

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        """The root directory on this machine, itself resolved (the host's own links)."""
        self._base = self.root.rstrip("/")
        """`root` without its trailing slash ("" for ``/``): what inner paths are appended to."""
        self._memo: dict[str, str] = {}

    def host(self, inner: str) -> str:
        """The host path of ``inner`` (a path inside the image, or already a host path under the
        root), lexically: ``..`` clamped at the root, no link followed."""
        rel = self.inner(inner) if self.contains(inner) else inner
        norm = os.path.normpath("/" + rel)
        while norm.startswith("//"):
            norm = norm[1:]
        return self.root if norm == "/" else self._base + norm

    def contains(self, path: str) -> bool:
        """Whether a host path lies lexically under the root."""
        return path == self.root or path.startswith(self._base + os.sep)

    def inner(self, path: str) -> str:
        """The path inside the image of a host path under the root (``/`` for the root)."""
        if path == self.root:
            return "/"
        if path.startswith(self._base + os.sep):
            return path[len(self._base) :]
        return path

    def resolve(self, path: str) -> str:
        """The host path ``path`` (inside the image, or a host path under the root) leads to,
        every symlink followed inside the root; what does not exist is kept as spelled."""
        start = self.inner(path) if self.contains(path) else path
        got = self._memo.get(start)
        if got is None:
            got = self._memo[start] = self._walk(start)
        return got

    def _walk(self, inner: str) -> str:
        todo = [p for p in inner.split("/") if p not in ("", ".")]
        todo.reverse()
        done: list[str] = []
        links = 0
        while todo:
            part = todo.pop()
            if part == "..":
                if done:
                    done.pop()
                continue
            here = self._base + "/" + "/".join([*done, part])
            try:
                target = os.readlink(here)
            except (OSError, ValueError):  # not a link, absent, or a NUL in the name (no
                done.append(part)  # file has one: an image's crafted pyvenv.cfg): as spelled
                continue
            links += 1
            if links > _MAX_LINKS:
                done.append(part)  # a loop: the kernel says ELOOP; the caller finds no file
                break
            if target.startswith("/"):
                done = []
            todo.extend(reversed([p for p in target.split("/") if p not in ("", ".")]))
        rest = list(reversed(todo))
        return self._base + "/" + "/".join([*done, *rest]) if done or rest else self.root
