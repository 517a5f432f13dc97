"""Session builds shared by every pytest-xdist worker: each large environment is built once.

With ``-n 2`` every worker runs the session fixtures of its own; the torch venv alone takes
~45 s to build, so building it twice ate most of what the second core gave (308 s vs 357 s
serial, measured in session 5). Here the first worker to ask builds under an exclusive file
lock in the directory all workers share, and the others wait for it and take the result. A
build that fails leaves no mark, so the next worker tries again and fails the same visible way.

Not for the venvs tests clone with hard links and then expect a warm cache on (`numpy_venv`,
`bare_venv`): a clone made by another worker changes the shared inodes' ctime mid-test.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

__all__ = ["built_once"]


def _shared_root(factory: pytest.TempPathFactory) -> Path:
    """The base temp dir of the whole run: the parent of a worker's own under xdist."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], Path]) -> Path:
    """``build(dir)`` run once per test run, whatever the number of workers; its result path.

    ``dir`` is an empty directory in the run's shared temp dir. The result is handed to every
    worker as a path, so only what is on disk carries over.
    """
    root = _shared_root(factory)
    workdir = root / f"shared-{name}"
    done = root / f"shared-{name}.built"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return Path(done.read_text())
        if workdir.exists():
            shutil.rmtree(workdir)  # a build that failed in another worker: start afresh
        workdir.mkdir()
        result = build(workdir)
        done.write_text(str(result))
        return result
