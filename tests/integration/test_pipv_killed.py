"""A pip upgrade killed with SIGKILL in the middle of unpacking the new wheel: what the next
pipv commands say, and `pipv repair` finishing it to the version being installed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import zipfile
from pathlib import Path

from tests.integration.test_pipv import PIPV, _children, pip, pipv
from tests.support.envs import clone_env, site_packages
from tests.support.wheels import make_wheel

BIG = 96 << 20  # zeros: a 96 KB wheel member that takes pip a while to write out


def _killed_upgrade(env: Path, wheels: Path, cache_dir: Path, cwd: Path) -> str:
    """``pipv install slowpkg==2.0`` over 1.0, its pip killed while it writes the big file;
    pipv's stderr."""
    py = str(env / "bin/python")
    proc = subprocess.Popen(
        [PIPV, "--python", py, "install", "-q", "--no-index", "-f", str(wheels), "slowpkg==2.0"],
        env={**os.environ, "VERIFY_ENV_CACHE_DIR": str(cache_dir)},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    big = site_packages(env) / "slowpkg" / "big.bin"
    deadline = time.monotonic() + 120
    pids: list[int] = []
    while time.monotonic() < deadline and not pids:
        pids = _children(proc.pid)  # the held pip, started at once
    while time.monotonic() < deadline and not (big.exists() and big.stat().st_size > 0):
        time.sleep(0.002)
    assert big.exists(), "pip never started writing the new version"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGKILL, err
    assert big.stat().st_size < BIG, "pip finished writing before it was killed"
    return err


def test_a_killed_upgrade_is_noted_then_finished_by_repair(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "slowpkg", "1.0", {"slowpkg/__init__.py": "VERSION = 1\n"})
    make_wheel(
        wheels,
        "slowpkg",
        "2.0",
        {"slowpkg/__init__.py": "VERSION = 2\n", "slowpkg/big.bin": bytes(BIG)},
        compression=zipfile.ZIP_DEFLATED,
    )
    env = clone_env(bare_venv, tmp_path / "env")
    py = str(env / "bin/python")
    site = site_packages(env)
    assert (
        pip(env, "install", "-q", "--no-index", "-f", str(wheels), "slowpkg==1.0").returncode == 0
    )

    err = _killed_upgrade(env, wheels, cache_dir, tmp_path)
    assert "the transaction was cut short (it was installing slowpkg 2.0)" in err
    assert "`pipv repair` finishes it" in err
    stashes = sorted(p.name for p in site.iterdir() if p.name.startswith("~"))
    assert stashes, "pip had not stashed slowpkg 1.0"
    assert not (site / "slowpkg-2.0.dist-info").exists()

    # a pass-through command: pip's stdout and exit status, one note on stderr
    listed = pipv("--python", py, "list", cache_dir=cache_dir, cwd=tmp_path)
    plain = pip(env, "list")
    assert listed.returncode == plain.returncode == 0, listed.stderr
    assert listed.stdout == plain.stdout
    note = "pipv: an earlier `pip install -q --no-index -f"
    assert listed.stderr.count(note) == 1, listed.stderr
    assert "it was installing slowpkg 2.0" in listed.stderr
    assert "error" not in listed.stderr

    # each stash is one finding, once; the stashed dist-info is no distribution with files
    # missing (a repair would reinstall the version being replaced)
    shown = pipv("--python", py, "verify", "--checks", "record", "-f", "json", cache_dir=cache_dir)
    findings = json.loads(shown.stdout)["findings"]
    assert sorted(f["path"] for f in findings if f["code"] == "leftover-directory") == stashes
    assert not [f for f in findings if f["code"] == "missing-file"], findings

    planned = pipv("--python", py, "repair", "--dry-run", cache_dir=cache_dir, cwd=tmp_path)
    assert planned.returncode == 1, planned.stderr
    assert (
        f"finish it: {py} -m pip install --force-reinstall --no-deps --no-index "
        f"-f {wheels} slowpkg==2.0" in planned.stderr
    )
    for stash in stashes:
        assert planned.stderr.count(f"then remove pip's leftover {site / stash} (its stash") == 1

    fixed = pipv("--python", py, "repair", cache_dir=cache_dir, cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert "verified again: whole" in fixed.stderr
    assert (site / "slowpkg-2.0.dist-info").is_dir()
    assert (site / "slowpkg" / "big.bin").stat().st_size == BIG
    assert not [p for p in site.iterdir() if p.name.startswith("~")]
    after = pipv("--python", py, "list", cache_dir=cache_dir, cwd=tmp_path)
    assert after.returncode == 0 and "interrupted" not in after.stderr
