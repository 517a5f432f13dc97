"""Two copies of a real KMP OpenMP runtime in one process (issue 17 row 2), vendored as
auditwheel vendors them: LLVM's ``libomp`` from the ``cmeel-libomp`` wheel, copied into each
distribution's ``.libs`` dir under a hashed name with its SONAME set to match (``patchelf``,
the test extra's); omp-real-b requires omp-real-a, so one process loads both. The env's own
python aborts with the runtime's ``OMP: Error #15``; verify-env names both copies, who brings
them and which modules load them. ``test_linkage_binding`` covers the same rule with gcc-built
stand-ins (and the GNU libgomp mixes that work); this is the real runtime's behaviour."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.envs import run_cli
from tests.support.linkwheels import (
    PLAIN_EXTENSION,
    build_extension,
    make_platform_wheel,
    patchelf,
    python_include,
)

SUFFIX = ".cpython-311-x86_64-linux-gnu.so"
LIBOMP = "cmeel-libomp==21.1.8"
"""LLVM's OpenMP runtime, built for manylinux_2_28 (2 MB; ``intel-openmp``'s is 50 MB)."""


def _libomp(wheel_dir: Path, dest: Path) -> Path:
    """The runtime's file from its wheel (downloaded once into the kept wheel dir)."""
    download = ["download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(wheel_dir)]
    subprocess.run([sys.executable, "-m", "pip", *download, LIBOMP], check=True)
    (wheel,) = wheel_dir.glob("cmeel_libomp-21.1.8-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        dest.write_bytes(zf.read("cmeel.prefix/lib/libomp.so"))
    return dest


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, py311: str, wheel_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("omp-real")
    real = _libomp(wheel_dir, root / "libomp.so")
    inc, wheels = python_include(py311), []
    for dist, tag, requires in (("omp_real_a", "1a1a1a1a", []), ("omp_real_b", "2b2b2b2b", ["a"])):
        name = f"libomp-{tag}.so"
        lib = root / "b" / f"{dist}.libs" / name
        lib.parent.mkdir(parents=True)
        shutil.copyfile(real, lib)
        patchelf("--set-soname", name, str(lib))
        source = PLAIN_EXTENSION.replace("EXTERN_DECLS", "int omp_get_max_threads(void);").replace(
            "CALL_EXPR", "omp_get_max_threads()"
        )
        link = [str(lib), f"-Wl,--enable-new-dtags,-rpath,$ORIGIN/../{dist}.libs"]
        ext = build_extension(root / "b" / dist / f"_m{SUFFIX}", source, "_m", inc, link)
        # each package starts its runtime at import (the first OpenMP call initialises it)
        init = "import omp_real_a\n" if requires else ""
        files: dict[str, Path | str] = {
            f"{dist}/__init__.py": init + "from . import _m\n_m.call()\n",
            f"{dist}/_m{SUFFIX}": ext,
            f"{dist}.libs/{name}": lib,
        }
        wheels.append(
            make_platform_wheel(
                root / "wheels",
                dist.replace("_", "-"),
                "1.0",
                files,
                ["omp-real-a"] if requires else [],
            )
        )
    venv = root / "venv"
    subprocess.run([py311, "-m", "venv", "--without-pip", str(venv)], check=True)
    install = ["install", "-q", "--disable-pip-version-check", "--no-index", "--no-deps"]
    subprocess.run(
        [py311, "-m", "pip", "--python", str(venv / "bin/python"), *install, *map(str, wheels)],
        check=True,
    )
    return venv


def _import(venv: Path, module: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin/python"), "-c", f"import {module}"], capture_output=True, text=True
    )


def test_two_real_libomp_copies_abort_and_are_found(venv: Path, cache_dir: Path) -> None:
    one = _import(venv, "omp_real_a")
    assert one.returncode == 0, one.stderr  # one runtime alone starts
    both = _import(venv, "omp_real_b")
    # the runtime names itself by its built-in name, whatever the file or SONAME is; it aborts
    assert (
        "OMP: Error #15: Initializing libomp.so, but found libomp.so already initialized"
        in both.stderr
    ), both.stderr
    assert both.returncode == -signal.SIGABRT, both.returncode

    run = run_cli(
        "--python",
        str(venv / "bin/python"),
        "--checks",
        "linkage",
        "--format",
        "json",
        cache_dir=cache_dir,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.codes() == {("linkage", "openmp-runtimes", "omp-real-b")}, run.findings
    found = run.find("openmp-runtimes")
    msg = found["message"]
    for part in (
        "LLVM OpenMP (libomp-1a1a1a1a)",
        "omp_real_a.libs/libomp-1a1a1a1a.so",
        "from omp-real-a",
        f"omp_real_a/_m{SUFFIX}",
        "LLVM OpenMP (libomp-2b2b2b2b)",
        "omp_real_b.libs/libomp-2b2b2b2b.so",
        "from omp-real-b",
        f"omp_real_b/_m{SUFFIX}",
        "OMP: Error #15",
    ):
        assert part in msg, (part, msg)
    hint = found["hint"]
    assert "omp-real-a" in hint and "omp-real-b" in hint and "reinstall" not in hint
