"""Reading a file of the verified environment without ever blocking on it, and writing our own
files (reports, the stat cache) so that no reader ever sees half of one.

A FIFO, socket or device can stand where a file should be (a broken environment is normal
input); ``open()`` on a FIFO blocks until a writer appears, forever. Every read of an
environment file goes through here: opened non-blocking, checked with ``fstat``, and read only
if it is a regular file.
"""

from __future__ import annotations

import os
import stat

__all__ = ["open_regular", "read_regular", "read_up_to", "replace_atomically"]

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def open_regular(path: str) -> tuple[int, os.stat_result] | None:
    """A read-only descriptor and its stat if ``path`` is a regular file, else None. The
    caller closes the descriptor."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        return None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd, st


def read_up_to(fd: int, want: int) -> bytes:
    """``want`` bytes from ``fd``, fewer only where the file ends first (it shrank since its
    ``fstat``), read in 16 MiB chunks. Raises OSError."""
    chunks = []
    while want > 0:
        chunk = os.read(fd, min(want, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        want -= len(chunk)
    return b"".join(chunks)


def read_regular(path: str, limit: int = -1) -> bytes | None:
    """The file's bytes (at most ``limit`` when given), or None if it is not a readable
    regular file."""
    opened = open_regular(path)
    if opened is None:
        return None
    fd, st = opened
    try:
        return read_up_to(fd, st.st_size if limit < 0 else min(limit, st.st_size))
    except OSError:
        return None
    finally:
        os.close(fd)


def replace_atomically(path: str, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``; on any
    failure the temporary file is removed and the OSError raised.

    The file gets ``mode``, or the mode of the regular file it replaces, or what the umask
    gives a new file (mkstemp's 0600 would hide a CI report from the uploader that reads it).
    A symlink at ``path`` is replaced by the new file, never written through, and its
    target's mode is not taken (a link to /dev/null made a world-writable report: issue 18,
    §13): the target is left as it was.
    """
    import tempfile  # here: pipv reads (never writes) before pip starts, tempfile is ~1.5 ms

    fd, tmp = tempfile.mkstemp(
        dir=os.path.dirname(os.path.abspath(path)), prefix=".verify-env-", suffix=".tmp"
    )
    try:
        if mode is None:
            try:
                st = os.lstat(path)
            except OSError:
                st = None
            if st is not None and stat.S_ISREG(st.st_mode):
                mode = stat.S_IMODE(st.st_mode)
            else:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
