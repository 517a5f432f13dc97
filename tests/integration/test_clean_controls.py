"""Clean environments must pass every check (`--checks all`, imports included): a false alarm
is as bad a bug as a missed corruption."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.envs import CliRun, run_cli


def _errors(run: CliRun) -> list[dict[str, object]]:
    return [f for f in run.findings if f["severity"] == "error"]


def test_bare_venv(bare_venv: Path, cache_dir: Path) -> None:
    run = run_cli(
        "--python",
        str(bare_venv / "bin/python"),
        "--checks",
        "all",
        "--format",
        "json",
        cache_dir=cache_dir,
    )
    assert run.returncode == 0, run.stdout
    assert _errors(run) == []


@pytest.mark.slow
def test_numpy_scipy_pandas_sklearn_torch_venv(big_venv: Path, cache_dir: Path) -> None:
    run = run_cli(
        "--python",
        str(big_venv / "bin/python"),
        "--checks",
        "all",
        "--format",
        "json",
        cache_dir=cache_dir,
    )
    assert run.returncode == 0, run.stdout
    assert _errors(run) == []
    summary = run.report["summary"]
    names = {f["distribution"] for f in run.findings}
    assert summary["distributions"] >= 15, summary
    assert summary["files"] > 10_000 and summary["bytes_hashed"] > 500_000_000, summary
    assert not names, run.findings  # not even a warning on a fresh pip install


def test_debian_system_python(cache_dir: Path) -> None:
    """The distro's python with its apt-installed packages, judged by dpkg's own database."""
    python = shutil.which("python3", path="/usr/bin")
    assert python is not None, "this machine kind ships Debian's python3"
    run = run_cli("--python", python, "--checks", "all", "--format", "json", cache_dir=cache_dir)
    assert run.returncode == 0, run.stdout
    assert _errors(run) == []
    dpkg_owned = [f for f in run.findings if f["installer"] == "dpkg"]
    for f in dpkg_owned:  # at most an admin's deliberate edit, or apt's optional dependency
        assert f["severity"] == "warning", f
        if f["check"] == "record":
            assert "apt-get install --reinstall python3-" in str(f["hint"]), f
        else:
            assert f["code"] == "requirement-missing", f
