"""record/permission-denied and record/owner-only-permissions: a root install under umask 077,
run by a second, real user (made with useradd for the test) and by root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import verify_env
from tests.support.envs import install_with_installer, run_cli
from tests.support.wheels import make_wheel

RUNNER = """import runpy, sys
sys.path[:0] = sys.argv[1].split(":")
sys.argv = ["verify-env", *sys.argv[2:]]
runpy.run_module("verify_env", run_name="__main__")
"""


@pytest.fixture
def second_user() -> Iterator[str]:
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("needs root and useradd to make a second user")
    name = f"vetest{os.getpid() % 100000}"
    made = subprocess.run(["useradd", "-M", "-s", "/bin/sh", name], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"useradd failed: {made.stderr.decode(errors='replace').strip()}")
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def _as(user: str, *argv: str, cwd: str = "/") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", user, "--", *argv], capture_output=True, text=True, cwd=cwd
    )


def _shared_python(user: str) -> str:
    """A python3 of this version on PATH that ``user`` may run (pyenv's live in root's
    home, which other users cannot enter)."""
    want = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for directory in os.get_exec_path():
        found = shutil.which(f"python{want}", path=directory)
        if found and _as(user, found, "-c", "pass").returncode == 0:
            return found
    pytest.skip(f"no python{want} on PATH that a second user may run")


def _report(proc: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert "Traceback" not in proc.stderr, proc.stderr
    findings: list[dict[str, Any]] = json.loads(proc.stdout)["findings"]
    return findings


def test_umask_077_install_read_by_another_user(second_user: str) -> None:
    python3 = _shared_python(second_user)
    base = Path(tempfile.mkdtemp(prefix="ve-perm-"))  # pytest's tmp_path is root's only
    try:
        base.chmod(0o755)
        wheel = make_wheel(
            base / "wheels",
            "cvx-full",
            "1.0",
            {"cvx/__init__.py": "from cvx._impl import KIND\n", "cvx/_impl.py": "KIND = 1\n"},
        )
        env = base / "env"
        subprocess.run([python3, "-m", "venv", "--without-pip", str(env)], check=True)
        python = str(env / "bin" / "python")
        old_umask = os.umask(0o077)  # root installs under umask 077
        try:
            install_with_installer(wheel, env)
        finally:
            os.umask(old_umask)
        (base / "run.py").write_text(RUNNER)
        (base / "run.py").chmod(0o644)
        import packaging

        path = f"{Path(verify_env.__file__).parents[1]}:{Path(packaging.__file__).parents[1]}"
        user_cli = [python3, "-I", str(base / "run.py"), path, "--python", python, "--no-cache"]

        imported = _as(second_user, python, "-c", "import cvx; print(cvx.__file__); cvx.KIND")
        assert imported.stdout == "None\n"  # an empty namespace package
        assert "module 'cvx' has no attribute 'KIND'" in imported.stderr

        denied = _as(second_user, *user_cli, "--format", "json")
        assert denied.returncode == 1, denied.stdout + denied.stderr
        (found,) = _report(denied)
        assert (found["code"], found["distribution"]) == ("permission-denied", "cvx-full")
        assert found["path"] == "cvx_full-1.0.dist-info"
        assert found["hint"] == f"as the environment's owner: chmod -R a+rX {env}"

        as_root = run_cli("--python", python, "--format", "json", "--no-cache")
        assert as_root.returncode == 0, as_root.stdout
        assert as_root.codes(None) == {("record", "owner-only-permissions", "cvx-full")}
        warning = as_root.find("owner-only-permissions")
        assert warning["severity"] == "warning" and "(mode 0700)" in warning["message"]
        assert "cvx, cvx_full-1.0.dist-info of cvx-full 1.0" in warning["message"]
        assert warning["hint"] == found["hint"]

        # metadata readable, the package not: each file refused, one finding
        for meta in (env / "lib").glob("python3*/site-packages/cvx_full-1.0.dist-info"):
            subprocess.run(["chmod", "-R", "a+rX", str(meta)], check=True)
        files = _report(_as(second_user, *user_cli, "--format", "json"))
        assert [(f["code"], f["path"]) for f in files] == [("permission-denied", "cvx/__init__.py")]
        assert (
            f"2 recorded files of cvx-full 1.0 cannot be read by user '{second_user}'"
            in (files[0]["message"])
        )

        # the hint, as written, mends it for everyone
        subprocess.run(found["hint"].split(": ", 1)[1], shell=True, check=True)
        assert _as(second_user, python, "-c", "import cvx; print(cvx.KIND)").stdout == "1\n"
        assert _as(second_user, *user_cli).returncode == 0
    finally:
        shutil.rmtree(base, ignore_errors=True)
