"""A broken environment is normal input: findings or skips, exit 1 or 0, never exit 2, never a
traceback (run_cli checks stderr), never a hang (every run has a timeout)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.envs import CliRun, break_link, clone_env, run_cli, site_packages

UMATH = "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"
INIT = "numpy/__init__.py"
TIMEOUT = 120.0
FAKE_SHA256 = "sha256=" + "A" * 43  # well-formed, matches nothing


def _escaped(byte: int) -> tuple[str, ...]:
    """How a report may spell an undecodable byte of a file name: visibly escaped, either as
    the byte (``\\xff``) or as the surrogate that carries it (``\\udcff``)."""
    return (f"\\x{byte:02x}", f"\\udc{byte:02x}")


def _verify(env: Path, cache_dir: Path, *extra: str) -> CliRun:
    run = run_cli(
        "--python",
        str(env / "bin" / "python"),
        "--format",
        "json",
        *extra,
        cache_dir=cache_dir,
        timeout=TIMEOUT,
    )
    assert run.returncode in (0, 1), (run.returncode, run.stderr)
    return run


def _dist_info(env: Path) -> Path:
    return next(site_packages(env).glob("numpy-*.dist-info"))


def _append_record(env: Path, rows: bytes) -> None:
    record = _dist_info(env) / "RECORD"
    data = record.read_bytes()
    record.unlink()  # a hard link into the source env: replace, never write through
    record.write_bytes(data + rows)


# --- recorded files that are not regular files ------------------------------------------------


@pytest.mark.parametrize("rel", [INIT, UMATH], ids=["py", "so"])
def test_recorded_file_replaced_by_fifo(rel: str, numpy_env: Path, cache_dir: Path) -> None:
    path = site_packages(numpy_env) / rel
    path.unlink()
    os.mkfifo(path)
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    f = run.find("hash-mismatch", rel)
    assert (f["distribution"], f["severity"]) == ("numpy", "error")
    assert "FIFO" in f["message"]


@pytest.mark.parametrize("rel", [INIT, UMATH], ids=["py", "so"])
def test_recorded_file_replaced_by_fifo_without_cache(
    rel: str, numpy_env: Path, cache_dir: Path
) -> None:
    path = site_packages(numpy_env) / rel
    path.unlink()
    os.mkfifo(path)
    run = _verify(numpy_env, cache_dir, "--no-cache", "--checks", "all")
    assert run.returncode == 1
    f = run.find("hash-mismatch", rel)
    assert "FIFO" in f["message"] or "regular" in f["message"]


@pytest.mark.parametrize(
    "extra",
    [(), ("--no-cache",), ("--checks", "all", "--no-cache")],
    ids=["cache", "no-cache", "all"],
)
def test_fifo_in_place_of_a_recorded_file_is_never_opened(
    extra: tuple[str, ...], numpy_env: Path, cache_dir: Path
) -> None:
    """The finding says "not opened": a writer waiting on the FIFO proves it. Opening a
    device or FIFO is itself an effect (a waiting writer wakes, a tape rewinds), so the type
    is learned from stat before any open."""
    path = site_packages(numpy_env) / INIT
    path.unlink()
    os.mkfifo(path)
    woke = threading.Event()

    def writer() -> None:
        fd = os.open(path, os.O_WRONLY)  # blocks until some reader opens the FIFO
        woke.set()
        os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        run = _verify(numpy_env, cache_dir, *extra)
        opened = woke.wait(1.0)
    finally:
        if not woke.is_set():  # release the writer ourselves
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            thread.join(5)
            os.close(fd)
        thread.join(5)
    assert run.returncode == 1
    f = run.find("hash-mismatch", INIT)
    assert "FIFO" in f["message"] and "not opened" in f["message"]
    assert not opened, "verify-env opened the FIFO it reports as not opened"


@pytest.mark.parametrize("rel", [INIT, UMATH], ids=["py", "so"])
def test_recorded_file_replaced_by_symlink_loop(rel: str, numpy_env: Path, cache_dir: Path) -> None:
    path = site_packages(numpy_env) / rel
    partner = path.with_name("loop-partner")
    path.unlink()
    os.symlink(partner.name, path)
    os.symlink(path.name, partner)
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    f = run.find("hash-mismatch", rel)
    assert f["severity"] == "error"
    assert "loop" in f["message"]
    nocache = _verify(numpy_env, cache_dir, "--no-cache")
    assert "loop" in nocache.find("hash-mismatch", rel)["message"]


@pytest.mark.parametrize("rel", [INIT, UMATH], ids=["py", "so"])
def test_recorded_file_replaced_by_directory(rel: str, numpy_env: Path, cache_dir: Path) -> None:
    path = site_packages(numpy_env) / rel
    path.unlink()
    path.mkdir()
    (path / "inside.txt").write_text("x")
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    f = run.find("hash-mismatch", rel)
    assert (f["distribution"], f["severity"]) == ("numpy", "error")
    assert "directory" in f["message"]
    nocache = _verify(numpy_env, cache_dir, "--no-cache")
    assert nocache.find("hash-mismatch", rel)["severity"] == "error"


def test_metadata_files_replaced_by_fifos(numpy_env: Path, cache_dir: Path) -> None:
    """RECORD, METADATA, WHEEL and INSTALLER are read by every run: a FIFO must not block."""
    meta = _dist_info(numpy_env)
    for name in ("RECORD", "METADATA", "WHEEL", "INSTALLER"):
        (meta / name).unlink()
        os.mkfifo(meta / name)
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    numpy = [f for f in run.findings if f["distribution"] == "numpy"]
    assert {"record-malformed", "record-missing"} & {f["code"] for f in numpy}, numpy


# --- names and records that are not UTF-8 -----------------------------------------------------


def test_non_utf8_file_name_is_escaped(numpy_env: Path, cache_dir: Path) -> None:
    core = os.fsencode(site_packages(numpy_env) / "numpy" / "_core")
    fd = os.open(
        core + b"/bad\xff.cpython-311-x86_64-linux-gnu.so",
        os.O_WRONLY | os.O_CREAT | os.O_EXCL,
        0o644,
    )
    os.write(fd, b"\x7fELF not really")
    os.close(fd)
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    f = run.find("unrecorded-extension", ".cpython-311-x86_64-linux-gnu.so")
    escaped = f["path"]
    assert escaped in {
        f"numpy/_core/bad{e}.cpython-311-x86_64-linux-gnu.so" for e in _escaped(0xFF)
    }
    assert (f["distribution"], f["severity"]) == ("numpy", "error")
    json.dumps(run.report, ensure_ascii=False).encode("utf-8")  # no lone surrogates left
    text = run_cli(
        "--python", str(numpy_env / "bin" / "python"), cache_dir=cache_dir, timeout=TIMEOUT
    )
    assert text.returncode == 1
    assert escaped in text.stdout
    assert text.stdout.splitlines()[-1].startswith("FAILED:")
    junit = run_cli(
        "--python",
        str(numpy_env / "bin" / "python"),
        "--format",
        "junit",
        cache_dir=cache_dir,
        timeout=TIMEOUT,
    )
    assert junit.returncode == 1
    assert escaped in "".join(ET.fromstring(junit.stdout).itertext())


def test_record_row_with_non_utf8_path_of_a_missing_file(numpy_env: Path, cache_dir: Path) -> None:
    _append_record(numpy_env, b"numpy/gone\xff.py," + FAKE_SHA256.encode() + b",10\n")
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    found = [f for f in run.findings if f["code"] in ("missing-file", "record-malformed")]
    assert found, run.findings
    assert any(
        f"gone{e}.py" in (f["path"] or "") + f["message"] for f in found for e in _escaped(0xFF)
    ), found
    assert (
        run_cli(
            "--python", str(numpy_env / "bin" / "python"), cache_dir=cache_dir, timeout=TIMEOUT
        ).returncode
        == 1
    )


def test_record_row_with_non_utf8_path_of_a_changed_file(numpy_env: Path, cache_dir: Path) -> None:
    """The file exists and is hashed, so its surrogate-escaped name goes through the stat cache
    (saved, then loaded by the second run)."""
    site = os.fsencode(site_packages(numpy_env))
    with open(site + b"/numpy/odd\xfe.py", "wb") as fh:
        fh.write(b"0123456789")
    _append_record(numpy_env, b"numpy/odd\xfe.py," + FAKE_SHA256.encode() + b",10\n")
    for _ in range(2):
        run = _verify(numpy_env, cache_dir)
        assert run.returncode == 1
        f = run.find("hash-mismatch")
        assert f["path"] in {f"numpy/odd{e}.py" for e in _escaped(0xFE)}
        assert f["severity"] == "error"
        assert run.stderr == ""


def test_record_path_outside_the_environment(numpy_env: Path, cache_dir: Path) -> None:
    site = site_packages(numpy_env)
    deep = "../" * (len(site.parts) + 3) + "etc/passwd"
    _append_record(
        numpy_env,
        (f"../../../../../../etc/passwd,{FAKE_SHA256},10\n{deep},{FAKE_SHA256},10\n").encode(),
    )
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 0, run.findings
    outside = [f for f in run.findings if f["code"] == "record-malformed"]
    assert {f["path"] for f in outside} == {"../../../../../../etc/passwd", deep}
    for f in outside:
        assert (f["distribution"], f["severity"]) == ("numpy", "warning")
        assert "outside the environment" in f["message"]
    assert run.codes() == set()
    assert _verify(numpy_env, cache_dir, "--strict").returncode == 1


def test_record_absolute_path_outside_the_environment(numpy_env: Path, cache_dir: Path) -> None:
    _append_record(numpy_env, f"/etc/passwd,{FAKE_SHA256},10\n".encode())
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 0
    f = run.find("record-malformed", "/etc/passwd")
    assert f["severity"] == "warning" and "outside the environment" in f["message"]


# --- shared objects with the wrong content ----------------------------------------------------


def _replace_content(env: Path, rel: str, data: bytes) -> None:
    path = site_packages(env) / rel
    size = path.stat().st_size
    assert len(data) <= size
    path.unlink()
    path.write_bytes(data + b"\0" * (size - len(data)))
    assert path.stat().st_size == size


def test_extension_replaced_by_garbage_of_the_same_size(numpy_env: Path, cache_dir: Path) -> None:
    _replace_content(numpy_env, UMATH, b"this is not a shared object\n" * 64)
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    assert run.find("hash-mismatch", UMATH)["check"] == "record"
    elf = run.find("elf-arch", UMATH)
    assert (elf["check"], elf["severity"]) == ("tags", "error")
    assert "not an ELF" in elf["message"]


def test_extension_replaced_by_macho(numpy_env: Path, cache_dir: Path) -> None:
    _replace_content(numpy_env, UMATH, bytes.fromhex("cffaedfe07000001"))
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    assert run.find("hash-mismatch", UMATH)["severity"] == "error"
    elf = run.find("elf-arch", UMATH)
    assert "MACH-O" in elf["message"].upper()


def test_extension_replaced_by_truncated_elf_header(numpy_env: Path, cache_dir: Path) -> None:
    path = break_link(site_packages(numpy_env) / UMATH)
    with open(path, "r+b") as fh:
        fh.truncate(20)
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    assert run.find("size-mismatch", UMATH)["severity"] == "error"
    assert run.find("elf-arch", UMATH)["check"] == "tags"


# --- metadata dirs that are damaged -----------------------------------------------------------


def test_missing_metadata_is_record_malformed(numpy_env: Path, cache_dir: Path) -> None:
    (_dist_info(numpy_env) / "METADATA").unlink()
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    f = run.find("record-malformed")
    assert f["distribution"] == "numpy" and f["path"].endswith("METADATA")


def test_empty_record_file(numpy_env: Path, cache_dir: Path) -> None:
    """A 0-byte RECORD (a disk that filled while pip wrote it): an installer's RECORD lists at
    least itself, so an empty one is damage, reported as record-malformed (exit 1). Before
    that rule it reported nothing at all: numpy counted as a distribution with no files, none
    of them checked, its package dir not even walked for leftovers, and the verdict "OK"."""
    record = _dist_info(numpy_env) / "RECORD"
    record.unlink()
    record.write_bytes(b"")
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1, run.stdout
    f = run.find("record-malformed", "RECORD")
    assert (f["distribution"], f["severity"]) == ("numpy", "error")
    assert (
        run_cli(
            "--python",
            str(numpy_env / "bin" / "python"),
            "--format",
            "junit",
            cache_dir=cache_dir,
            timeout=TIMEOUT,
        ).returncode
        == 1
    )


def test_dist_info_that_is_a_regular_file(numpy_env: Path, cache_dir: Path) -> None:
    """A dist-info must be a directory: a file in its place is a malformed record."""
    (site_packages(numpy_env) / "bogus-1.0.dist-info").write_text(
        "Metadata-Version: 2.1\nName: bogus\nVersion: 1.0\n"
    )
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    assert not [f for f in run.findings if f["distribution"] == "numpy"]
    f = run.find("record-malformed", "bogus-1.0.dist-info")
    assert (f["distribution"], f["severity"]) == ("bogus", "error")
    assert "not a directory" in f["message"]


def test_dist_info_that_is_a_garbage_file(numpy_env: Path, cache_dir: Path) -> None:
    (site_packages(numpy_env) / "junk-2.0.dist-info").write_bytes(
        b"\x00\xff\xfe binary\n\n\x89PNG" * 50
    )
    run = _verify(numpy_env, cache_dir)
    assert run.returncode in (0, 1)
    assert not [f for f in run.findings if f["distribution"] == "numpy"]


def test_dist_info_that_is_a_dangling_symlink(numpy_env: Path, cache_dir: Path) -> None:
    os.symlink("nowhere", site_packages(numpy_env) / "ghost-1.0.dist-info")
    run = _verify(numpy_env, cache_dir)
    assert run.returncode in (0, 1)
    assert not [f for f in run.findings if f["distribution"] == "numpy"]


# --- walking package dirs ---------------------------------------------------------------------


def test_symlink_loop_directory_inside_a_package(numpy_env: Path, cache_dir: Path) -> None:
    core = site_packages(numpy_env) / "numpy" / "_core"
    os.symlink("..", core / "loop")
    os.symlink("self", core / "self")  # a symlink to itself, too
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 0, run.findings
    assert run.findings == []
    every = _verify(numpy_env, cache_dir, "--checks", "all", "--no-cache")
    assert every.returncode == 0


def test_unreadable_cache_and_broken_env_together(numpy_env: Path, cache_dir: Path) -> None:
    """Damage on both sides of the run: the env's findings, the cache's one warning."""
    cache_dir.mkdir()
    (cache_dir / "stat-cache").write_text("a file where a directory belongs\n")
    (site_packages(numpy_env) / INIT).unlink()
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    assert run.find("missing-file", INIT)["severity"] == "error"
    assert len(run.stderr.splitlines()) == 1 and "stat cache" in run.stderr


def test_deeply_nested_directories_inside_a_package(numpy_env: Path, cache_dir: Path) -> None:
    """1500 nested directories (a runaway build step): the walk neither recurses itself to
    death nor gives up on what lies beside them."""
    core = site_packages(numpy_env) / "numpy" / "_core"
    fd = os.open(core, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(1500):  # relative to a directory fd: no path grows past PATH_MAX here
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)
    try:
        stale = core / "_stale.cpython-311-x86_64-linux-gnu.so"
        stale.write_bytes(b"\x7fELF")
        run = _verify(numpy_env, cache_dir)
        assert run.returncode == 1
        run.find("unrecorded-extension", "numpy/_core/_stale.cpython-311-x86_64-linux-gnu.so")
        assert _verify(numpy_env, cache_dir).returncode == 1  # and again, from the warm cache
    finally:  # past PATH_MAX: shutil.rmtree (and so pytest's tmp cleanup) cannot remove it
        subprocess.run(["rm", "-rf", "--", str(core / "d")], check=True)


def test_environment_under_a_non_utf8_directory(
    numpy_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    env = clone_env(numpy_venv, tmp_path / "env\udcff")  # the byte 0xff, as Python names it
    assert os.fsencode(env).endswith(b"/env\xff")
    clean = _verify(env, cache_dir)
    assert clean.returncode == 0, clean.stdout
    assert clean.report["environment"]["prefix"] in {
        str(tmp_path / f"env{e}") for e in _escaped(0xFF)
    }
    warm = _verify(env, cache_dir)
    assert (warm.returncode, warm.report["summary"]["bytes_hashed"]) == (0, 0)
    target = break_link(site_packages(env) / UMATH)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    run = _verify(env, cache_dir)
    assert run.returncode == 1
    assert run.find("hash-mismatch", UMATH)["distribution"] == "numpy"
    json.dumps(run.report, ensure_ascii=False).encode("utf-8")
    text = run_cli("--python", str(env / "bin" / "python"), cache_dir=cache_dir, timeout=TIMEOUT)
    assert text.returncode == 1
    assert text.stdout.splitlines()[-1].startswith("FAILED:")
