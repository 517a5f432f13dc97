"""paths/shadowed-module for a user-site copy: numpy 1.26.4 in ~/.local over numpy 2.2.6 in a
Python that is not a venv (a real CPython install laid out beside the pyenv one), with a
temporary HOME."""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

from tests.support.envs import run_cli, site_packages


def _install(wheel: Path, python: Path, purelib: Path, base: Path) -> None:
    """Unpack ``wheel`` into ``purelib`` as ``pip install --user`` would (installer, no pip)."""
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.sources import WheelFile

    paths = {
        "purelib": str(purelib),
        "platlib": str(purelib),
        "headers": str(base / "include"),
        "scripts": str(base / "bin"),
        "data": str(base),
    }
    destination = SchemeDictionaryDestination(paths, interpreter=str(python), script_kind="posix")
    with warnings.catch_warnings(), WheelFile.open(wheel) as source:
        # numpy 1.26.4's wheel ships a .pyc that installer declines to write, with a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        install(source, destination, {"INSTALLER": b"pip"})


def test_user_site_copy_shadows_the_environments(
    py311: str, numpy_venv: Path, old_numpy_wheel: Path, tmp_path: Path, cache_dir: Path
) -> None:
    # a CPython install that is not a venv: its own prefix, the stdlib linked in
    real = Path(py311).resolve()
    prefix = tmp_path / "python"
    stdlib = real.parents[1] / "lib" / "python3.11"
    lib = prefix / "lib" / "python3.11"
    (prefix / "bin").mkdir(parents=True)
    lib.mkdir(parents=True)
    python = prefix / "bin" / "python3.11"
    subprocess.run(["cp", str(real), str(python)], check=True)
    for entry in stdlib.iterdir():
        if entry.name != "site-packages":
            (lib / entry.name).symlink_to(entry)
    site = lib / "site-packages"
    site.mkdir()
    source = site_packages(numpy_venv)
    for name in ("numpy", "numpy-2.2.6.dist-info", "numpy.libs"):
        subprocess.run(["cp", "-al", str(source / name), str(site / name)], check=True)
    for script in ("f2py", "numpy-config"):
        subprocess.run(["cp", "-a", str(numpy_venv / "bin" / script), str(prefix / "bin")])
    home = tmp_path / "home"
    user_site = home / ".local" / "lib" / "python3.11" / "site-packages"
    _install(old_numpy_wheel, python, user_site, home / ".local")
    env = {"HOME": str(home)}

    imported = subprocess.run(
        [str(python), "-c", "import numpy; print(numpy.__version__); import numpy.lib.array_utils"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert imported.stdout == "1.26.4\n"
    assert "No module named 'numpy.lib.array_utils'" in imported.stderr

    run = run_cli("--python", str(python), "--format", "json", cache_dir=cache_dir, env=env)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.codes() == {("paths", "shadowed-module", "numpy")}, run.findings
    found = run.find("shadowed-module")
    assert found["version"] == "1.26.4" and found["path"] == str(user_site / "numpy")
    assert (
        f"numpy 1.26.4 in the user site ({user_site}) shadows the environment's numpy 2.2.6 "
        f"({site}): 'import numpy' gets the user site's 1.26.4" in found["message"]
    )
    assert found["hint"].startswith(
        f"remove the user-site copy: {python} -m pip uninstall -y numpy"
    )
    assert "incomplete" not in run.stdout

    # the user site off as site.py turns it off: no shadow, nothing to say
    off = run_cli(
        "--python", str(python), cache_dir=cache_dir, env={**env, "PYTHONNOUSERSITE": "1"}
    )
    assert off.returncode == 0, off.stdout
