"""The paths check on real interpreters: another Python's site-packages on sys.path, and local
modules that shadow installed distributions or the standard library."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.envs import CliRun, make_venv, pyenv_python, run_cli, site_packages


@pytest.fixture(scope="session")
def venv312(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 3.12 venv (pip in its site-packages): the foreign packages."""
    return make_venv(tmp_path_factory.mktemp("py312") / "venv", pyenv_python(12))


def paths(
    venv: Path, cache_dir: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> CliRun:
    return run_cli(
        "--python",
        str(venv / "bin/python"),
        "--checks",
        "paths",
        "--format",
        "json",
        cache_dir=cache_dir,
        cwd=cwd,
        env=env,
    )


def test_pth_adding_another_pythons_site_packages(
    numpy_env: Path, venv312: Path, cache_dir: Path, tmp_path: Path
) -> None:
    foreign = site_packages(venv312)
    (site_packages(numpy_env) / "old-tools.pth").write_text(f"# added by hand\n{foreign}\n")
    run = paths(numpy_env, cache_dir, cwd=tmp_path)
    assert run.returncode == 1, run.stdout
    f = run.find("foreign-site-packages")
    assert (f["check"], f["severity"], f["path"]) == ("paths", "error", str(foreign))
    assert "Python 3.12's packages" in f["message"] and "Python 3.11" in f["message"]
    assert "old-tools.pth line 2" in f["message"] and "old-tools.pth line 2" in f["hint"]


def test_pythonpath_dir_of_unloadable_compiled_modules(
    numpy_env: Path, cp312_numpy_wheel: Path, cache_dir: Path, tmp_path: Path
) -> None:
    """No version in the dir's name: its cpython-312 modules give it away."""
    libs = tmp_path / "libs"
    with zipfile.ZipFile(cp312_numpy_wheel) as zf:
        zf.extractall(libs)
    work = tmp_path / "work"
    work.mkdir()
    run = paths(numpy_env, cache_dir, cwd=work, env={"PYTHONPATH": str(libs)})
    assert run.returncode == 1, run.stdout
    f = run.find("foreign-site-packages")
    assert f["path"] == str(libs) and "(PYTHONPATH)" in f["message"]
    assert "cpython-312" in f["message"] and f["hint"] == f"remove {libs} from PYTHONPATH"


def test_local_numpy_folder_in_the_working_directory(
    numpy_env: Path, cache_dir: Path, tmp_path: Path
) -> None:
    work = tmp_path / "project"
    (work / "numpy").mkdir(parents=True)
    (work / "numpy" / "__init__.py").write_text("")
    (work / "random.py").write_text("")
    (work / "scipy").mkdir()  # a namespace dir: the import system looks past it
    (work / "test").mkdir()  # the stdlib's own regression suite: nobody imports it
    (work / "test" / "__init__.py").write_text("")
    (work / "docs").mkdir()
    # The console script, as a user runs it: ``python -m verify_env`` started in this
    # directory would itself import the local random.py (the very harm reported here).
    script = Path(sys.executable).parent / "verify-env"
    run = CliRun(
        subprocess.run(
            [
                str(script),
                "--python",
                str(numpy_env / "bin/python"),
                "--checks",
                "paths",
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            cwd=work,
            check=False,
            env={**os.environ, "VERIFY_ENV_CACHE_DIR": str(cache_dir)},
        )
    )
    assert run.returncode == 1, run.stdout
    f = run.find("shadowed-module", "numpy/")
    assert (f["severity"], f["distribution"], f["version"]) == ("error", "numpy", "2.2.6")
    assert "working directory" in f["message"] and "'import numpy'" in f["message"]
    stdlib = run.find("shadowed-module", "random.py")
    assert stdlib["severity"] == "warning" and "standard library's 'random'" in stdlib["message"]
    assert len(run.findings) == 2, run.findings


def test_pythonpath_module_shadowing_an_installed_distribution(
    numpy_env: Path, cache_dir: Path, tmp_path: Path
) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "numpy.py").write_text("version = 'mine'\n")
    run = paths(numpy_env, cache_dir, cwd=tmp_path, env={"PYTHONPATH": str(extra)})
    assert run.returncode == 1, run.stdout
    f = run.find("shadowed-module", "numpy.py")
    assert f["distribution"] == "numpy" and "(PYTHONPATH)" in f["message"]


def test_a_project_installed_from_its_own_tree_is_not_shadowing(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """``pip install .`` in WORKDIR, then verify-env there: the tree is the source, on
    purpose."""
    from tests.support.envs import clone_env

    env = clone_env(bare_venv, tmp_path / "env")
    project = tmp_path / "app"
    (project / "myapp").mkdir(parents=True)
    (project / "myapp" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "myapp"\nversion = "1.0"\n'
    )
    subprocess.run(
        [
            str(env / "bin/python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            str(project),
        ],
        check=True,
        cwd=project,
    )
    run = paths(env, cache_dir, cwd=project)
    assert run.returncode == 0, run.stdout
    assert run.findings == []
