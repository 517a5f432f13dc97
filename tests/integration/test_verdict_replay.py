"""A warm full run replays the stored verdict of an earlier run only while everything that run
read is as it was (issue 15): a recorded file rewritten in place with its mtime put back, a
file deleted, a module put in the working directory or in a PYTHONPATH directory outside the
environment, other settings, another LD_LIBRARY_PATH — each is judged in full and reported as
a cold run reports it. A verdict is
stored only by a warm run none of whose paths changed in the last two seconds, never under
``--no-cache``, and a stored verdict that was tampered with is not used."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.support.envs import CliRun, run_cli, site_packages

REPLAYED = "verdict: replayed from an earlier run"
FULL = "verdict: judged in full: "
NOT_STORED = "verdict: not stored for a replay: "
UMATH = "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"


def _settle() -> None:
    """Let the last change age past the two seconds within which nothing is stored."""
    time.sleep(2.1)


def _run(env: Path, cache_dir: Path, cwd: Path, *args: str, **kw: str) -> CliRun:
    return run_cli("--python", str(env / "bin/python"), *args, cache_dir=cache_dir, cwd=cwd, env=kw)


def _verbose(env: Path, cache_dir: Path, cwd: Path, *args: str, **kw: str) -> CliRun:
    return _run(env, cache_dir, cwd, "--verbose", *args, **kw)


def _json(run: CliRun) -> dict[str, object]:
    report = dict(run.report)
    summary = dict(report.pop("summary"))
    summary.pop("seconds")  # and what it hashed: a run without the cache hashes it all
    summary.pop("bytes_hashed")
    return {**report, "summary": summary}


def _stored_then_replayed(env: Path, cache_dir: Path, cwd: Path, **kw: str) -> CliRun:
    """Settle and run until a run stores its verdict (a test beside this one may touch a file
    every run reads, such as the base interpreter, within those two seconds), then run again:
    the replay, whose text this returns."""
    for _ in range(3):
        _settle()
        stored = _verbose(env, cache_dir, cwd, **kw)
        if NOT_STORED not in stored.stdout:
            break
    assert NOT_STORED not in stored.stdout, stored.stdout
    replayed = _verbose(env, cache_dir, cwd, **kw)
    assert REPLAYED in replayed.stdout, replayed.stdout
    return replayed


def test_a_replay_holds_until_anything_the_run_read_changes(
    numpy_env: Path, cache_dir: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    cold = _verbose(numpy_env, cache_dir, work)
    assert cold.returncode == 0 and NOT_STORED + "/" in cold.stdout  # the clone is too new
    full = _run(numpy_env, cache_dir, work, "--format", "json", "--no-cache")
    replayed = _stored_then_replayed(numpy_env, cache_dir, work)
    assert "OK: 0 errors, 0 warnings" in replayed.stdout
    replayed_json = _run(numpy_env, cache_dir, work, "--format", "json")
    assert _json(replayed_json) == _json(full)  # the same report as a run without the cache

    # other settings, another LD_LIBRARY_PATH: another key, judged in full
    strict = _verbose(numpy_env, cache_dir, work, "--strict")
    assert FULL + "the target, settings or verify-env changed" in strict.stdout
    ld = _verbose(numpy_env, cache_dir, work, LD_LIBRARY_PATH=str(tmp_path))
    assert FULL + "the target, settings or verify-env changed" in ld.stdout

    # a recorded file rewritten in place, same size, its mtime put back
    umath = site_packages(numpy_env) / UMATH
    before = umath.stat()
    data = bytearray(umath.read_bytes())
    data[-100] ^= 0xFF
    umath.write_bytes(bytes(data))
    os.utime(umath, ns=(before.st_atime_ns, before.st_mtime_ns))
    rewritten = _verbose(numpy_env, cache_dir, work)
    assert rewritten.returncode == 1, rewritten.stdout
    assert FULL + f"{umath} changed since the verdict was stored" in rewritten.stdout
    damaged = _run(numpy_env, cache_dir, work, "--format", "json")
    assert damaged.find("hash-mismatch", UMATH)["distribution"] == "numpy"
    data[-100] ^= 0xFF
    umath.write_bytes(bytes(data))

    # a module put in the working directory shadows numpy for `python -c`
    _stored_then_replayed(numpy_env, cache_dir, work)
    (work / "numpy.py").write_text("version = 'mine'\n")
    shadowed = _run(numpy_env, cache_dir, work, "--format", "json")
    assert shadowed.returncode == 1
    assert shadowed.find("shadowed-module", "numpy.py")["distribution"] == "numpy"
    (work / "numpy.py").unlink()

    # outside the environment: a directory on PYTHONPATH gains a module that shadows numpy
    extra = tmp_path / "extra"
    extra.mkdir()
    _stored_then_replayed(numpy_env, cache_dir, work, PYTHONPATH=str(extra))
    (extra / "numpy.py").write_text("version = 'mine'\n")
    outside = _run(numpy_env, cache_dir, work, "--format", "json", PYTHONPATH=str(extra))
    assert outside.returncode == 1
    assert "(PYTHONPATH)" in outside.find("shadowed-module", "numpy.py")["message"]

    # a recorded file deleted
    _stored_then_replayed(numpy_env, cache_dir, work)
    (site_packages(numpy_env) / "numpy/version.py").unlink()
    gone = _run(numpy_env, cache_dir, work, "--format", "json")
    assert gone.returncode == 1
    assert gone.find("missing-file", "numpy/version.py")["distribution"] == "numpy"
    again = _verbose(numpy_env, cache_dir, work)  # within 2 s of the change: not stored
    assert again.returncode == 1 and NOT_STORED in again.stdout and "changed within" in again.stdout


def test_no_cache_and_a_tampered_verdict_are_never_replayed(
    numpy_env: Path, cache_dir: Path, tmp_path: Path
) -> None:
    _run(numpy_env, cache_dir, tmp_path, "--no-cache")
    assert not (cache_dir / "verdict").exists()  # --no-cache writes none
    _run(numpy_env, cache_dir, tmp_path)
    _stored_then_replayed(numpy_env, cache_dir, tmp_path)
    (stored,) = (cache_dir / "verdict").glob("*.bin")
    assert (
        _run(numpy_env, cache_dir, tmp_path, "--no-cache", "--verbose").stdout.count(REPLAYED) == 0
    )
    blob = bytearray(stored.read_bytes())
    blob[-1] ^= 0x01  # one bit of the stored report
    stored.write_bytes(bytes(blob))
    tampered = _verbose(numpy_env, cache_dir, tmp_path)
    assert tampered.returncode == 0, tampered.stdout + tampered.stderr
    assert FULL + "the stored verdict cannot be read" in tampered.stdout
    assert REPLAYED not in tampered.stdout


def test_a_run_that_could_not_judge_everything_is_not_stored(
    cache_dir: Path, tmp_path: Path
) -> None:
    """A skip (here: a conda prefix that holds no Python) is no verdict to replay."""
    prefix = tmp_path / "prefix"
    (prefix / "conda-meta").mkdir(parents=True)
    _settle()
    run = run_cli("--prefix", str(prefix), "--verbose", cache_dir=cache_dir, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "holds no Python interpreter" in run.stdout
    assert NOT_STORED + "something could not be judged" in run.stdout
    assert not list((cache_dir / "verdict").glob("*.bin"))
