"""A one-line progress bar on stderr, shown only on a terminal and only once a run has taken
more than a second (a fast run stays silent). Phases: ``hashing`` (files and bytes), ``imports``
(modules imported, no bytes)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """Callable as the checks' progress callback; `close()` erases the line."""

    def __init__(self, stream: TextIO | None = None, delay: float = 1.0) -> None:
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.delay = delay
        self.last = 0.0
        self.shown = False

    def __call__(
        self, phase: str, files: int, files_total: int, nbytes: int, bytes_total: int
    ) -> None:
        now = time.monotonic()
        if now - self.start < self.delay or now - self.last < 0.1:
            return
        self.last = now
        share = nbytes / bytes_total if bytes_total else (files / files_total if files_total else 1)
        width = 30
        bar = "#" * int(share * width)
        if bytes_total:
            count = f"{files}/{files_total} files {nbytes / 1e6:.0f}/{bytes_total / 1e6:.0f} MB"
        else:
            count = f"{files}/{files_total} " + ("modules" if phase == "imports" else "files")
        # \033[K: the line of a longer phase before it is cleared to its end
        self.stream.write(f"\r{phase} [{bar:<{width}}] {count}\033[K")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
