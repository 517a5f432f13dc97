"""Writing the report: stdout for ``-``, or a file replaced atomically so a reader (or a failed
run) never sees half a report."""

from __future__ import annotations

import os
import sys
import tempfile

from verify_env.errors import VerifyEnvError

__all__ = ["write_report"]


def write_report(text: str, destination: str | None) -> None:
    if destination in (None, "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    assert destination is not None
    directory = os.path.dirname(os.path.abspath(destination))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".verify-env-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, destination)
        tmp = None
    except OSError as exc:
        raise VerifyEnvError(f"cannot write {destination!r}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
