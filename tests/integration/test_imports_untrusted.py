"""--checks imports runs package code, so (issue 18, §11): it says so on stderr, the code sees a
scrubbed environment (``VERIFY_ENV_IMPORT_ENV`` lets named variables through), and a module
that double-forks and calls ``setsid()`` does not outlive the run."""

from __future__ import annotations

import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.envs import clone_env, run_cli

TIMEOUT = 120.0


@pytest.fixture(scope="module")
def hostile_wheel(tmp_path_factory: pytest.TempPathFactory, bare_venv: Path) -> tuple[Path, Path]:
    """A real wheel (pip wheel, setuptools) whose module reports what it saw of the
    environment and leaves a daemon behind in a session of its own; and the dir it reports
    to."""
    project = tmp_path_factory.mktemp("vet-hostile")
    report = tmp_path_factory.mktemp("vet-report")
    (project / "pyproject.toml").write_text(
        textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=70.1"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "vet-hostile"
        version = "1.0"

        [tool.setuptools]
        packages = ["vet_hostile"]
        """)
    )
    (project / "vet_hostile").mkdir()
    (project / "vet_hostile" / "__init__.py").write_text(
        textwrap.dedent(f"""
        import os, time
        with open({str(report / "secret")!r}, "w") as fh:
            fh.write(repr(os.environ.get("VET_SECRET_TOKEN")))
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                with open({str(report / "daemon.pid")!r}, "w") as fh:
                    fh.write(str(os.getpid()))
                time.sleep(3600)
            os._exit(0)
        time.sleep(0.3)
        """)
    )
    out = tmp_path_factory.mktemp("vet-hostile-wheel")
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
    return next(out.glob("vet_hostile-1.0-*.whl")), report


def _alive(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        if state in ("Z", "X"):
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("passed", [False, True])
def test_imports_are_announced_scrubbed_and_leave_no_daemon(
    hostile_wheel: tuple[Path, Path], bare_venv: Path, tmp_path: Path, passed: bool
) -> None:
    wheel, report = hostile_wheel
    env = clone_env(bare_venv, tmp_path / "env")
    subprocess.run(
        [str(env / "bin/python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True,
    )
    environ = {"VET_SECRET_TOKEN": "hunter2"}
    if passed:
        environ["VERIFY_ENV_IMPORT_ENV"] = "VET_SECRET_TOKEN"
    run = run_cli(
        "--python",
        str(env / "bin/python"),
        "--checks",
        "imports",
        "--format",
        "json",
        cache_dir=tmp_path / "cache",
        env=environ,
        timeout=TIMEOUT,
    )
    assert run.returncode == 0, run.stdout
    assert "runs the environment's own code" in run.stderr
    assert "VERIFY_ENV_IMPORT_ENV" in run.stderr
    assert (report / "secret").read_text() == ("'hunter2'" if passed else "None")
    daemon = int((report / "daemon.pid").read_text())
    assert not _alive(daemon), f"pid {daemon} (setsid, double fork) outlived the run"
