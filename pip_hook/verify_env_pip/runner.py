"""Running pip itself: ``<python> -m pip ARGS`` with the terminal as pip's own."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

__all__ = ["run_pip"]


def run_pip(python: str, args: Sequence[str]) -> int:
    """pip's exit status; a pip killed by a signal reports 128+N, as a shell would."""
    try:
        status = subprocess.run([python, "-m", "pip", *args], check=False).returncode
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"pipv: cannot run {python}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 128 - status if status < 0 else status
