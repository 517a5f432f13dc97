"""``verify-env --root DIR`` on real images (issue 21): Debian bookworm's own .debs unpacked for
x86_64 and for arm64 (which this machine cannot run), a venv in each with a real numpy wheel for
that architecture, verified without running anything of the image.

Each image is built once per session (the .debs and wheels kept in pytest's cache); a test
that damages one works on its own copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_report_schema import validate
from tests.support.envs import run_cli
from tests.support.roots import build_root, debs_for, install_wheel, make_venv_in_root, numpy_wheel
from verify_env.target.model import resolve_target, static_target

SITE = "opt/app/lib/python3.11/site-packages"
MARKER = "verify-env-ran-the-image"


def _image(tmp: Path, cache: Path, arch: str, wheel: Path) -> Path:
    root = build_root(tmp / f"root-{arch}", debs_for(arch, cache))
    make_venv_in_root(root)
    with warnings.catch_warnings():  # numpy's wheel holds a __pycache__ that installer skips
        warnings.simplefilter("ignore", RuntimeWarning)
        install_wheel(root, wheel)
    return root


def _debs(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(pytestconfig, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("debs"))
    return tmp_path_factory.mktemp("debs")


@pytest.fixture(scope="session")
def amd64_root(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config, wheel_dir: Path
) -> Path:
    wheel = numpy_wheel(wheel_dir, "x86_64")
    return _image(
        tmp_path_factory.mktemp("image"), _debs(pytestconfig, tmp_path_factory), "amd64", wheel
    )


@pytest.fixture(scope="session")
def arm64_root(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config, wheel_dir: Path
) -> Path:
    wheel = numpy_wheel(wheel_dir, "aarch64")
    return _image(
        tmp_path_factory.mktemp("image"), _debs(pytestconfig, tmp_path_factory), "arm64", wheel
    )


def _contents(root: Path) -> dict[str, Any]:
    """Every entry's type, mode, mtime and bytes (or link target): proof a run changed
    nothing."""
    out: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if os.path.islink(path):
                what: object = os.readlink(path)
            elif os.path.isfile(path):
                what = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            else:
                what = None
            out[path] = (st.st_mode, st.st_mtime_ns, st.st_ctime_ns, what)
    return out


def _errors(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (f["environment"], f["code"], f["distribution"], f["path"])
        for f in report["findings"]
        if f["severity"] == "error"
    ]


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_clean_image(arch: str, request: pytest.FixtureRequest, cache_dir: Path) -> None:
    """Every environment of a clean image found and whole, on either architecture."""
    root: Path = request.getfixturevalue(f"{arch}_root")
    run = run_cli("--root", str(root), "--format", "json", cache_dir=cache_dir)
    assert run.returncode == 0, run.stdout + run.stderr
    validate(run.report)
    assert _errors(run.report) == []
    machine = {"amd64": "x86_64", "arm64": "aarch64"}[arch]
    envs = {e["name"]: e for e in run.report["environments"]}
    assert list(envs) == ["/usr", "/opt/app"]  # the system interpreter, then the venv
    assert envs["/opt/app"]["python"] == "/opt/app/bin/python"
    assert envs["/usr"]["python"] == "/usr/bin/python3.11"
    for env in envs.values():
        assert env["platform"] == f"linux-{machine}"
        assert env["libc"] == "glibc 2.36"
        assert env["version"] == "3.11.2"
    # numpy in the venv; the stdlib's Debian packages judged by dpkg's md5sums
    assert envs["/opt/app"]["distributions"] == 3
    assert run.report["environment"]["root"] == os.path.realpath(root)


def test_the_files_say_what_the_interpreter_says(amd64_root: Path) -> None:
    """The image's Debian python3.11, described from its files, and this machine's (the same
    Debian release), asked through the probe: the same tags, suffixes, version, libc and
    site dirs."""
    native = "/usr/bin/python3.11"
    assert os.path.exists(native), "this machine kind ships Debian bookworm's python3.11"
    probe = resolve_target(python=native)
    static = static_target(str(amd64_root), native)
    assert static.tags == probe.tags
    assert static.extension_suffixes == probe.extension_suffixes
    assert static.version == probe.version
    assert (static.libc, static.libc_version, static.machine) == (
        probe.libc,
        probe.libc_version,
        probe.machine,
    )
    assert [static.shown(p) for p in static.site_packages] == list(probe.site_packages[:-1])
    assert static.markers == {**probe.markers, "platform_release": "", "platform_version": ""}


def test_damage_in_an_x86_64_image_is_found_inside_it(
    amd64_root: Path, tmp_path: Path, cache_dir: Path
) -> None:
    root = Path(shutil.copytree(amd64_root, tmp_path / "image", symlinks=True))
    site = root / SITE
    # a flipped byte, a deleted vendored OpenBLAS
    init = site / "numpy/__init__.py"
    data = bytearray(init.read_bytes())
    data[100] ^= 0x01
    init.write_bytes(bytes(data))
    (openblas,) = (site / "numpy.libs").glob("libscipy_openblas*")
    openblas.unlink()
    # a library this machine has, gone from the image: the image's loader cannot find it
    assert Path("/usr/lib/x86_64-linux-gnu/libstdc++.so.6").exists()
    for lib in (root / "usr/lib/x86_64-linux-gnu").glob("libstdc++.so.6*"):
        lib.unlink()
    # Debian's standard library, damaged: only dpkg's md5sums know it
    decoder = root / "usr/lib/python3.11/json/decoder.py"
    decoder.write_bytes(decoder.read_bytes().replace(b"JSONDecodeError", b"JSONDecodeErrox", 1))
    # a file moved and linked back absolutely: the image's /srv, which this machine lacks
    (root / "srv").mkdir()
    shutil.move(site / "numpy/version.py", root / "srv/version.py")
    os.symlink("/srv/version.py", site / "numpy/version.py")
    assert not Path("/srv/version.py").exists()
    # code that would run at every start-up of the image's python
    (site / "startup.pth").write_text(f"import os; open({str(tmp_path / MARKER)!r}, 'w')\n")
    (site / "sitecustomize.py").write_text(f"open({str(tmp_path / MARKER)!r}, 'w')\n")
    before = _contents(root)

    run = run_cli("--root", str(root), "--format", "json", cache_dir=cache_dir)
    assert run.returncode == 1, run.stderr
    validate(run.report)
    errors = _errors(run.report)
    assert ("/opt/app", "hash-mismatch", "numpy", "numpy/__init__.py") in errors
    assert ("/opt/app", "missing-file", "numpy", f"numpy.libs/{openblas.name}") in errors
    # the repair names the interpreter as it is inside the image, where it will be run
    hint = run.find("hash-mismatch", "numpy/__init__.py")["hint"]
    assert hint.startswith("/opt/app/bin/python") and str(root) not in hint, hint
    missing = {
        f["message"].split("'")[1] for f in run.report["findings"] if f["code"] == "missing-library"
    }
    assert missing == {openblas.name, "libstdc++.so.6"}
    linked = [f for f in run.findings if f["path"] == "numpy/version.py"]
    assert [(f["code"], f["severity"]) for f in linked] == [("record-malformed", "warning")]
    assert "outside the environment; not opened" in linked[0]["message"]
    stdlib = run.find("hash-mismatch", "json/decoder.py")
    assert stdlib["installer"] == "dpkg"
    assert stdlib["distribution"] == "libpython3.11-stdlib"
    assert stdlib["hint"] == "apt-get install --reinstall libpython3.11-stdlib"
    assert stdlib["environment"] == "/usr"  # the first environment built on it; once
    assert (
        sum(1 for e in errors if e[1:] == ("hash-mismatch", "libpython3.11-stdlib", stdlib["path"]))
        == 1
    )
    assert run.find("pth-executable", "startup.pth")["severity"] == "warning"
    assert not (tmp_path / MARKER).exists()  # nothing of the image ran
    assert _contents(root) == before


def test_x86_64_module_in_an_arm64_image(
    arm64_root: Path, amd64_root: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """An x86_64 build of a module in an arm64 image is judged against the image's arm64
    interpreter (not this x86_64 machine), with ``--python`` naming one environment in it."""
    root = Path(shutil.copytree(arm64_root, tmp_path / "image", symlinks=True))
    module = next((root / SITE / "numpy/_core").glob("_multiarray_umath.*.so"))
    shutil.copy(next((amd64_root / SITE / "numpy/_core").glob("_multiarray_umath.*.so")), module)
    run = run_cli(
        "--root", str(root), "--python", "/opt/app/bin/python", "--format", "json",
        cache_dir=cache_dir,
    )  # fmt: skip
    assert run.returncode == 1
    assert [e["name"] for e in run.report["environments"]] == ["/opt/app"]
    arch = run.find("elf-arch", module.name)
    assert "x86_64" in arch["message"] and "aarch64" in arch["message"]
    assert arch["environment"] == "/opt/app"


def test_checks_that_run_code_say_why_not(amd64_root: Path, cache_dir: Path) -> None:
    run = run_cli(
        "--root", str(amd64_root), "--checks", "record,imports", "--blas-probe",
        cache_dir=cache_dir,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "imports: cannot run in --root mode" in run.stderr
    assert "--blas-probe: cannot run in --root mode" in run.stderr
    assert "[record]" in run.stdout


def test_root_usage_errors(tmp_path: Path, amd64_root: Path) -> None:
    empty = run_cli("--root", str(tmp_path))
    assert empty.returncode == 2
    assert "no Python environment found" in empty.stderr
    fix = run_cli("--root", str(amd64_root), "--fix")
    assert fix.returncode == 2
    assert "--root takes --python PATH-IN-ROOT" in fix.stderr


def test_an_image_whose_python_cannot_start(
    amd64_root: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """Not a pass: an interpreter without its standard library, then a venv whose base
    interpreter is gone, each reported from the image's files."""
    root = Path(shutil.copytree(amd64_root, tmp_path / "image", symlinks=True))
    shutil.rmtree(root / "usr/lib/python3.11")
    run = run_cli("--root", str(root), "--format", "json", cache_dir=cache_dir)
    assert run.returncode == 1, run.stderr
    validate(run.report)
    fails = {f["environment"]: f for f in run.findings if f["code"] == "interpreter-fails"}
    assert set(fails) == {"/usr", "/opt/app"}
    assert "no standard library found under '/usr'" in fails["/usr"]["message"]

    (root / "usr/bin/python3.11").unlink()
    run = run_cli("--root", str(root), "--format", "json", cache_dir=cache_dir)
    assert run.returncode == 1, run.stderr
    assert [e["name"] for e in run.report["environments"]] == ["/opt/app"]
    missing = run.find("base-interpreter-missing")
    assert missing["environment"] == "/opt/app"
    assert "home = '/usr/bin' holds no python3.11" in missing["message"]
    assert not [f for f in run.findings if f["code"] in ("missing-file", "hash-mismatch")]
