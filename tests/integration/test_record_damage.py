"""A real numpy venv, damaged the ways installs really break, verified by the real CLI."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from tests.support.envs import CliRun, break_link, run_cli, site_packages

UMATH = "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"


def _verify(env: Path, cache_dir: Path, *extra: str) -> CliRun:
    return run_cli(
        "--python", str(env / "bin" / "python"), "--format", "json", *extra, cache_dir=cache_dir
    )


def test_clean_numpy_env_passes(numpy_env: Path, cache_dir: Path) -> None:
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 0, run.stdout
    assert run.codes(None) == set()
    assert run.report["summary"]["distributions"] >= 2  # numpy and pip


def test_flipped_byte_is_hash_mismatch(numpy_env: Path, cache_dir: Path) -> None:
    target = break_link(site_packages(numpy_env) / UMATH)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    f = run.find("hash-mismatch", UMATH)
    assert (f["check"], f["distribution"], f["severity"], f["installer"]) == (
        "record",
        "numpy",
        "error",
        "pip",
    )
    assert f["path"] == UMATH
    py = numpy_env / "bin/python"  # the target's interpreter: not whichever pip is on PATH
    assert f["hint"] == f"{py} -m pip install --force-reinstall --no-deps numpy=={f['version']}"
    assert run.codes() == {("record", "hash-mismatch", "numpy")}


def test_truncated_extension_is_size_mismatch(numpy_env: Path, cache_dir: Path) -> None:
    target = break_link(site_packages(numpy_env) / UMATH)
    with open(target, "r+b") as fh:
        fh.truncate(4096)
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    f = run.find("size-mismatch", UMATH)
    assert f["distribution"] == "numpy" and "truncated" in f["message"]


def test_deleted_extension_is_missing_file(numpy_env: Path, cache_dir: Path) -> None:
    (site_packages(numpy_env) / UMATH).unlink()
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    assert run.find("missing-file", UMATH)["distribution"] == "numpy"


def test_leftover_dist_info_of_older_numpy(
    numpy_env: Path, cache_dir: Path, old_numpy_wheel: Path
) -> None:
    site = site_packages(numpy_env)
    with zipfile.ZipFile(old_numpy_wheel) as zf:
        for name in zf.namelist():
            if name.startswith("numpy-1.26.4.dist-info/"):
                zf.extract(name, site)
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    f = run.find("duplicate-distribution")
    assert f["distribution"] == "numpy" and "numpy-1.26.4.dist-info" in f["message"]
    # the stale record's ~600 files, rewritten or removed by 2.2.6, are counted in that one
    # finding rather than listed: it names the cause, they would only drown it
    assert "numpy 1.26.4's record no longer describes what is installed" in f["message"]
    assert run.findings == [f], [(x["code"], x["path"]) for x in run.findings][:10]


def test_leftover_dist_info_does_not_hide_damage_to_the_live_install(
    numpy_env: Path, cache_dir: Path, old_numpy_wheel: Path
) -> None:
    site = site_packages(numpy_env)
    with zipfile.ZipFile(old_numpy_wheel) as zf:
        for name in zf.namelist():
            if name.startswith("numpy-1.26.4.dist-info/"):
                zf.extract(name, site)
    target = break_link(site / UMATH)  # recorded by 2.2.6 (the live one) only
    with open(target, "r+b") as fh:
        fh.seek(5000)
        byte = fh.read(1)
        fh.seek(5000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    init = break_link(site / "numpy/__init__.py")  # recorded by both
    init.write_bytes(init.read_bytes() + b"# changed\n")
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    assert run.find("hash-mismatch", UMATH)["version"] == "2.2.6"
    assert {
        (x["version"], x["code"]) for x in run.findings if x["path"] == "numpy/__init__.py"
    } >= {("2.2.6", "size-mismatch")}


def test_stale_extension_from_older_numpy(
    numpy_env: Path, cache_dir: Path, old_numpy_wheel: Path
) -> None:
    site = site_packages(numpy_env)
    stale = "numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"
    with zipfile.ZipFile(old_numpy_wheel) as zf:
        zf.extract(stale, site)
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    f = run.find("unrecorded-extension", stale)
    assert (f["distribution"], f["severity"]) == ("numpy", "error")


def test_stale_extension_for_another_python_is_only_a_warning(
    numpy_env: Path, cache_dir: Path
) -> None:
    site = site_packages(numpy_env)
    shutil.copy(site / UMATH, site / "numpy/_core/_old.cpython-310-x86_64-linux-gnu.so")
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 0
    f = run.find("unrecorded-extension", "_old.cpython-310-x86_64-linux-gnu.so")
    assert f["severity"] == "warning"
    assert _verify(numpy_env, cache_dir, "--strict").returncode == 1


def test_garbage_record_is_malformed_not_a_crash(numpy_env: Path, cache_dir: Path) -> None:
    record = next(site_packages(numpy_env).glob("numpy-*.dist-info")) / "RECORD"
    record.unlink()  # a hard link: replace, never write through
    record.write_bytes(
        b'\x00\xff garbage,,,\nnot a row\n"unterminated,sha256=zz,12\n'
        b"numpy/__init__.py,md5=abc,notasize\n"
    )
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    codes = {f["code"] for f in run.findings if f["distribution"] == "numpy"}
    assert "record-malformed" in codes
    f = run.find("record-malformed")
    assert f["path"].endswith("RECORD") and "RECORD line" in f["message"]


def test_missing_record_of_a_pip_install(numpy_env: Path, cache_dir: Path) -> None:
    (next(site_packages(numpy_env).glob("numpy-*.dist-info")) / "RECORD").unlink()
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    f = run.find("record-missing")
    assert (f["distribution"], f["severity"]) == ("numpy", "error")
