"""The comparer script (`verify_env.checks.pyc_compare`) as the bytecode check runs it: its
request on stdin as NUL-separated fields, run by real interpreters with ``-I -S -B``."""

from __future__ import annotations

import os
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.envs import pyenv_python
from verify_env.checks import pyc_compare

SCRIPT = pyc_compare.__file__


def _compare(python: str, items: list[tuple[str, str, int, bool]]) -> list[str]:
    request = pyc_compare.request(True, items)
    ran = subprocess.run(
        [python, "-I", "-S", "-B", SCRIPT], input=request, capture_output=True, check=True
    )
    return ran.stdout.decode().splitlines()


def test_paths_no_text_format_could_carry(tmp_path: Path) -> None:
    """A directory name with a tab, a newline and a byte that is not UTF-8 reaches the
    comparer intact: the genuine file is the same, a forged one differs."""
    weird = os.fsdecode(os.path.join(os.fsencode(str(tmp_path)), b"a\tb\nc\xff"))
    os.mkdir(weird)
    source = os.path.join(weird, "mod.py")
    Path(source).write_text("VALUE = 1\n")
    genuine = os.path.join(weird, "genuine.pyc")
    py_compile.compile(source, cfile=genuine, doraise=True)
    other = tmp_path / "other.py"
    other.write_text("VALUE = 2\n")
    forged = os.path.join(weird, "forged.pyc")
    py_compile.compile(str(other), cfile=forged, doraise=True)
    with open(forged, "r+b") as fh:  # stamped with the real source's mtime and size
        fh.seek(8)
        with open(genuine, "rb") as real:
            fh.write(real.read(16)[8:16])
    lines = _compare(sys.executable, [(source, genuine, 0, True), (source, forged, 0, True)])
    assert lines == ["0\tsame\ttimestamp", "1\tdiffers\ttimestamp"]


@pytest.mark.parametrize("minor", [8, 13])
def test_source_hash_is_importlibs(minor: int) -> None:
    """`pyc_compare.source_hash` (computed without importing importlib.util) is the hash a
    PEP 552 header carries, on the oldest and newest interpreter the comparer runs under."""
    python = pyenv_python(minor)
    code = (
        f"import sys; sys.path.insert(0, {os.path.dirname(SCRIPT)!r}); "
        "import importlib.util, pyc_compare as p; data = b'x = 1\\n'; "
        "print(p.source_hash(data) == importlib.util.source_hash(data), "
        "p.MAGIC_NUMBER == importlib.util.MAGIC_NUMBER)"
    )
    ran = subprocess.run([python, "-I", "-S", "-c", code], capture_output=True, text=True)
    assert ran.stdout.split() == ["True", "True"], ran.stderr
