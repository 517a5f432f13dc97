"""verify_env.checks.imports.names on a real install: directories of C/C++ headers are not
packages, even when top_level.txt lists them (pythran 0.11 lists ``pythran/pythonic``, a tree
of .hpp files) (issue 16 §5)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.envs import make_venv, site_packages
from tests.support.wheels import make_wheel
from verify_env.checks.imports.names import import_units
from verify_env.inventory.dist_info import scan_site_dir


def test_header_directories_are_not_imported(tmp_path: Path, py311: str) -> None:
    wheel = make_wheel(
        tmp_path / "wheels",
        "vet-hdr",
        "1.0",
        {
            "vet_hdr/__init__.py": "",
            "vet_hdr/pythonic/include/numpy/ndarray.hpp": "// C++\n",
            "vet_hdr/pythonic/types/list.hpp": "// C++\n",
            "vet_ns/part/__init__.py": "",  # a real namespace portion: still imported
            "vet_ns/headers/x.h": "/* C */\n",
            "vet_hdr-1.0.dist-info/top_level.txt": "vet_hdr\nvet_hdr/pythonic\nvet_ns\n",
        },
    )
    venv = make_venv(tmp_path / "venv", py311)
    subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True,
    )
    site = str(site_packages(venv))
    dists = [d for d in scan_site_dir(site) if d.name == "vet-hdr"]
    units = import_units(dists, [site], [".cpython-311-x86_64-linux-gnu.so", ".abi3.so", ".so"])
    modules = sorted(m for u in units for m in u.modules)
    assert modules == ["vet_hdr", "vet_ns.part"], modules
