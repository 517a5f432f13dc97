"""Targets from CPython 3.8 to 3.13: the probe runs in each, and a clean venv of each passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.envs import make_venv, pyenv_python, run_cli


@pytest.mark.parametrize("minor", [8, 9, 10, 11, 12, 13])
def test_clean_venv_of_every_supported_target(minor: int, tmp_path: Path) -> None:
    venv = make_venv(tmp_path / f"venv3{minor}", pyenv_python(minor))
    run = run_cli(
        "--python", str(venv / "bin/python"), "--format", "json", cache_dir=tmp_path / "cache"
    )
    assert run.returncode == 0, run.stdout
    env = run.report["environment"]
    assert env["version"].startswith(f"3.{minor}.")
    assert env["prefix"] == str(venv)
    assert run.report["summary"]["distributions"] >= 1  # pip, at least
    assert [f for f in run.findings if f["severity"] == "error"] == []


@pytest.mark.parametrize("minor", [10, 13])
def test_verify_env_installs_and_runs_on(minor: int, tmp_path: Path) -> None:
    """The tool itself runs on 3.10+; installed from this checkout it verifies its own venv."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    venv = make_venv(tmp_path / "tool", pyenv_python(minor))
    subprocess.run(
        [
            str(venv / "bin/python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            str(root),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    proc = subprocess.run(
        [str(venv / "bin/verify-env"), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "VERIFY_ENV_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert report["environment"]["prefix"] == str(venv)
    assert report["environment"]["version"].startswith(f"3.{minor}.")
    assert report["summary"]["distributions"] >= 3  # verify-env and its two dependencies
    assert report["findings"] == []
    # the configuration files parse on every supported Python (tomli below 3.11)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.verify-env]\nstrict = true\n")
    config = subprocess.run(
        [str(venv / "bin/verify-env"), "config"],
        capture_output=True,
        text=True,
        check=False,
        cwd=project,
        env={"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path)},
    )
    assert config.returncode == 0, config.stderr
    assert any(
        line.startswith("strict ") and line.endswith("# pyproject.toml:2")
        for line in config.stdout.splitlines()
    ), config.stdout
    # pipv acting on its own interpreter (described in a thread while pip runs)
    from tests.support.wheels import make_wheel

    wheel = make_wheel(
        tmp_path / "wheels",
        "tiny-dep",
        "1.0",
        {"tiny_dep.py": ""},
        requires=["not-installed-anywhere"],
    )
    pipv = subprocess.run(
        [str(venv / "bin/pipv"), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "VERIFY_ENV_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert pipv.returncode == 1, pipv.stderr
    assert "tiny-dep 1.0 requires not-installed-anywhere, which is not installed" in pipv.stderr
    assert "verified 1 changed + 0 affected distributions: 1 error" in pipv.stderr
