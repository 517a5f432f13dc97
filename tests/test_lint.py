"""The house rules that a machine can check: ruff, and mypy --strict on src and tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


TREES = ("src", "conda_plugin", "pip_hook", "tests", "bench", "docs")


def test_ruff() -> None:
    proc = _run("ruff", "check", *TREES)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format() -> None:
    """Style is the formatter's, not hand-kept: `ruff format` on these trees changes nothing."""
    proc = _run("ruff", "format", "--check", *TREES)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_on_src() -> None:
    proc = _run("mypy", "--cache-dir", "/dev/null")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_on_tests() -> None:
    proc = _run("mypy", "--cache-dir", "/dev/null", "tests")
    assert proc.returncode == 0, proc.stdout + proc.stderr
