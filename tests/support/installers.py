"""The installers people build environments with, from the registry, and a way to run them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["TOOLS", "install_tools", "run_checked"]

# pdm 2.29 imports hishel.SyncSqliteStorage, which hishel 2 no longer has. The project tools
# (tox, hatch, poetry: virtualenv's seeder, then pip or poetry's own installer) are pinned to
# the releases tried here: their environment layouts are what the tests assert on.
TOOLS = (
    "virtualenv",
    "pdm",
    "hishel[httpx2]>=1.4,<2",
    "pipx",
    "uv",
    "tox==4.67.17",
    "hatch==1.18.2",
    "poetry==2.5.1",
)


def run_checked(
    *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> None:
    """Run a command outside any activated venv; fail with its output if it fails."""
    full = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    full.update(env or {})
    proc = subprocess.run(
        [str(a) for a in args], env=full, cwd=cwd, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"{args}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"


def install_tools(venv: Path, python: str) -> Path:
    """A venv holding the installers; returns its bin dir."""
    run_checked(python, "-m", "venv", venv)
    run_checked(
        venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", *TOOLS
    )
    return venv / "bin"
