"""A note, outside the environment, that a pip transaction is under way.

Written before pip starts and removed once the transaction has been verified. If pip (or pipv
with it) is killed — Ctrl-C, SIGKILL, the OOM killer in a container — the note survives, and
the next pipv run in that environment verifies everything instead of just its own change: a
half-written distribution is found although nobody remembers the interrupted install.
"""

from __future__ import annotations

import os

from verify_env.cache.location import cache_path_for
from verify_env.files import read_regular, replace_atomically

__all__ = ["Journal"]


class Journal:
    """The note for one environment prefix.

    A plain class, json imported only when a note is written or found: every pipv command
    looks for the note, and dataclasses and json cost ~12 ms of ``pipv --version`` here."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    @classmethod
    def for_python(cls, python: str) -> Journal:
        """Keyed by the interpreter's path as given (not resolved: every venv's python links
        to the same base interpreter), so finding it needs no probe."""
        return cls(cache_path_for(os.path.abspath(python))[: -len(".bin")] + ".pipv-journal")

    def begin(self, args: tuple[str, ...]) -> None:
        """Record the transaction about to run; a journal that cannot be written only costs
        the next run its warning."""
        import json
        import time

        try:
            # the stat cache's dir: 0700, or verify-env will not trust the cache in it
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            replace_atomically(
                self.path,
                json.dumps(
                    {"pid": os.getpid(), "args": list(args), "started": time.time()}
                ).encode(),
                mode=0o600,
            )
        except OSError:
            pass

    def unfinished(self) -> str | None:
        """The command line of a transaction that never finished, if any (ours excluded)."""
        data = read_regular(self.path)
        if data is None:
            return None
        import json

        try:
            note = json.loads(data)
            args = " ".join(str(a) for a in note["args"])
        except (ValueError, KeyError, TypeError):
            return "an unreadable earlier transaction"
        return f"pip {args}"

    def end(self) -> None:
        try:
            os.unlink(self.path)
        except OSError:
            pass
