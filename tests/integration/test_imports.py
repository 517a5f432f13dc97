"""The imports check on real venvs: NumPy 1.x/2.x breakage, a truncated extension, a module
that hangs or crashes on import, and the clean controls. Every run must leave the verified
environment byte-identical."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import env_snapshot
from tests.support.conda_env import PackageFile, PackageSpec, build_channel, create_prefix
from tests.support.envs import (
    CliRun,
    break_link,
    clone_env,
    make_venv,
    pyenv_python,
    run_cli,
    site_packages,
)

UMATH = "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"


def _imports(
    python: Path | str, cache_dir: Path, *extra: str, env: dict[str, str] | None = None
) -> CliRun:
    return run_cli(
        "--python",
        str(python),
        "--checks",
        "imports",
        "--format",
        "json",
        *extra,
        cache_dir=cache_dir,
        env=env,
    )


def _errors(run: CliRun) -> list[dict[str, object]]:
    return [f for f in run.findings if f["severity"] == "error"]


def _pip(venv: Path, *args: str) -> None:
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            *args,
        ],
        check=True,
    )


@pytest.fixture(scope="module")
def old_scipy_env(numpy_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """numpy 2.2.6 with scipy 1.11.1 (built against NumPy 1.x) forced in with --no-deps."""
    env = clone_env(numpy_venv, tmp_path_factory.mktemp("old-scipy") / "env")
    _pip(env, "--no-deps", "scipy==1.11.1")
    return env


@pytest.fixture(scope="module")
def new_scipy_env(numpy_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """numpy 2.2.6 with scipy 1.13.1, built against NumPy 2: the clean twin."""
    env = clone_env(numpy_venv, tmp_path_factory.mktemp("new-scipy") / "env")
    _pip(env, "--no-deps", "scipy==1.13.1")
    return env


@pytest.fixture(scope="module")
def pandas_env(numpy_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """numpy 2.2.6 and pandas installed with --no-deps: python-dateutil is missing."""
    env = clone_env(numpy_venv, tmp_path_factory.mktemp("pandas") / "env")
    _pip(env, "--no-deps", "pandas")
    return env


FIXTURE_MODULES = {
    # hangs on import, after starting a child that hangs too (the whole group must go)
    "vet_sleeper/__init__.py": """
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        with open(os.environ["VET_PIDFILE"], "w") as fh:
            fh.write(f"{os.getpid()} {child.pid}")
        time.sleep(3600)
        """,
    # dies of SIGSEGV on import
    "vet_crasher/__init__.py": """
        import ctypes
        ctypes.string_at(0)
        """,
    # prints to both streams, warns (under PYTHONWARNINGS=error), and reads stdin: none of it
    # may reach the report or fail the import
    "vet_noisy/__init__.py": """
        import sys, warnings
        print('{"schema": "not ours"}')
        sys.stderr.write("Traceback (most recent call last): not a real one\\n")
        warnings.warn("deprecated on purpose", DeprecationWarning)
        sys.stdin.read()
        """,
    # needs a module its distribution does not declare: a warning, not an error
    "vet_optional/__init__.py": """
        import vet_absent_dependency
        """,
}


@pytest.fixture(scope="module")
def fixture_wheel(tmp_path_factory: pytest.TempPathFactory, bare_venv: Path) -> Path:
    """A real wheel, built by ``pip wheel`` with setuptools from a tiny project."""
    project = tmp_path_factory.mktemp("vet-project")
    (project / "pyproject.toml").write_text(
        textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=70.1"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "vet-import-fixtures"
        version = "1.0"

        [tool.setuptools]
        packages = ["vet_sleeper", "vet_crasher", "vet_noisy", "vet_optional"]
        """)
    )
    for rel, text in FIXTURE_MODULES.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(textwrap.dedent(text))
    out = tmp_path_factory.mktemp("vet-wheel")
    subprocess.run(
        [
            str(bare_venv / "bin" / "python"),
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--disable-pip-version-check",
            "-w",
            str(out),
            str(project),
        ],
        check=True,
    )
    return next(out.glob("vet_import_fixtures-1.0-*.whl"))


def _gone(pid: int, within: float = 5.0) -> bool:
    """Dead (a zombie not yet reaped by init counts as dead), waiting a little for SIGKILL."""
    deadline = time.monotonic() + within
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_scipy_built_for_numpy1_under_numpy2(old_scipy_env: Path, cache_dir: Path) -> None:
    before = env_snapshot(old_scipy_env)
    run = _imports(old_scipy_env / "bin/python", cache_dir)
    assert run.returncode == 1, run.stdout
    scipy = [f for f in _errors(run) if f["distribution"] == "scipy"]
    assert scipy, run.findings
    abi = next(f for f in scipy if "NumPy 1.x/2.x" in str(f["message"]))
    assert (abi["check"], abi["code"], abi["version"], abi["installer"]) == (
        "imports",
        "import-error",
        "1.11.1",
        "pip",
    )
    message = str(abi["message"])
    assert "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.2.6" in message
    assert str(abi["path"]).startswith("scipy/")
    assert "scipy.linalg" in message  # the failing submodule, first or among "the same way"
    assert "numpy<2" in str(abi["hint"]) and "--upgrade scipy" in str(abi["hint"])
    assert not [f for f in run.findings if f["distribution"] == "numpy"], run.findings
    assert env_snapshot(old_scipy_env) == before


def test_scipy_built_for_numpy2_is_clean(new_scipy_env: Path, cache_dir: Path) -> None:
    run = _imports(new_scipy_env / "bin/python", cache_dir)
    assert run.returncode == 0, run.stdout
    assert run.findings == []
    facts = run.report["environment"]["imports"]
    assert facts["modules"] == facts["distinct"] >= 20  # numpy, pip, scipy and its subpackages


def test_missing_required_dependency_names_the_requirement(
    pandas_env: Path, cache_dir: Path
) -> None:
    run = _imports(pandas_env / "bin/python", cache_dir)
    assert run.returncode == 1, run.stdout
    f = run.find("import-error", "pandas")
    assert (f["distribution"], f["severity"]) == ("pandas", "error")
    assert "dateutil" in str(f["message"])
    assert "pandas requires 'python-dateutil" in str(f["message"])
    assert str(f["hint"]).startswith(f"{pandas_env / 'bin/python'} -m pip install 'python-dateutil")


def test_truncated_extension_is_a_finding_not_a_failure(numpy_env: Path, cache_dir: Path) -> None:
    target = break_link(site_packages(numpy_env) / UMATH)
    with open(target, "r+b") as fh:
        fh.truncate(os.path.getsize(target) // 2)
    before = env_snapshot(numpy_env)
    run = _imports(numpy_env / "bin/python", cache_dir)
    assert run.returncode == 1, run.stderr
    numpy = [f for f in _errors(run) if f["distribution"] == "numpy"]
    assert len(numpy) == 1, run.findings  # numpy.linalg etc. are not tried without numpy
    assert numpy[0]["path"] == "numpy"
    assert "import numpy" in str(numpy[0]["message"])
    assert (
        numpy[0]["hint"]
        == f"{numpy_env / 'bin/python'} -m pip install --force-reinstall --no-deps numpy==2.2.6"
        or "verify-env --checks record,tags" in str(numpy[0]["hint"])
    )
    assert env_snapshot(numpy_env) == before


def test_hang_crash_noise_and_optional_dependency(
    fixture_wheel: Path, bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    env = clone_env(bare_venv, tmp_path / "env")
    _pip(env, "--no-deps", str(fixture_wheel))
    pidfile = tmp_path / "pids"
    before = env_snapshot(env)
    started = time.monotonic()
    run = _imports(
        env / "bin/python",
        cache_dir,
        "--import-timeout",
        "2",
        env={
            "VET_PIDFILE": str(pidfile),
            "PYTHONWARNINGS": "error",
            "VERIFY_ENV_IMPORT_ENV": "VET_PIDFILE",  # the scrubbed environment lets it through
        },
    )
    elapsed = time.monotonic() - started
    assert run.returncode == 1, run.stderr
    assert elapsed < 20, elapsed  # one 2 s timeout, not the default 30 s
    by_path = {f["path"]: f for f in run.findings}
    assert set(by_path) == {"vet_sleeper", "vet_crasher", "vet_optional"}, run.findings
    sleeper, crasher, optional = (
        by_path[p] for p in ("vet_sleeper", "vet_crasher", "vet_optional")
    )
    assert sleeper["severity"] == "error"
    assert sleeper["message"] == "import vet_sleeper did not finish within 2 s (killed)"
    assert "--import-timeout" in str(sleeper["hint"])
    assert crasher["severity"] == "error"
    assert crasher["message"] == "import vet_crasher crashed the interpreter (SIGSEGV)"
    assert optional["severity"] == "warning"
    assert "No module named 'vet_absent_dependency'" in str(optional["message"])
    for f in run.findings:
        assert (f["distribution"], f["version"], f["installer"]) == (
            "vet-import-fixtures",
            "1.0",
            "pip",
        )
    worker, child = (int(p) for p in pidfile.read_text().split())
    assert _gone(worker) and _gone(child)  # the whole process group was killed
    assert env_snapshot(env) == before
    assert not list(env.rglob("__pycache__/vet_*"))


def test_clean_bare_venv_and_base_interpreters(bare_venv: Path, cache_dir: Path) -> None:
    """The oldest supported target (3.8) runs the worker too."""
    for python in (bare_venv / "bin/python", pyenv_python(8), pyenv_python(13)):
        run = _imports(python, cache_dir)
        assert _errors(run) == [], (python, run.findings)
        assert run.report["environment"]["imports"]["modules"] >= 1, python


def test_clean_debian_system_python(cache_dir: Path) -> None:
    python = shutil.which("python3", path="/usr/bin")
    assert python is not None, "this machine kind ships Debian's python3"
    run = _imports(python, cache_dir)
    assert run.returncode == 0, run.stdout
    assert _errors(run) == []
    assert run.report["environment"]["imports"]["modules"] >= 10
    assert {f["installer"] for f in run.findings} <= {"dpkg"}


@pytest.mark.slow
def test_clean_big_venv_imports_each_module_once(big_venv: Path, cache_dir: Path) -> None:
    before = env_snapshot(big_venv)
    run = _imports(big_venv / "bin/python", cache_dir)
    assert run.returncode == 0, run.stdout
    assert _errors(run) == []
    facts = run.report["environment"]["imports"]
    assert facts["modules"] == facts["distinct"] >= 50, facts
    assert facts["processes"] <= 2 + 2 * facts["reruns"], facts  # a re-run: fresh + replacement
    assert env_snapshot(big_venv) == before


def _conda_python_package(name: str, body: bytes) -> PackageSpec:
    """A noarch-python conda package whose dist-info says INSTALLER conda (as conda's do)."""
    meta = f"{name}-1.0.dist-info"
    files = {
        f"{name}/__init__.py": body,
        f"{meta}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{meta}/INSTALLER": b"conda\n",
        f"{meta}/RECORD": f"{name}/__init__.py,,\n{meta}/RECORD,,\n".encode(),
    }
    return PackageSpec(
        name,
        "1.0",
        noarch_python=True,
        depends=("python >=3.8",),
        files=tuple(PackageFile(f"site-packages/{p}", d) for p, d in files.items()),
    )


def test_conda_packages_are_imported_once_and_judged_by_conda(
    tmp_path: Path, cache_dir: Path, py311: str
) -> None:
    site = "lib/python3.11/site-packages"
    channel = build_channel(
        tmp_path / "channel",
        (
            PackageSpec("python", "3.11.7", files=(PackageFile(f"{site}/.marker", b"m\n"),)),
            _conda_python_package("vetgood", b"ANSWER = 42\n"),
            _conda_python_package("vetbad", b"raise ImportError('broken on purpose')\n"),
        ),
    )
    prefix = make_venv(tmp_path / "env", py311)  # a real interpreter whose prefix is conda's
    create_prefix(prefix, channel, ["vetgood", "vetbad"], python_site=site)
    run = _imports(prefix / "bin/python", cache_dir)
    assert run.returncode == 1, run.stdout
    [bad] = run.findings
    assert (bad["distribution"], bad["version"], bad["installer"], bad["path"]) == (
        "vetbad",
        "1.0",
        "conda",
        "vetbad",
    )
    assert bad["message"] == (
        "import vetbad fails (error): 'ImportError: broken on purpose', "
        "raised at vetbad/__init__.py:1"
    )
    assert bad["hint"] == "conda install --force-reinstall vetbad=1.0"
    facts = run.report["environment"]["imports"]
    assert facts["modules"] == facts["distinct"]  # the dist-infos conda judges add no names
