"""The pre-commit hook, run for real: the ``pre-commit`` tool from the registry installs this
project (a git clone at HEAD) as a hook repository and runs ``.pre-commit-hooks.yaml``'s
``verify-env`` in a user's repository, with the project's venv activated the way a shell does
it (``VIRTUAL_ENV`` set, its ``bin`` first on PATH). A clean venv passes; a damaged one fails
with the finding. The choice of environment (`verify_env.commands.precommit.project_interpreter`) is
tested on real venvs too."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.envs import break_link, make_venv, site_packages
from verify_env.commands.precommit import project_interpreter

ROOT = Path(__file__).resolve().parent.parent.parent
UMATH = "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"


@pytest.fixture(scope="module")
def pre_commit(tmp_path_factory: pytest.TempPathFactory, py311: str) -> Path:
    """``pre-commit`` from the registry, in a scratch venv of its own."""
    venv = make_venv(tmp_path_factory.mktemp("pre-commit") / "venv", py311, ["pre-commit"])
    return venv / "bin" / "pre-commit"


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture(scope="module")
def user_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's repository whose .pre-commit-config.yaml uses a git clone of this project."""
    base = tmp_path_factory.mktemp("pre-commit-repos")
    hooks = base / "verify-env"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(hooks)], check=True)
    rev = _git(hooks, "rev-parse", "HEAD")
    repo = base / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {hooks}\n  rev: {rev}\n  hooks:\n  - id: verify-env\n", encoding="utf-8"
    )
    (repo / "app.py").write_text("import numpy\n", encoding="utf-8")
    _git(repo, "add", ".")
    return repo


def _run_hook(
    pre_commit: Path,
    repo: Path,
    venv: Path,
    home: Path,
) -> subprocess.CompletedProcess[str]:
    """``pre-commit run --all-files`` in a shell where ``venv`` is activated."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH")
        and not k.startswith(("VERIFY_ENV_", "PRE_COMMIT"))
    }
    env.update(
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        PRE_COMMIT_HOME=str(home),
        VERIFY_ENV_CACHE_DIR=str(home / "vcache"),
    )
    return subprocess.run(
        [str(pre_commit), "run", "--all-files", "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_the_hook_passes_a_clean_env_and_fails_a_damaged_one(
    pre_commit: Path, user_repo: Path, numpy_env: Path, tmp_path: Path
) -> None:
    home = tmp_path / "pre-commit-home"
    clean = _run_hook(pre_commit, user_repo, numpy_env, home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "verify-env" in clean.stdout and "Passed" in clean.stdout

    target = break_link(site_packages(numpy_env) / UMATH)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    damaged = _run_hook(pre_commit, user_repo, numpy_env, home)
    assert damaged.returncode == 1, damaged.stdout + damaged.stderr
    out = damaged.stdout
    assert "Failed" in out and "hash-mismatch" in out and UMATH in out
    assert f"verifying the virtual environment on PATH ({numpy_env})" in out
    assert "pip install --force-reinstall --no-deps numpy==2.2.6" in out


# ---------------------------------------------------------------------------------------------
# which environment the hook verifies
# ---------------------------------------------------------------------------------------------


def _path(*dirs: Path | str) -> dict[str, str]:
    return {"PATH": os.pathsep.join(str(d) for d in dirs)}


def test_an_activated_venv_wins(bare_venv: Path, numpy_venv: Path, tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(numpy_venv)
    hook_env = tmp_path / "hook"
    exe, why = project_interpreter(
        _path(hook_env / "bin", bare_venv / "bin", "/usr/bin"),
        str(tmp_path),
        own_prefix=str(hook_env),
    )
    assert exe == str(bare_venv / "bin" / "python3") and "on PATH" in why


def test_the_hooks_own_env_is_skipped(bare_venv: Path, tmp_path: Path) -> None:
    exe, _ = project_interpreter(
        _path(bare_venv / "bin", "/usr/bin"), str(tmp_path), own_prefix=str(bare_venv)
    )
    assert exe == shutil.which("python3", path="/usr/bin")


def test_the_projects_dot_venv_when_nothing_is_activated(numpy_venv: Path, tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(numpy_venv)
    exe, why = project_interpreter(_path("/usr/bin"), str(tmp_path), own_prefix="/nonexistent")
    assert exe == str(tmp_path / ".venv" / "bin" / "python3") and ".venv" in why


def test_nothing_to_verify(tmp_path: Path) -> None:
    exe, why = project_interpreter(_path(tmp_path), str(tmp_path), own_prefix="/nonexistent")
    assert exe is None and "no python3 on PATH" in why


def test_main_verifies_the_env_it_found(
    bare_venv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from verify_env.commands.precommit import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(bare_venv / "bin"))
    monkeypatch.setenv("VERIFY_ENV_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert f"verifying the virtual environment on PATH ({bare_venv})" in err
    assert f'"prefix": "{bare_venv}"' in out


def test_main_passes_an_explicit_target_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from verify_env.commands.precommit import main

    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["--python=/nonexistent/python", "--explain", "numpy-abi"]) == 0
    assert capsys.readouterr().err == ""  # nothing looked up


def test_main_without_any_python_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from verify_env.commands.precommit import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    assert main([]) == 2
    assert "pass --python PATH in the hook's args" in capsys.readouterr().err


def test_an_active_conda_env_when_no_venv_is_found(bare_venv: Path, tmp_path: Path) -> None:
    """(Any prefix with bin/python3 serves as the conda env here: only its interpreter is
    looked up.) Empty PATH entries are skipped."""
    environ = {"PATH": f"{os.pathsep}/usr/bin", "CONDA_PREFIX": str(bare_venv)}
    exe, why = project_interpreter(environ, str(tmp_path), own_prefix="/nonexistent")
    assert exe == str(bare_venv / "bin" / "python3") and "conda environment" in why
