"""`verify_env.loader.rootfs`: an image's links resolved as a chroot would, never out of it."""

from __future__ import annotations

import os
from pathlib import Path

from verify_env.loader.rootfs import RootFS


def test_links_resolve_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "image"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/python3.11").write_bytes(b"\x7fELF")
    (root / "opt/app/bin").mkdir(parents=True)
    os.symlink("/usr/bin/python3.11", root / "opt/app/bin/python3")  # absolute: the image's
    os.symlink("python3", root / "opt/app/bin/python")
    os.symlink("../../../../../../../../etc/passwd", root / "opt/up")  # climbs out: clamped
    os.symlink("/", root / "opt/top")
    os.symlink("loop", root / "opt/loop")
    fs = RootFS(str(root))
    real = os.path.realpath(root)
    assert fs.resolve("/opt/app/bin/python") == f"{real}/usr/bin/python3.11"
    assert fs.resolve(f"{real}/opt/app/bin/python") == f"{real}/usr/bin/python3.11"
    assert fs.resolve("/opt/up") == f"{real}/etc/passwd"
    assert fs.resolve("/opt/top/../../..") == real
    assert fs.resolve("/opt/top/usr/bin") == f"{real}/usr/bin"
    assert fs.resolve("/opt/loop").startswith(real + "/")
    assert fs.host("/../../etc") == f"{real}/etc"
    assert fs.inner(f"{real}/usr/bin") == "/usr/bin"
    assert fs.inner(real) == "/"
