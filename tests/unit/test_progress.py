"""The progress bar: silent for fast runs, one self-erasing line for slow ones."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

from verify_env.render.progress import ProgressBar


def test_silent_before_its_delay() -> None:
    out = io.StringIO()
    bar = ProgressBar(out, delay=60)
    bar("verifying", 10, 100, 1000, 10_000)
    bar.close()
    assert out.getvalue() == ""


def test_draws_and_erases_after_its_delay() -> None:
    out = io.StringIO()
    bar = ProgressBar(out, delay=0)
    bar("verifying", 50, 100, 5_000_000, 10_000_000)
    text = out.getvalue()
    assert text.startswith("\rverifying [") and "50/100 files" in text and "5/10 MB" in text
    bar.close()
    assert out.getvalue().endswith("\r\033[K")


def test_no_bar_when_stderr_is_not_a_terminal(numpy_env: Path, cache_dir: Path) -> None:
    from tests.support.envs import run_cli

    run = run_cli("--python", str(numpy_env / "bin/python"), "--no-cache", cache_dir=cache_dir)
    assert "\r" not in run.stderr


def test_a_terminal_gets_no_escape_codes_in_a_fast_run(numpy_env: Path, tmp_path: Path) -> None:
    """On a TTY a run under a second draws nothing; only the report is printed."""
    primary, secondary = pty.openpty()
    env = {**os.environ, "VERIFY_ENV_CACHE_DIR": str(tmp_path / "cache"), "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "verify_env", "--python", str(numpy_env / "bin/python")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=secondary,
        env=env,
        check=False,
        timeout=120,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(primary)
    assert proc.returncode == 0
    assert proc.stdout.decode().splitlines()[-1].startswith("OK:")
    assert b"verifying [" not in b"".join(chunks) or b"\r\x1b[K" in b"".join(chunks)
