"""Metadata the environment controls cannot blow the run up (issue 18 §7, §12): a 100 MB
METADATA is read up to its headers, a RECORD of a million rows or with one 200 KiB field is one
``record-malformed`` finding, and the rest of the environment is still judged (exit 1, not 2).
Peak memory of the real CLI (itself and its workers) and wall time are measured."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.envs import CliRun, break_link, clone_env, make_venv, site_packages

RSS_LIMIT_KB = 200 * 1024
SECONDS_LIMIT = 10.0
# A small parent runs the CLI and reports its children's peak RSS: ru_maxrss survives exec,
# so the CLI's own figure would start at whatever pytest's process held when it forked.
MEASURE = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.run([sys.executable, '-m', 'verify_env', *sys.argv[1:]]).returncode\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "sys.stderr.write(f'PEAK-RSS-KB {peak}\\n')\n"
    "sys.exit(rc)\n"
)


@pytest.fixture(scope="module")
def six_venv(tmp_path_factory: pytest.TempPathFactory, py311: str) -> Path:
    return make_venv(tmp_path_factory.mktemp("six") / "venv", py311, ["six==1.17.0"])


@pytest.fixture
def env(six_venv: Path, tmp_path: Path) -> Path:
    return clone_env(six_venv, tmp_path / "env")


def _measured(env: Path, cache_dir: Path) -> tuple[CliRun, int, float]:
    """The CLI's run, its peak RSS in KiB and its wall time."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_ENV_")}
    full["VERIFY_ENV_CACHE_DIR"] = str(cache_dir)
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            MEASURE,
            "--python",
            str(env / "bin" / "python"),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
        check=False,
    )
    seconds = time.monotonic() - started
    run = CliRun(proc)
    run.assert_no_traceback()
    found = re.search(r"PEAK-RSS-KB (\d+)", proc.stderr)
    assert found, proc.stderr
    return run, int(found.group(1)), seconds


def _fake_dist(site: Path, name: str, record: bytes) -> None:
    meta = site / f"{name}-1.0.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n\n")
    (meta / "INSTALLER").write_text("pip\n")
    (meta / "RECORD").write_bytes(record)


def _tamper_six(site: Path) -> None:
    """A real tamper that must still be reported beside the hostile record."""
    six = break_link(site / "six.py")
    data = bytearray(six.read_bytes())
    data[100] ^= 0x01
    six.write_bytes(bytes(data))


def test_a_million_row_record_is_one_finding(env: Path, cache_dir: Path) -> None:
    site = site_packages(env)
    row = b"huge/mod%d.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n"
    _fake_dist(site, "huge", b"")
    with (site / "huge-1.0.dist-info" / "RECORD").open("wb") as out:
        for start in range(0, 1_000_000, 10_000):
            out.write(b"".join(row % i for i in range(start, start + 10_000)))
    _tamper_six(site)
    run, rss, seconds = _measured(env, cache_dir)
    assert run.returncode == 1, run.stderr
    f = run.find("record-malformed", "huge-1.0.dist-info/RECORD")
    assert f["distribution"] == "huge" and "more than" in f["message"]
    assert not [g for g in run.findings if g["distribution"] == "huge" and g != f]
    assert run.find("hash-mismatch", "six.py")["distribution"] == "six"
    assert rss < RSS_LIMIT_KB, f"peak RSS {rss} KiB"
    assert seconds < SECONDS_LIMIT, f"{seconds:.1f} s"


def test_an_overlong_record_field_is_one_finding(env: Path, cache_dir: Path) -> None:
    site = site_packages(env)
    record = (
        b"wide-1.0.dist-info/METADATA,,\n"
        + b"w" * (200 << 10)
        + b",,\n"
        + b'"'
        + b"q" * (300 << 10)
        + b'",,\nwide-1.0.dist-info/RECORD,,\n'
    )
    _fake_dist(site, "wide", record)
    _tamper_six(site)
    run, _, _ = _measured(env, cache_dir)
    assert run.returncode == 1, run.stderr
    malformed = [g for g in run.findings if g["distribution"] == "wide"]
    assert {(g["code"], g["message"][:13]) for g in malformed} == {
        ("record-malformed", "RECORD line 2"),
        ("record-malformed", "RECORD line 3"),
    }, malformed
    assert run.find("hash-mismatch", "six.py")["distribution"] == "six"


def test_a_100_mb_metadata_is_read_to_its_headers(env: Path, cache_dir: Path) -> None:
    site = site_packages(env)
    metadata = break_link(site / "six-1.17.0.dist-info" / "METADATA")
    head = metadata.read_bytes().split(b"\n\n")[0]
    with metadata.open("wb") as out:  # a description of 100 MB after the headers
        out.write(head + b"\n\n")
        line = b"x" * 99 + b"\n"
        for _ in range(100):
            out.write(line * 10_000)
    run, rss, seconds = _measured(env, cache_dir)
    assert run.returncode == 1  # the METADATA no longer has its recorded size
    assert {(g["code"], g["path"]) for g in run.findings} == {
        ("size-mismatch", "six-1.17.0.dist-info/METADATA")
    }, run.findings
    assert rss < RSS_LIMIT_KB, f"peak RSS {rss} KiB"
    assert seconds < SECONDS_LIMIT, f"{seconds:.1f} s"


def test_headers_without_end_are_cut_and_said(env: Path, cache_dir: Path) -> None:
    site = site_packages(env)
    metadata = break_link(site / "six-1.17.0.dist-info" / "METADATA")
    head = metadata.read_bytes().split(b"\n\n")[0]
    metadata.write_bytes(head + b"\n" + b"X-Filler: " + b"y" * (2 << 20) + b"\n")
    run, _, _ = _measured(env, cache_dir)
    assert run.returncode == 1
    f = run.find("record-malformed", "six-1.17.0.dist-info/METADATA")
    assert "headers" in f["message"]
    # the headers before the cut are still read: six is still six 1.17.0
    assert f["distribution"] == "six" and f["version"] == "1.17.0"
