"""Progress on a terminal during the imports check (issue 20 §7): a package whose import takes
seconds shows the imports phase on a real pty, and nothing of it reaches a pipe."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.support.envs import clone_env, run_cli
from tests.support.wheels import make_wheel


def _on_a_terminal(*args: str, cache_dir: Path) -> tuple[int, str, str]:
    """``verify-env ARGS`` with stderr on a pty (stdout a pipe): status, stdout, what the
    terminal got."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_ENV_")}
    env["VERIFY_ENV_CACHE_DIR"] = str(cache_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "verify_env", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every writer of the pty is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.stdout is not None
    with proc.stdout:
        out = proc.stdout.read().decode()
    return proc.wait(timeout=120), out, b"".join(chunks).decode(errors="replace")


def test_imports_progress_on_a_tty_never_on_a_pipe(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    wheels = tmp_path / "wheels"
    make_wheel(
        wheels, "slowimport", "1.0", {"slowimport/__init__.py": "import time\ntime.sleep(2)\n"}
    )
    env = clone_env(bare_venv, tmp_path / "env")
    subprocess.run(
        [
            str(env / "bin/python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "-f",
            str(wheels),
            "slowimport",
        ],
        check=True,
    )
    args = ("--python", str(env / "bin/python"), "--checks", "imports")
    status, out, terminal = _on_a_terminal(*args, cache_dir=cache_dir)
    assert status == 0, terminal
    assert "\rimports [" in terminal and " modules" in terminal, terminal
    assert "\r\x1b[K" in terminal.rpartition("\rimports [")[2]  # the line is erased at the end
    assert "\r" not in out
    piped = run_cli(*args, cache_dir=cache_dir)
    assert piped.returncode == 0, piped.stderr
    assert "\r" not in piped.stderr and "imports [" not in piped.stderr
