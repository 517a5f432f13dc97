"""A run that executes the environment's own code says so on stderr, once, the same way from
every front door: the session announces it, not the check (issue 18, §11)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.envs import run_cli
from tests.support.six import six_env
from verify_env.session import Session
from verify_env.settings.config import Settings

LEAD = "verify-env: this verification runs the environment's own code: "
PIPV = str(Path(sys.executable).parent / "pipv")


@pytest.mark.parametrize(
    ("checks", "blas_probe", "said"),
    [
        (None, False, ()),
        ("record", True, ()),  # the probe belongs to the linkage check
        ("all", False, ("--checks imports",)),
        ("linkage", True, ("--blas-probe",)),
        ("imports,linkage", True, ("--checks imports", "--blas-probe")),
    ],
)
def test_every_door_announces_through_the_session(
    checks: str | None, blas_probe: bool, said: tuple[str, ...]
) -> None:
    line = Session(Settings(checks=checks, blas_probe=blas_probe)).announcement()
    if not said:
        assert line is None
        return
    assert line is not None and line.startswith(LEAD)
    assert [part for part in ("--checks imports", "--blas-probe") if part in line] == list(said)
    # after a transaction (pipv install, conda's hooks) imports never run: nothing to announce
    assert ("--checks imports" in str(Session(Settings(checks=checks)).announcement())) == (
        "--checks imports" in said
    )
    assert Session(Settings(checks=checks), transaction=True).announcement() is None


def test_verify_env_and_pipv_announce_once(six_wheel: Path, py311: str, tmp_path: Path) -> None:
    env = six_env(py311, tmp_path / "env", six_wheel)
    python = str(env / "bin" / "python")
    run = run_cli("--python", python, "--checks", "imports", cache_dir=tmp_path / "cache")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stderr.count(LEAD) == 1, run.stderr
    assert "VERIFY_ENV_IMPORT_ENV passes named variables" in run.stderr
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_ENV_")}
    environ["VERIFY_ENV_CACHE_DIR"] = str(tmp_path / "cache")
    done = subprocess.run(
        [PIPV, "--python", python, "verify", "--checks", "imports"],
        capture_output=True,
        text=True,
        env=environ,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.count(LEAD) == 1, done.stderr
    quiet = run_cli("--python", python, "--checks", "record", cache_dir=tmp_path / "cache")
    assert LEAD not in quiet.stderr
