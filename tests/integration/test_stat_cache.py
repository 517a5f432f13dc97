"""The stat cache through the real CLI: a warm run hashes nothing, a rewritten file is caught
even when its mtime is put back, and a broken or unwritable cache costs one warning, never the
verdict."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.envs import CliRun, break_link, run_cli, site_packages

UMATH = "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"


def _verify(
    env: Path, cache_dir: Path, *extra: str, environ: dict[str, str] | None = None
) -> CliRun:
    return run_cli(
        "--python",
        str(env / "bin" / "python"),
        "--format",
        "json",
        *extra,
        cache_dir=cache_dir,
        env=environ,
        timeout=120,
    )


def _bytes_hashed(run: CliRun) -> int:
    value = run.report["summary"]["bytes_hashed"]
    assert isinstance(value, int)
    return value


def _flip_in_place(path: Path) -> None:
    """One byte changed through the same inode: size kept, only mtime/ctime move."""
    with open(path, "r+b") as fh:
        fh.seek(os.path.getsize(path) // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0x01]))


def test_second_run_on_unchanged_env_hashes_nothing(numpy_env: Path, cache_dir: Path) -> None:
    first = _verify(numpy_env, cache_dir)
    assert first.returncode == 0, first.stdout
    assert _bytes_hashed(first) > 0
    assert list((cache_dir / "stat-cache").iterdir()), "the first run wrote no cache file"
    second = _verify(numpy_env, cache_dir)
    assert second.returncode == 0, second.stdout
    assert _bytes_hashed(second) == 0
    assert second.report["summary"]["files"] == first.report["summary"]["files"]
    assert second.findings == []
    assert second.stderr == ""


def test_rewrite_with_mtime_restored_by_utime_is_still_caught(
    numpy_env: Path, cache_dir: Path
) -> None:
    target = break_link(site_packages(numpy_env) / UMATH)
    warm = _verify(numpy_env, cache_dir)
    assert warm.returncode == 0, warm.stdout
    before = target.stat()
    _flip_in_place(target)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # what `touch -r` does
    after = target.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    assert after.st_ctime_ns != before.st_ctime_ns
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1, run.stdout
    f = run.find("hash-mismatch", UMATH)
    assert (f["distribution"], f["severity"]) == ("numpy", "error")
    assert _bytes_hashed(run) == before.st_size  # only the changed file was read again


def test_rewrite_with_mtime_restored_by_touch_r_is_still_caught(
    numpy_env: Path, cache_dir: Path, tmp_path: Path
) -> None:
    target = break_link(site_packages(numpy_env) / UMATH)
    reference = tmp_path / "reference.so"
    shutil.copy2(target, reference)  # same atime/mtime as the original
    warm = _verify(numpy_env, cache_dir)
    assert warm.returncode == 0, warm.stdout
    before = target.stat()
    _flip_in_place(target)
    subprocess.run(["touch", "-r", str(reference), str(target)], check=True)
    assert target.stat().st_mtime_ns == before.st_mtime_ns
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1, run.stdout
    assert run.find("hash-mismatch", UMATH)["severity"] == "error"
    assert run.codes() == {("record", "hash-mismatch", "numpy")}


def test_no_cache_flag_rehashes_and_creates_no_cache_dir(numpy_env: Path, cache_dir: Path) -> None:
    assert not cache_dir.exists()
    first = _verify(numpy_env, cache_dir, "--no-cache")
    second = _verify(numpy_env, cache_dir, "--no-cache")
    assert (first.returncode, second.returncode) == (0, 0)
    assert _bytes_hashed(first) > 0
    assert _bytes_hashed(second) == _bytes_hashed(first)
    assert not cache_dir.exists()


def test_no_cache_env_twin_rehashes_and_creates_no_cache_dir(
    numpy_env: Path, cache_dir: Path
) -> None:
    environ = {"VERIFY_ENV_NO_CACHE": "1"}
    first = _verify(numpy_env, cache_dir, environ=environ)
    second = _verify(numpy_env, cache_dir, environ=environ)
    assert (first.returncode, second.returncode) == (0, 0)
    assert _bytes_hashed(second) == _bytes_hashed(first) > 0
    assert not cache_dir.exists()


def test_no_cache_ignores_a_warm_cache(numpy_env: Path, cache_dir: Path) -> None:
    warm = _verify(numpy_env, cache_dir)
    assert warm.returncode == 0 and _bytes_hashed(warm) > 0
    cache_files = {p: p.read_bytes() for p in (cache_dir / "stat-cache").iterdir()}
    run = _verify(numpy_env, cache_dir, "--no-cache")
    assert run.returncode == 0
    assert _bytes_hashed(run) == _bytes_hashed(warm)
    assert {p: p.read_bytes() for p in (cache_dir / "stat-cache").iterdir()} == cache_files


def test_corrupt_cache_costs_one_warning_and_a_full_hash(numpy_env: Path, cache_dir: Path) -> None:
    first = _verify(numpy_env, cache_dir)
    assert first.returncode == 0
    files = [p for p in (cache_dir / "stat-cache").rglob("*") if p.is_file()]
    assert files
    for n, path in enumerate(files):
        path.write_bytes(b"\x00garbage\xff" * (n + 7))
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert "stat cache" in lines[0]
    assert run.findings == []
    assert _bytes_hashed(run) == _bytes_hashed(first)
    again = _verify(numpy_env, cache_dir)  # the damaged file was replaced by a good one
    assert (again.returncode, again.stderr, _bytes_hashed(again)) == (0, "", 0)


def test_truncated_cache_still_finds_damage(numpy_env: Path, cache_dir: Path) -> None:
    first = _verify(numpy_env, cache_dir)
    assert first.returncode == 0
    for path in (cache_dir / "stat-cache").iterdir():
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    target = break_link(site_packages(numpy_env) / UMATH)
    _flip_in_place(target)
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    assert run.codes() == {("record", "hash-mismatch", "numpy")}
    assert len(run.stderr.splitlines()) == 1 and "stat cache" in run.stderr


def test_cache_dir_that_cannot_be_created_is_a_warning(numpy_env: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    run = _verify(numpy_env, blocker / "cache")
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert "stat cache" in lines[0]
    assert run.findings == []
    assert _bytes_hashed(run) > 0
    assert blocker.read_text() == "not a directory\n"


# Besides digests, the cache keeps other facts that cost a read (an ELF header, a directory's
# listing, a RECORD's rows). Each must fall to the same rule as a digest: a change through the
# same inode, with the mtime put back, is still seen (the ctime moved).


def _restore_times(path: Path, before: os.stat_result) -> None:
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_mtime_ns == before.st_mtime_ns


def test_elf_header_rewritten_under_a_warm_cache(numpy_env: Path, cache_dir: Path) -> None:
    target = break_link(site_packages(numpy_env) / UMATH)
    warm = _verify(numpy_env, cache_dir, "--checks", "all")
    assert warm.returncode == 0, warm.stdout
    before = target.stat()
    with open(target, "r+b") as fh:  # same inode, same size: a Mach-O header over the ELF one
        fh.write(bytes.fromhex("cffaedfe07000001"))
    _restore_times(target, before)
    tags = _verify(numpy_env, cache_dir, "--checks", "tags")
    assert tags.returncode == 1, tags.stdout
    assert "MACH-O" in tags.find("elf-arch", UMATH)["message"].upper()
    every = _verify(numpy_env, cache_dir, "--checks", "all")
    assert every.returncode == 1
    assert {f["code"] for f in every.findings if f["path"] == UMATH} >= {
        "elf-arch",
        "hash-mismatch",
    }


def test_new_leftover_module_under_a_warm_cache(numpy_env: Path, cache_dir: Path) -> None:
    core = site_packages(numpy_env) / "numpy" / "_core"
    warm = _verify(numpy_env, cache_dir)
    assert warm.returncode == 0, warm.stdout
    before = core.stat()
    stale = core / "_stale.cpython-311-x86_64-linux-gnu.so"
    shutil.copy(core / "_struct_ufunc_tests.cpython-311-x86_64-linux-gnu.so", stale)
    _restore_times(core, before)
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1, run.stdout
    f = run.find("unrecorded-extension", "numpy/_core/_stale.cpython-311-x86_64-linux-gnu.so")
    assert (f["distribution"], f["severity"]) == ("numpy", "error")


def test_new_leftover_in_a_new_subdirectory_under_a_warm_cache(
    numpy_env: Path, cache_dir: Path
) -> None:
    core = site_packages(numpy_env) / "numpy" / "_core"
    warm = _verify(numpy_env, cache_dir)
    assert warm.returncode == 0, warm.stdout
    before = core.stat()
    (core / "sub").mkdir()
    (core / "sub" / "_x.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    _restore_times(core, before)
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1, run.stdout
    run.find("unrecorded-extension", "numpy/_core/sub/_x.cpython-311-x86_64-linux-gnu.so")


def test_record_edited_under_a_warm_cache(numpy_env: Path, cache_dir: Path) -> None:
    record = break_link(next(site_packages(numpy_env).glob("numpy-*.dist-info")) / "RECORD")
    warm = _verify(numpy_env, cache_dir)
    assert warm.returncode == 0, warm.stdout
    before = record.stat()
    text = record.read_bytes()
    row_start = text.index(b"\nnumpy/__init__.py,sha256=") + 1
    digest_at = text.index(b"sha256=", row_start) + len(b"sha256=")
    old = text[digest_at : digest_at + 1]
    new = b"B" if old != b"B" else b"C"
    with open(record, "r+b") as fh:  # one digest character, same inode, same size
        fh.seek(digest_at)
        fh.write(new)
    _restore_times(record, before)
    assert record.stat().st_size == before.st_size
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1, run.stdout
    assert run.find("hash-mismatch", "numpy/__init__.py")["distribution"] == "numpy"
    assert run.codes() == {("record", "hash-mismatch", "numpy")}


def test_default_cache_location_that_cannot_be_created_is_a_warning(
    numpy_env: Path, tmp_path: Path
) -> None:
    """No VERIFY_ENV_CACHE_DIR: the user cache dir, here below a HOME that is a regular file."""
    home = tmp_path / "home"
    home.write_text("not a directory\n")
    run = run_cli(
        "--python",
        str(numpy_env / "bin" / "python"),
        "--format",
        "json",
        env={"HOME": str(home), "XDG_CACHE_HOME": ""},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and "stat cache" in lines[0], run.stderr
    assert run.findings == []


def test_warm_run_on_a_damaged_env_reports_what_the_cold_run_did(
    numpy_env: Path, cache_dir: Path
) -> None:
    site = site_packages(numpy_env)
    _flip_in_place(break_link(site / UMATH))
    _flip_in_place(break_link(site / "numpy/__init__.py"))
    (site / "numpy/_core/numeric.py").unlink()
    macho = break_link(site / "numpy/linalg/_umath_linalg.cpython-311-x86_64-linux-gnu.so")
    with open(macho, "r+b") as fh:
        fh.write(bytes.fromhex("cffaedfe07000001"))
    shutil.copy(site / UMATH, site / "numpy/_core/_stale.cpython-311-x86_64-linux-gnu.so")
    cold = _verify(numpy_env, cache_dir, "--checks", "all")
    warm = _verify(numpy_env, cache_dir, "--checks", "all")
    assert (cold.returncode, warm.returncode) == (1, 1)
    assert _bytes_hashed(cold) > 0 and _bytes_hashed(warm) == 0
    assert warm.findings == cold.findings
    assert {(f["code"], f["path"]) for f in cold.findings} >= {
        ("hash-mismatch", UMATH),
        ("hash-mismatch", "numpy/__init__.py"),
        ("missing-file", "numpy/_core/numeric.py"),
        ("elf-arch", "numpy/linalg/_umath_linalg.cpython-311-x86_64-linux-gnu.so"),
        ("unrecorded-extension", "numpy/_core/_stale.cpython-311-x86_64-linux-gnu.so"),
    }


def test_a_cache_dir_others_may_write_is_skipped_with_one_warning(
    numpy_env: Path, cache_dir: Path
) -> None:
    """Issue 18, §2: a shared or restored cache dir anyone may write is not believed."""
    first = _verify(numpy_env, cache_dir)
    assert first.returncode == 0
    (cache_dir / "stat-cache").chmod(0o777)
    target = break_link(site_packages(numpy_env) / UMATH)
    _flip_in_place(target)
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    assert run.codes() == {("record", "hash-mismatch", "numpy")}
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and "not using stat cache" in lines[0] and "writable" in lines[0]
    assert _bytes_hashed(run) == _bytes_hashed(first)  # nothing taken from it
