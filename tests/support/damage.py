"""The acceptance-style damaged numpy env: every common way an install breaks, at once.

Shared by the SARIF and report-schema tests, the docs' captured examples and
``bench/sarif_size.py`` so that they all talk about the same environment.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.support.envs import break_link, site_packages

__all__ = ["CP312_EXTENSION", "DELETED", "FLIPPED", "TRUNCATED", "damage_numpy_env"]

FLIPPED = "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"
TRUNCATED = "numpy/linalg/_umath_linalg.cpython-311-x86_64-linux-gnu.so"
DELETED = "numpy/fft/_pocketfft_umath.cpython-311-x86_64-linux-gnu.so"
CP312_EXTENSION = "numpy/_core/_simd.cpython-312-x86_64-linux-gnu.so"


def damage_numpy_env(env: Path, old_numpy_wheel: Path, cp312_numpy_wheel: Path) -> None:
    """In a private clone of the numpy 2.2.6 venv: a flipped byte in ``_multiarray_umath``, a
    truncated and a deleted extension module, a cp312 extension module unpacked beside the
    3.11 ones, and numpy 1.26.4's dist-info left over beside 2.2.6's."""
    site = site_packages(env)
    flipped = break_link(site / FLIPPED)
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))
    with open(break_link(site / TRUNCATED), "r+b") as fh:
        fh.truncate(4096)
    (site / DELETED).unlink()
    with zipfile.ZipFile(cp312_numpy_wheel) as zf:
        zf.extract(CP312_EXTENSION, site)
    with zipfile.ZipFile(old_numpy_wheel) as zf:
        for name in zf.namelist():
            if name.startswith("numpy-1.26.4.dist-info/"):
                zf.extract(name, site)
