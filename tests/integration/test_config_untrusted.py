"""Configuration from the working directory is never a way in (issue 18, §5): ``--isolated``
ignores every file and variable, accepted findings stay visible, ``output`` stays inside its
file's tree, and a FIFO or /dev/zero named ``pyproject.toml`` neither hangs nor eats memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.envs import CliRun, break_link, clone_env, run_cli, site_packages

TIMEOUT = 60.0  # every run: a regression that hangs fails here instead of hanging CI


@pytest.fixture
def damaged(bare_venv: Path, tmp_path: Path) -> Path:
    """A clone of the bare venv with one of pip's files changed: one hash-mismatch."""
    env = clone_env(bare_venv, tmp_path / "env")
    target = break_link(site_packages(env) / "pip" / "__init__.py")
    target.write_bytes(target.read_bytes() + b"# changed\n")
    return env


def _run(env: Path, cwd: Path, *extra: str, environ: dict[str, str] | None = None) -> CliRun:
    return run_cli(
        "--python",
        str(env / "bin" / "python"),
        *extra,
        cwd=cwd,
        env=environ,
        cache_dir=cwd / ".cache-verify-env",
        timeout=TIMEOUT,
    )


def _project(directory: Path, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(f"[tool.verify-env]\n{body}\n")
    return directory


def test_a_project_file_that_accepts_everything_keeps_the_finding_visible(
    damaged: Path, tmp_path: Path
) -> None:
    project = _project(tmp_path / "proj", 'ignore = ["*"]\nstrict = true')
    run = _run(damaged, project)
    assert run.returncode == 0
    assert "size-mismatch" in run.stdout and "accepted" in run.stdout
    assert "pyproject.toml" in run.stdout  # which file accepted it
    assert "1 accepted" in run.stdout


@pytest.mark.parametrize("how", ["flag", "env"])
def test_isolated_ignores_project_user_file_and_variables(
    damaged: Path, tmp_path: Path, how: str
) -> None:
    project = _project(tmp_path / "proj", 'ignore = ["*"]\nformat = "junit"')
    user = tmp_path / "user.toml"
    user.write_text('ignore = ["*"]\n')
    environ = {
        "VERIFY_ENV_CONFIG": str(user),
        "VERIFY_ENV_IGNORE": "*",
        "VERIFY_ENV_FORMAT": "junit",
    }
    if how == "env":
        environ["VERIFY_ENV_ISOLATED"] = "1"
    run = _run(
        damaged,
        project,
        *(["--isolated"] if how == "flag" else []),
        "--format",
        "json",
        environ=environ,
    )
    assert run.returncode == 1, run.stdout
    found = run.find("size-mismatch", "pip/__init__.py")
    assert found["severity"] == "error" and found["accepted"] is None


def test_output_from_a_file_cannot_leave_its_tree(damaged: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    project = _project(tmp_path / "proj", f'output = "{outside}"')
    run = _run(damaged, project)
    assert run.returncode == 2
    assert "output" in run.stderr and "outside" in run.stderr
    assert not outside.exists()
    relative = _project(tmp_path / "proj2", 'output = "../outside2.txt"')
    run = _run(damaged, relative)
    assert run.returncode == 2 and not (tmp_path / "outside2.txt").exists()
    # inside the tree is fine
    inside = _project(tmp_path / "proj3", 'output = "reports/out.txt"')
    (inside / "reports").mkdir()
    run = _run(damaged, inside)
    assert run.returncode == 1 and (inside / "reports" / "out.txt").is_file()


def test_output_through_a_symlinked_dir_out_of_the_tree_is_refused(
    damaged: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    project = _project(tmp_path / "proj", 'output = "link/out.txt"')
    (project / "link").symlink_to(elsewhere)
    run = _run(damaged, project)
    assert run.returncode == 2
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_pyproject_that_is_not_a_file_neither_hangs_nor_eats_memory(
    damaged: Path, tmp_path: Path, kind: str
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    if kind == "fifo":
        os.mkfifo(cwd / "pyproject.toml")
    else:
        (cwd / "pyproject.toml").symlink_to("/dev/zero")
    run = _run(damaged, cwd, "--format", "json")
    assert run.returncode == 1
    assert run.find("size-mismatch", "pip/__init__.py")["severity"] == "error"
