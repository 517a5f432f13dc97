"""An environment whose interpreter cannot run still gets a report (issue 17's
``base-interpreter-missing``, issue 19 §2): a venv made from a copy of a pyenv CPython, whose
standard library is then damaged (the probe dies with a SyntaxError), then whose base is deleted
(as a pyenv or Homebrew upgrade does). Exit 1 with the finding that says why, and the file
checks of the venv's own site-packages still run, from its files."""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path

from tests.integration.test_report_schema import validate
from tests.support.envs import run_cli
from tests.support.roots import numpy_wheel


def _base_copy(python: str, dest: Path) -> Path:
    """The interpreter, libpython and standard library of a pyenv build, hard-linked (the
    test suite, site-packages and config dirs left out): a Python that can be deleted."""
    src = Path(os.path.realpath(python)).parents[1]
    (dest / "bin").mkdir(parents=True)
    os.link(src / "bin/python3.11", dest / "bin/python3.11")
    (dest / "lib").mkdir()
    for lib in (src / "lib").glob("libpython3*.so*"):
        if lib.is_symlink():
            os.symlink(os.readlink(lib), dest / "lib" / lib.name)
        else:
            os.link(lib, dest / "lib" / lib.name)
    skip = {"test", "site-packages", "idlelib", "tkinter", "turtledemo"}
    shutil.copytree(
        src / "lib/python3.11",
        dest / "lib/python3.11",
        copy_function=os.link,
        ignore=lambda _, names: [n for n in names if n in skip or n.startswith("config-")],
    )
    (dest / "lib/python3.11/site-packages").mkdir()
    return dest / "bin/python3.11"


def _install(venv: Path, wheel: Path) -> None:
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.sources import WheelFile

    site = str(venv / "lib/python3.11/site-packages")
    scheme = {"purelib": site, "platlib": site, "headers": str(venv / "include"),
              "scripts": str(venv / "bin"), "data": str(venv)}  # fmt: skip
    dest = SchemeDictionaryDestination(scheme, str(venv / "bin/python"), "posix")
    with warnings.catch_warnings(), WheelFile.open(wheel) as source:
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's stray __pycache__
        install(source, dest, {"INSTALLER": b"pip\n"})


def test_an_interpreter_that_cannot_run(
    py311: str, tmp_path: Path, wheel_dir: Path, cache_dir: Path
) -> None:
    base = _base_copy(py311, tmp_path / "python")
    venv = tmp_path / "venv"
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(venv)], check=True)
    _install(venv, numpy_wheel(wheel_dir, "x86_64"))
    init = venv / "lib/python3.11/site-packages/numpy/__init__.py"
    init.write_bytes(init.read_bytes().replace(b"import", b"imp0rt", 1))
    python = str(venv / "bin/python")

    # a damaged standard library: the probe (which imports json) dies at start-up
    decoder = tmp_path / "python/lib/python3.11/json/decoder.py"
    decoder.unlink()  # a hard link to pyenv's own: replaced, never written through
    decoder.write_text("def (:\n")
    assert (
        "SyntaxError"
        in subprocess.run(
            [python, "-c", "import json"], capture_output=True, text=True, check=False
        ).stderr
    )
    run = run_cli("--python", python, "--format", "json", cache_dir=cache_dir)
    assert run.returncode == 1, run.stderr
    validate(run.report)
    fails = run.find("interpreter-fails")
    assert "SyntaxError" in fails["message"]
    assert run.find("hash-mismatch", "numpy/__init__.py")["distribution"] == "numpy"

    # the base interpreter deleted: `bin/python: No such file or directory`
    shutil.rmtree(tmp_path / "python")
    assert not os.path.exists(python)
    run = run_cli("--python", python, "--format", "json", cache_dir=cache_dir)
    assert run.returncode == 1, run.stderr
    validate(run.report)
    missing = run.find("base-interpreter-missing")
    assert missing["check"] == "paths" and missing["severity"] == "error"
    assert f"home = '{tmp_path / 'python/bin'}'" in missing["message"]
    assert missing["hint"].startswith("recreate the venv with an installed python3.11")
    assert run.find("hash-mismatch", "numpy/__init__.py")["distribution"] == "numpy"
    assert "interpreter-fails" not in {f["code"] for f in run.findings}
    by_prefix = run_cli("--prefix", str(venv), "--format", "json", cache_dir=cache_dir)
    assert by_prefix.returncode == 1
    assert by_prefix.find("base-interpreter-missing")["path"] == missing["path"]

    # a FIFO where the base interpreter was: no read may block on it
    (tmp_path / "python/bin").mkdir(parents=True)
    os.mkfifo(tmp_path / "python/bin/python3.11", 0o755)
    run = run_cli("--python", python, "--format", "json", cache_dir=cache_dir, timeout=60)
    assert run.returncode == 1, run.stderr
    validate(run.report)
    assert run.find("hash-mismatch", "numpy/__init__.py")["distribution"] == "numpy"
