"""A small real environment: six, installed from its wheel and compiled as pip compiles it.

For tests that need a target with one real distribution and nothing else to import (no pip,
no setuptools): a ``--without-pip`` venv takes ~0.1 s where ``make_venv`` takes seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.envs import install_with_installer, site_packages

__all__ = ["SIX", "download_six", "six_env"]

SIX = "six==1.17.0"


def download_six(dest: Path) -> Path:
    """six's wheel (py2.py3-none-any) from the configured index, into ``dest``."""
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(dest), SIX]
    subprocess.run(pip, check=True)
    return next(dest.glob("six-*.whl"))


def six_env(python: str, dest: Path, wheel: Path) -> Path:
    """A venv of ``python`` holding six, compiled by the target as pip compiles what it
    installs (``compileall``)."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(dest)], check=True)
    install_with_installer(wheel, dest)
    six = site_packages(dest) / "six.py"
    subprocess.run([str(dest / "bin" / "python"), "-m", "compileall", "-q", str(six)], check=True)
    return dest
