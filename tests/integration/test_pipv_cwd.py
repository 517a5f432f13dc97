"""pipv and the fixers run pip (and conda) as plain ``pip`` does: a ``pip/`` folder or
``pip.py`` in the working directory never runs (issue 18, §10)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_pipv import pip, pipv
from tests.support.envs import break_link, site_packages
from verify_env.target.interpreter import module_command


def _hostile_cwd(where: Path, marker: Path, shape: str) -> Path:
    where.mkdir()
    code = f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit(42)\n"
    if shape == "package":
        (where / "pip").mkdir()
        (where / "pip" / "__init__.py").write_text(code)
        (where / "pip" / "__main__.py").write_text(code)
    else:
        (where / "pip.py").write_text(code)
    return where


@pytest.mark.parametrize("shape", ["package", "module"])
@pytest.mark.parametrize("args", [("--version",), ("list",)], ids=["version", "list"])
def test_pass_through_ignores_a_pip_in_the_working_directory(
    bare_venv: Path, tmp_path: Path, cache_dir: Path, shape: str, args: tuple[str, ...]
) -> None:
    marker = tmp_path / "MARKER"
    cwd = _hostile_cwd(tmp_path / "cwd", marker, shape)
    ours = pipv("--python", str(bare_venv / "bin/python"), *args, cache_dir=cache_dir, cwd=cwd)
    assert not marker.exists()
    theirs = pip(bare_venv, *args)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)


def test_repair_ignores_a_pip_in_the_working_directory(
    numpy_env: Path, tmp_path: Path, cache_dir: Path
) -> None:
    target = next((site_packages(numpy_env) / "numpy" / "_core").glob("_multiarray_umath*.so"))
    break_link(target)
    with open(target, "r+b") as fh:
        fh.seek(4096)
        byte = fh.read(1)
        fh.seek(4096)
        fh.write(bytes([byte[0] ^ 0xFF]))
    marker = tmp_path / "MARKER"
    cwd = _hostile_cwd(tmp_path / "cwd", marker, "package")
    fixed = pipv("--python", str(numpy_env / "bin/python"), "repair", cache_dir=cache_dir, cwd=cwd)
    assert not marker.exists()
    assert fixed.returncode == 0, fixed.stderr
    assert "plan: -m pip install --force-reinstall --no-deps numpy==2.2.6" in fixed.stderr


def test_module_command_runs_the_installed_module_not_the_local_one(tmp_path: Path) -> None:
    """The launcher the conda fixer uses too (``conda`` there; ``json.tool`` here)."""
    marker = tmp_path / "MARKER"
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "__init__.py").write_text(f"open({str(marker)!r}, 'w')\n")
    data = tmp_path / "data.json"
    data.write_text('{"b": 1}')
    proc = subprocess.run(
        module_command(sys.executable, "json.tool", ["--sort-keys", str(data)]),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert not marker.exists()
    assert (proc.returncode, proc.stdout) == (0, '{\n    "b": 1\n}\n')
