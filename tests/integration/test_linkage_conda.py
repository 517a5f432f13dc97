"""The linkage check in a conda prefix installed by rattler: a conda package's extension module
finds the BLAS another conda package ships in ``$PREFIX/lib`` through ``$ORIGIN``; deleting it
is a missing library that names the conda package that should provide it; the scope edge finds
the consumer of the changed library. An extension that needs a newer GLIBCXX than the
prefix's own ``lib/libstdc++.so.6`` (an older libstdcxx-ng) is a ``symbol-version`` finding.

The ``python`` package links the pyenv 3.11 interpreter into ``bin/`` with a ``pyvenv.cfg``, so
the prefix has a real interpreter whose ``sys.prefix`` is the prefix (a full CPython package
is not buildable offline); every other file is what rattler wrote, with its conda-meta record.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.conda_env import PackageFile, PackageSpec, build_channel, create_prefix
from tests.support.cxxneed import build_cxx_extension, build_older_libstdcxx, cxx_need
from tests.support.envs import CliRun, run_cli
from tests.support.linkwheels import (
    CONSUMER,
    FAKEBLAS,
    build_extension,
    build_library,
    patchelf,
    python_include,
)
from verify_env.inventory import build_inventory
from verify_env.loader.consumers import consumers_of
from verify_env.target.model import resolve_target

SITE = "lib/python3.11/site-packages"
CORE = f"{SITE}/fakeblas_ext/_core.cpython-311-x86_64-linux-gnu.so"
CXX = f"{SITE}/cxxpkg/_m.cpython-311-x86_64-linux-gnu.so"


def _python(interpreter: PackageFile, home: str, *more: PackageFile) -> PackageSpec:
    """conda's ``python`` package: the interpreter, ``bin/python``, a ``pyvenv.cfg`` naming the
    real one's home (so that a symlinked or copied interpreter finds its standard library)."""
    return PackageSpec(
        "python",
        "3.11.7",
        files=(
            interpreter,
            *more,
            PackageFile("bin/python", symlink_to="python3.11"),
            PackageFile(
                "pyvenv.cfg",
                f"home = {home}\ninclude-system-site-packages = false\nversion = 3.11.7\n".encode(),
            ),
            PackageFile(f"{SITE}/README.txt", b"site-packages marker\n"),
        ),
    )


def _older_libstdcxx_and_user(older: Path, ext: Path) -> tuple[PackageSpec, PackageSpec]:
    """``libstdcxx-ng`` holding the older copy, and ``cxxpkg`` whose extension needs more."""
    return (
        PackageSpec(
            "libstdcxx-ng",
            "9.3.0",
            files=(PackageFile("lib/libstdc++.so.6", older.read_bytes(), executable=True),),
        ),
        PackageSpec(
            "cxxpkg",
            "1.0",
            depends=("python", "libstdcxx-ng"),
            files=(
                PackageFile(f"{SITE}/cxxpkg/__init__.py", b"from . import _m\n"),
                PackageFile(CXX, ext.read_bytes(), executable=True),
            ),
        ),
    )


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory, py311: str) -> str:
    build = tmp_path_factory.mktemp("condabuild")
    lib = build_library(build / "libfakeblas.so.3", FAKEBLAS, "libfakeblas.so.3")
    ext = build_extension(
        build / "ext" / "_core.so",
        CONSUMER,
        "_core",
        python_include(py311),
        [str(lib), "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../../.."],
    )
    # cxxpkg was built with the system's g++ (needs its newest GLIBCXX); the prefix's
    # libstdcxx-ng is an older libstdc++.so.6, found first through $ORIGIN/../../.. as in conda
    need = cxx_need()
    older = build_older_libstdcxx(build / "older" / "libstdc++.so.6", need)
    cxx = build_cxx_extension(
        build / "cxx" / "_m.cpython-311-x86_64-linux-gnu.so",
        need,
        python_include(py311),
        ["-Wl,--enable-new-dtags,-rpath,$ORIGIN/../../.."],
    )
    home = str(Path(py311).parent)
    packages = (
        _python(
            PackageFile("bin/python3.11", symlink_to=py311),
            home,
            PackageFile("bin/python3", symlink_to="python3.11"),
        ),
        PackageSpec(
            "libfakeblas",
            "1.0",
            files=(PackageFile("lib/libfakeblas.so.3", lib.read_bytes(), executable=True),),
        ),
        PackageSpec(
            "fakeblas-ext",
            "1.0",
            depends=("python", "libfakeblas"),
            files=(
                PackageFile(f"{SITE}/fakeblas_ext/__init__.py", b"from . import _core\n"),
                PackageFile(CORE, ext.read_bytes(), executable=True),
            ),
        ),
        *_older_libstdcxx_and_user(older, cxx),
    )
    return build_channel(tmp_path_factory.mktemp("channel"), packages)


def _prefix(channel: str, tmp_path: Path) -> Path:
    prefix = tmp_path / "env"
    create_prefix(prefix, channel, ["fakeblas-ext"], python_site=SITE)
    return prefix


def _verify(prefix: Path, cache_dir: Path) -> CliRun:
    return run_cli(
        "--prefix", str(prefix), "--checks", "linkage", "--format", "json", cache_dir=cache_dir
    )


def test_conda_consumer_and_provider(channel: str, tmp_path: Path, cache_dir: Path) -> None:
    prefix = _prefix(channel, tmp_path)
    run = _verify(prefix, cache_dir)
    assert run.returncode == 0, run.stdout
    (entry,) = run.report["environment"]["blas"]
    assert entry["consumer"] == CORE and entry["distribution"] == "fakeblas-ext"
    assert entry["provider"] == str(prefix / "lib" / "libfakeblas.so.3")
    inventory = build_inventory(resolve_target(prefix=str(prefix)))
    assert consumers_of(inventory, [str(prefix / "lib" / "libfakeblas.so.3")]) == {"fakeblas-ext"}


def test_conda_provider_deleted(channel: str, tmp_path: Path, cache_dir: Path) -> None:
    prefix = _prefix(channel, tmp_path)
    (prefix / "lib" / "libfakeblas.so.3").unlink()
    run = _verify(prefix, cache_dir)
    assert run.returncode == 1
    missing = run.find("missing-library", CORE)
    assert missing["distribution"] == "fakeblas-ext" and missing["installer"] == "conda"
    assert "libfakeblas 1.0 should provide it" in missing["message"]
    assert "libfakeblas" in (missing["hint"] or "")
    assert run.find("blas-missing", CORE)["distribution"] == "fakeblas-ext"


def test_conda_libstdcxx_older_than_an_extension_needs(
    channel: str, tmp_path: Path, cache_dir: Path
) -> None:
    need = cxx_need()
    prefix = tmp_path / "env"
    create_prefix(prefix, channel, ["cxxpkg"], python_site=SITE)
    picked = prefix / "lib" / "libstdc++.so.6"
    imported = subprocess.run(
        [str(prefix / "bin/python"), "-c", "import cxxpkg"], capture_output=True, text=True
    )
    assert f"cxxpkg/../../../libstdc++.so.6: version `{need.newest}' not found" in imported.stderr
    run = _verify(prefix, cache_dir)
    assert run.returncode == 1
    assert run.codes() == {("linkage", "symbol-version", "cxxpkg")}, run.findings
    found = run.find("symbol-version", CXX)
    assert (found["path"], found["installer"]) == (CXX, "conda")
    msg = found["message"]
    assert f"needs version {need.newest} of libstdc++.so.6" in msg
    assert "loader picks lib/libstdc++.so.6 of libstdcxx-ng (runpath)" in msg, msg
    assert f"whose newest GLIBCXX_ version is {need.older}" in msg
    hint = found["hint"]
    assert "upgrade libstdcxx-ng to a build whose libstdc++.so.6 defines" in hint, hint
    assert "conda update libstdcxx-ng" in hint, hint
    assert "reinstall" not in hint and "cxxpkg==" not in hint and "cxxpkg=1.0" not in hint

    # control: the prefix's copy upgraded to one as new as the system's; the import works and
    # the same stat cache gives the new verdict
    picked.unlink()
    shutil.copyfile(need.library, picked)
    ok = subprocess.run(
        [str(prefix / "bin/python"), "-c", "import cxxpkg"], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    again = _verify(prefix, cache_dir)
    assert again.returncode == 0 and again.findings == [], again.findings


def test_conda_python_rpath_picks_the_older_libstdcxx(
    tmp_path: Path, cache_dir: Path, py311: str
) -> None:
    """conda's python carries DT_RPATH ``$ORIGIN/../lib``; an extension without a search path
    of its own then gets the prefix's libstdc++ through it (ld.so searches the executable's
    RPATH for every object that has no RUNPATH)."""
    need, build = cxx_need(), tmp_path / "build"
    older = build_older_libstdcxx(build / "older" / "libstdc++.so.6", need)
    ext = build_cxx_extension(
        build / "cxx" / "_m.cpython-311-x86_64-linux-gnu.so", need, python_include(py311), []
    )
    exe = build / "python3.11"
    shutil.copyfile(os.path.realpath(py311), exe)
    own = patchelf("--print-rpath", str(exe)).strip()  # where its libpython is
    patchelf("--force-rpath", "--set-rpath", f"$ORIGIN/../lib:{own}", str(exe))
    home = str(Path(py311).parent)
    channel = build_channel(
        tmp_path / "channel",
        (
            _python(PackageFile("bin/python3.11", exe.read_bytes(), executable=True), home),
            *_older_libstdcxx_and_user(older, ext),
        ),
    )
    prefix = tmp_path / "env"
    create_prefix(prefix, channel, ["cxxpkg"], python_site=SITE)
    imported = subprocess.run(
        [str(prefix / "bin/python"), "-c", "import cxxpkg"], capture_output=True, text=True
    )
    assert f"libstdc++.so.6: version `{need.newest}' not found" in imported.stderr
    assert f"{prefix}/bin/../lib/libstdc++.so.6" in imported.stderr, imported.stderr
    run = _verify(prefix, cache_dir)
    assert run.returncode == 1
    assert run.codes() == {("linkage", "symbol-version", "cxxpkg")}, run.findings
    msg = run.find("symbol-version", CXX)["message"]
    assert "loader picks lib/libstdc++.so.6 of libstdcxx-ng (rpath" in msg, msg
    assert f"whose newest GLIBCXX_ version is {need.older}" in msg
