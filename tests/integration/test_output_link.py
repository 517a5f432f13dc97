"""``-o`` through a symlink (issue 18, §13): the report is a new regular file, written
atomically with our own mode, in place of the link; the link's target is left alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.support.envs import run_cli


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("target", ["dev-null", "other-file"])
def test_output_through_a_symlink_replaces_the_link(
    bare_venv: Path, tmp_path: Path, target: str
) -> None:
    if target == "dev-null":
        pointed = Path("/dev/null")
    else:
        pointed = tmp_path / "precious"
        pointed.write_text("keep me\n")
        pointed.chmod(0o666)
    before = os.stat(pointed)
    out = tmp_path / "report.json"
    out.symlink_to(pointed)
    run = run_cli(
        "--python",
        str(bare_venv / "bin" / "python"),
        "--format",
        "json",
        "-o",
        str(out),
        cache_dir=tmp_path / "cache",
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    st = os.lstat(out)
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o666 & ~_umask()
    assert out.read_text().startswith('{"schema"') or '"schema"' in out.read_text()
    after = os.stat(pointed)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    if target == "other-file":
        assert pointed.read_text() == "keep me\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".verify-env-")] == []
