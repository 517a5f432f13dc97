"""Writing the report: stdout for ``-``, or a file replaced atomically so a reader (or a failed
run) never sees half a report."""

from __future__ import annotations

import os
import sys

from verify_env.errors import VerifyEnvError
from verify_env.files import replace_atomically

__all__ = ["write_report"]


def write_report(text: str, destination: str | None) -> None:
    if destination in (None, "-"):
        # A stdout that is not UTF-8 gets escapes, never a UnicodeEncodeError; a reader that
        # went away (``| head``) is not our failure: the exit status still tells the verdict.
        try:
            sys.stdout.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        return
    assert destination is not None
    try:
        replace_atomically(destination, text.encode("utf-8"))
    except OSError as exc:
        raise VerifyEnvError(f"cannot write {destination!r}: {exc.strerror or exc}") from None
