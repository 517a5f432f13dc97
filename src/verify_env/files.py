"""Reading a file of the verified environment without ever blocking on it.

A FIFO, socket or device can stand where a file should be (a broken environment is normal
input); ``open()`` on a FIFO blocks until a writer appears, forever. Every read of an
environment file goes through here: opened non-blocking, checked with ``fstat``, and read only
if it is a regular file.
"""

from __future__ import annotations

import os
import stat

__all__ = ["read_regular"]

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def read_regular(path: str, limit: int = -1) -> bytes | None:
    """The file's bytes (at most ``limit`` when given), or None if it is not a readable
    regular file."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        want = st.st_size if limit < 0 else min(limit, st.st_size)
        chunks = []
        while want > 0:
            chunk = os.read(fd, min(want, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            want -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)
