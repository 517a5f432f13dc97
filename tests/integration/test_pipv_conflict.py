"""pipv and two owners of one file (the opencv-python + opencv-python-headless shape), with
real pip and real wheels: the install that makes the conflict is reported as ``file-conflict``
with its "uninstall both, install one" repair (no reinstall, which would only move the
conflict); the uninstall that later takes the shared files from the other distribution is
reported for the distribution it broke, though pip touched only the one it removed; and
``pipv repair`` mends that one."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.integration.test_pipv import pipv
from tests.support.envs import clone_env
from tests.support.wheels import make_wheel


def _python(env: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(env / "bin/python"), "-c", code], capture_output=True, text=True)


def test_pipv_reports_the_second_owner_then_the_bereaved(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    wheels = tmp_path / "wheels"
    init = "from cvx._impl import KIND\n"
    full = make_wheel(
        wheels,
        "cvx-full",
        "1.0",
        {"cvx/__init__.py": init, "cvx/_impl.py": "KIND = 'full'\n", "cvx/gui.py": "X = 1\n"},
    )
    headless = make_wheel(
        wheels, "cvx-headless", "1.0", {"cvx/__init__.py": init, "cvx/_impl.py": "KIND = 'h'\n"}
    )
    env = clone_env(bare_venv, tmp_path / "env")
    py = str(env / "bin/python")
    links = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return pipv("--python", py, *args, cache_dir=cache_dir, cwd=tmp_path, env=links)

    first = run("install", str(full))
    assert first.returncode == 0, first.stderr
    assert "verified 1 changed + 0 affected distributions: OK" in first.stderr

    second = run("install", str(headless))
    assert "Successfully installed cvx-headless-1.0" in second.stdout  # pip says nothing
    assert second.returncode == 1, second.stderr
    assert _python(env, "import cvx; print(cvx.KIND)").stdout == "h\n"  # latent for now
    err = second.stderr
    assert (
        "error: [record/file-conflict] 2 files are recorded by both cvx-full 1.0 (pip) and "
        "cvx-headless 1.0 (pip): cvx/__init__.py, cvx/_impl.py" in err
    ), err
    assert "Uninstalling either removes them from the other" in err
    hint = f"fix: {py} -m pip uninstall -y cvx-headless cvx-full && {py} -m pip install cvx-"
    assert hint + "headless==1.0\n" in err, err
    assert "--force-reinstall" not in err
    assert "pipv: verified 1 changed + 0 affected distributions: 1 error" in err

    plan = run("repair", "--dry-run")
    assert plan.returncode == 1, plan.stderr
    assert "not repaired: cvx-headless 1.0 [record/file-conflict]" in plan.stderr
    assert "--force-reinstall" not in plan.stderr + plan.stdout

    # the latent damage made real: uninstalling cvx-full takes the files cvx-headless needs;
    # pip touched only cvx-full, pipv names the distribution it broke
    gone = run("uninstall", "-y", "cvx-full")
    assert "Successfully uninstalled cvx-full-1.0" in gone.stdout
    assert "No module named 'cvx" in _python(env, "import cvx").stderr
    assert gone.returncode == 1, gone.stderr
    assert "cvx-headless 1.0 (pip)" in gone.stderr
    assert "error: [record/missing-file] cvx/__init__.py is missing" in gone.stderr
    assert "error: [record/missing-file] cvx/_impl.py is missing" in gone.stderr
    assert "pipv: verified 0 changed + 1 affected distributions: 2 errors" in gone.stderr

    # now a reinstall of cvx-headless is the repair, and pipv repair runs it
    mended = run("repair")
    assert mended.returncode == 0, mended.stderr
    assert f"{py} -P -m pip install --force-reinstall --no-deps cvx-headless==1.0" in (
        mended.stderr
    )
    assert "verified again: whole" in mended.stderr
    assert _python(env, "import cvx; print(cvx.KIND)").stdout == "h\n"
