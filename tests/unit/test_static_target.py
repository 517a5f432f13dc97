"""`verify_env.target.static`: the platform tags an image's libc allows, for any arch (the facts
read from a real image's files are held equal to the probe's in
tests/integration/test_root.py)."""

from __future__ import annotations

from verify_env.target.static import manylinux_platforms


def test_platforms_for_another_arch() -> None:
    assert manylinux_platforms("aarch64", (2, 19), None) == [
        "linux_aarch64",
        "manylinux_2_19_aarch64",
        "manylinux_2_18_aarch64",
        "manylinux_2_17_aarch64",
        "manylinux2014_aarch64",
    ]
    assert manylinux_platforms("x86_64", None, (1, 1)) == [
        "linux_x86_64",
        "musllinux_1_1_x86_64",
        "musllinux_1_0_x86_64",
    ]
