"""record/file-conflict: one path recorded by two installed distributions (the
opencv-python + opencv-python-headless shape), built with real wheels installed by real pip."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from tests.support.envs import clone_env, run_cli
from tests.support.wheels import make_wheel


def _pip(venv: Path, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "-q", "--disable-pip-version-check", *args],
        check=True,
        env=env,
    )


def test_two_owners_of_one_file_uninstall_both_install_one(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    wheels = tmp_path / "wheels"
    init = "from cvx._impl import KIND\n"
    make_wheel(
        wheels,
        "cvx-full",
        "1.0",
        {"cvx/__init__.py": init, "cvx/_impl.py": "KIND = 'full'\n", "cvx/gui.py": "X = 1\n"},
    )
    make_wheel(
        wheels, "cvx-headless", "1.0", {"cvx/__init__.py": init, "cvx/_impl.py": "KIND = 'h'\n"}
    )
    # the legitimate sharing: a namespace package declared the old way, one __init__.py each
    # (zns-b's differs and is written last: zns-a's and zns-c's records no longer match it)
    ns = "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n"
    make_wheel(wheels, "zns-a", "1.0", {"zns/__init__.py": ns, "zns/a.py": "A = 1\n"})
    make_wheel(wheels, "zns-b", "2.0", {"zns/__init__.py": ns + "# b\n", "zns/b.py": "B = 1\n"})
    make_wheel(wheels, "zns-c", "1.0", {"zns/__init__.py": ns, "zns/c.py": "C = 1\n"})
    env = clone_env(bare_venv, tmp_path / "env")
    python = env / "bin" / "python"
    for names in (("cvx_full", "zns_a", "zns_c"), ("cvx_headless", "zns_b")):  # then over
        _pip(env, "install", "--no-index", *(str(next(wheels.glob(f"{n}-*.whl"))) for n in names))

    run = run_cli("--python", str(python), "--format", "json", cache_dir=cache_dir)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.codes() == {("record", "file-conflict", "cvx-headless")}, run.findings
    found = run.find("file-conflict")
    assert found["path"] == "cvx/__init__.py"
    assert "cvx-full 1.0 (pip) and cvx-headless 1.0 (pip)" in found["message"]
    assert "the bytes on disk are cvx-headless's" in found["message"]
    assert found["hint"] == (
        f"{python} -m pip uninstall -y cvx-headless cvx-full && "
        f"{python} -m pip install cvx-headless==1.0"
    )
    # cvx-full's rewritten _impl.py is the conflict, not damage: no reinstall is asked for
    assert not any(f["code"] == "hash-mismatch" for f in run.findings)
    plan = run_cli("--python", str(python), "--fix", "--dry-run", cache_dir=cache_dir)
    assert "not repaired: cvx-headless 1.0 [record/file-conflict]" in plan.stderr
    assert "--force-reinstall" not in plan.stdout + plan.stderr

    # the real error the conflict holds: uninstalling either breaks the other
    broken = clone_env(env, tmp_path / "broken")
    _pip(broken, "uninstall", "-y", "cvx-full")
    imported = subprocess.run(
        [str(broken / "bin" / "python"), "-c", "import cvx"], capture_output=True, text=True
    )
    assert "No module named 'cvx" in imported.stderr, imported.stderr

    # the hint, run as it is written, leaves a clean environment
    pip_env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}
    subprocess.run(found["hint"], shell=True, check=True, env=pip_env, capture_output=True)
    assert shlex.split(found["hint"])[0] == str(python)
    again = run_cli("--python", str(python), "--format", "json", cache_dir=cache_dir)
    assert again.returncode == 0, again.findings
    done = subprocess.run(
        [str(python), "-c", "import cvx; print(cvx.KIND)"], capture_output=True, text=True
    )
    assert done.stdout == "h\n", done.stderr
