"""`verify_env.target.discover`: the environments of an image, found by listing it (bounded,
never through a link)."""

from __future__ import annotations

import os
from pathlib import Path

from verify_env.loader.rootfs import RootFS
from verify_env.target.discover import discover


def _python(prefix: Path, cfg: bool) -> None:
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin/python").write_bytes(b"\x7fELF")
    if cfg:
        (prefix / "pyvenv.cfg").write_text("home = /usr/bin\n")
    else:
        (prefix / "conda-meta").mkdir()


def test_discovery(tmp_path: Path) -> None:
    root = tmp_path / "image"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/python3.12").write_bytes(b"\x7fELF")
    os.symlink("python3.12", root / "usr/bin/python3")  # not a pythonX.Y name: one interpreter
    (root / "usr/local/bin").mkdir(parents=True)
    os.symlink("/usr/bin/python3.12", root / "usr/local/bin/python3.12")  # the same file
    _python(root / "home/ann/proj/.venv", cfg=True)
    _python(root / "opt/conda", cfg=False)
    _python(root / "opt/conda/envs/ml", cfg=False)
    _python(root / "srv/a/b/c/d/e/venv", cfg=True)  # deeper than MAX_DEPTH
    (root / "app").mkdir()
    os.symlink("/", root / "app/loop")  # never followed
    (root / "venv").mkdir()
    (root / "venv/pyvenv.cfg").write_text("home = /usr/bin\n")  # no bin/python: not one
    found, cut = discover(RootFS(str(root)))
    assert found == [
        "/usr/bin/python3.12",
        "/opt/conda/bin/python",
        "/opt/conda/envs/ml/bin/python",
        "/home/ann/proj/.venv/bin/python",
    ]
    assert not cut
