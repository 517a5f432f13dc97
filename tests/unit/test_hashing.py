"""verify_env.pool.hashing on real files: digests equal hashlib's, every job count agrees, and what
is not a regular file is reported, never read (a FIFO must not hang the run)."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import cast

import pytest

from verify_env.pool.hashing import (
    CHUNKS_PER_JOB,
    MIN_PARALLEL_BYTES,
    MIN_PARALLEL_FILES,
    PER_FILE_COST,
    ForkMap,
    HashResult,
    _chunks,
    hash_files,
)

MIB = 1 << 20
ALARM_SECONDS = 20

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="the parallel path needs fork")
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
needs_alarm = pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="needs SIGALRM")


class Hung(Exception):
    """Raised by SIGALRM: the call under test blocked."""


@contextmanager
def deadline(seconds: int = ALARM_SECONDS) -> Iterator[None]:
    """Fail (rather than hang the suite) if the body has not returned within ``seconds``."""

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise Hung(f"still running after {seconds} s: the call blocked")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def expected(path: Path, algorithm: str) -> bytes:
    return hashlib.new(algorithm, path.read_bytes()).digest()


def sizes_of(items: Sequence[tuple[str, str, int]]) -> list[int]:
    """Sizes as the caller would get them from ``stat`` (0 for what is not there)."""
    out = []
    for path, _, _ in items:
        try:
            out.append(os.stat(path).st_size)
        except OSError:
            out.append(0)
    return out


@pytest.fixture
def mixed(tmp_path: Path) -> list[Path]:
    """0 bytes, 1 byte, 1 MiB + 1 (crosses the read chunk) and a few MiB."""
    rng = random.Random(1234)
    return [
        write(tmp_path / "empty", b""),
        write(tmp_path / "one", b"x"),
        write(tmp_path / "chunk-plus-one", rng.randbytes(MIB + 1)),
        write(tmp_path / "three-mib", rng.randbytes(3 * MIB + 17)),
        write(tmp_path / "five-mib", rng.randbytes(5 * MIB)),
    ]


@pytest.fixture
def many_small(tmp_path: Path) -> list[Path]:
    """More small files than MIN_PARALLEL_FILES, so jobs > 1 forks."""
    d = tmp_path / "many"
    d.mkdir()
    rng = random.Random(99)
    return [
        write(d / f"f{i:04d}.py", rng.randbytes(rng.randrange(0, 5000)))
        for i in range(MIN_PARALLEL_FILES + 64)
    ]


@pytest.mark.parametrize("algorithm", ["sha256", "md5", "sha512"])
@pytest.mark.parametrize("jobs", [1, 4])
def test_digests_equal_hashlib(mixed: list[Path], algorithm: str, jobs: int) -> None:
    items = [(str(p), algorithm, -1) for p in mixed]
    got = hash_files(items, sizes_of(items), jobs=jobs)
    assert got == [expected(p, algorithm) for p in mixed]


def test_mixed_algorithms_in_one_call(mixed: list[Path]) -> None:
    algorithms = ["sha256", "md5", "sha512", "sha256", "md5"]
    items = [(str(p), a, -1) for p, a in zip(mixed, algorithms, strict=True)]
    got = hash_files(items, sizes_of(items), jobs=1)
    assert got == [expected(p, a) for p, a in zip(mixed, algorithms, strict=True)]


@needs_fork
def test_large_bytes_alone_take_the_parallel_path_and_agree(mixed: list[Path]) -> None:
    items = [(str(p), "sha256", -1) for p in mixed]
    sizes = sizes_of(items)
    assert len(items) < MIN_PARALLEL_FILES and sum(sizes) >= MIN_PARALLEL_BYTES
    with deadline():
        assert hash_files(items, sizes, jobs=2) == hash_files(items, sizes, jobs=1)


@needs_fork
def test_job_counts_agree_in_order(many_small: list[Path]) -> None:
    algorithms = ("sha256", "md5", "sha512")
    items = [(str(p), algorithms[i % 3], -1) for i, p in enumerate(many_small)]
    sizes = sizes_of(items)
    assert len(items) >= MIN_PARALLEL_FILES  # so jobs > 1 really forks
    with deadline():
        one = hash_files(items, sizes, jobs=1)
        two = hash_files(items, sizes, jobs=2)
        four = hash_files(items, sizes, jobs=4)
    want: list[HashResult] = [expected(p, algorithms[i % 3]) for i, p in enumerate(many_small)]
    assert one == want
    assert two == want
    assert four == want


@needs_fork
def test_more_jobs_than_files_with_parallel_bytes(tmp_path: Path) -> None:
    rng = random.Random(5)
    paths = [write(tmp_path / "a", rng.randbytes(MIN_PARALLEL_BYTES)), write(tmp_path / "b", b"")]
    items = [(str(p), "sha256", -1) for p in paths]
    with deadline():
        got = hash_files(items, sizes_of(items), jobs=16)
    assert got == [expected(p, "sha256") for p in paths]


def test_empty_input() -> None:
    assert hash_files([], [], jobs=4) == []


def test_jobs_zero_or_negative_means_one(mixed: list[Path]) -> None:
    items = [(str(p), "md5", -1) for p in mixed[:2]]
    assert hash_files(items, sizes_of(items), jobs=0) == [expected(p, "md5") for p in mixed[:2]]
    assert hash_files(items, sizes_of(items), jobs=-3) == [expected(p, "md5") for p in mixed[:2]]


@needs_fifo
@needs_alarm
@pytest.mark.parametrize("jobs", [1, 2])
def test_fifo_is_reported_not_read(tmp_path: Path, many_small: list[Path], jobs: int) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # No writer ever opens it: reading it would block forever.
    paths = [*many_small[:150], fifo, *many_small[150:]]
    items = [(str(p), "sha256", -1) for p in paths]
    sizes = [0 if p == fifo else p.stat().st_size for p in paths]
    started = time.monotonic()
    with deadline():
        got = hash_files(items, sizes, jobs=jobs)
    assert time.monotonic() - started < ALARM_SECONDS
    assert got[150] == f"type:{stat.S_IFIFO}"
    assert got[:150] == [expected(p, "sha256") for p in many_small[:150]]
    assert got[151:] == [expected(p, "sha256") for p in many_small[150:]]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still there, untouched


def test_missing_file_gives_a_reason(tmp_path: Path, mixed: list[Path]) -> None:
    missing = tmp_path / "gone.so"
    items = [(str(mixed[1]), "sha256", -1), (str(missing), "sha256", -1)]
    got = hash_files(items, [1, 0], jobs=1)
    assert got[0] == expected(mixed[1], "sha256")
    assert isinstance(got[1], str)
    assert "No such file" in got[1]


def test_directory_is_not_a_regular_file(tmp_path: Path) -> None:
    d = tmp_path / "pkg"
    d.mkdir()
    assert hash_files([(str(d), "sha256", -1)], [0], jobs=1) == [f"type:{stat.S_IFDIR}"]


@needs_fork
def test_bad_items_in_the_parallel_path(tmp_path: Path, many_small: list[Path]) -> None:
    d = tmp_path / "adir"
    d.mkdir()
    missing = tmp_path / "missing"
    paths = [d, *many_small, missing]
    items = [(str(p), "sha256", -1) for p in paths]
    with deadline():
        got = hash_files(items, sizes_of(items), jobs=4)
    assert got[0] == f"type:{stat.S_IFDIR}"
    last = got[-1]
    assert isinstance(last, str) and "No such file" in last
    assert got[1:-1] == [expected(p, "sha256") for p in many_small]


def test_symlink_to_a_file_is_followed(tmp_path: Path, mixed: list[Path]) -> None:
    link = tmp_path / "link"
    link.symlink_to(mixed[2])
    assert hash_files([(str(link), "sha256", -1)], [MIB + 1], jobs=1) == [
        expected(mixed[2], "sha256")
    ]


def record_progress() -> tuple[list[tuple[int, int]], Callable[[int, int], None]]:
    calls: list[tuple[int, int]] = []

    def progress(files: int, nbytes: int) -> None:
        calls.append((files, nbytes))

    return calls, progress


@pytest.mark.parametrize("jobs", [1, pytest.param(4, marks=needs_fork)])
def test_progress_ends_with_all_files_and_bytes(many_small: list[Path], jobs: int) -> None:
    items = [(str(p), "sha256", -1) for p in many_small]
    sizes = sizes_of(items)
    calls, progress = record_progress()
    with deadline():
        results = hash_files(items, sizes, jobs=jobs, progress=progress)
    assert all(isinstance(r, bytes) for r in results)
    assert calls, "progress was never called"
    assert calls[-1] == (len(items), sum(sizes))
    files_seen = [f for f, _ in calls]
    bytes_seen = [b for _, b in calls]
    assert files_seen == sorted(files_seen)  # never goes backwards
    assert bytes_seen == sorted(bytes_seen)


def test_progress_for_a_few_files(mixed: list[Path]) -> None:
    items = [(str(p), "md5", -1) for p in mixed]
    sizes = sizes_of(items)
    calls, progress = record_progress()
    hash_files(items, sizes, jobs=1, progress=progress)
    assert calls[-1] == (len(items), sum(sizes))


# --------------------------------------------------------------------------------------------
# _chunks: contiguous runs of about equal weight, heaviest first, pulled by the workers
# --------------------------------------------------------------------------------------------


def chunk_load(chunk: Sequence[int], sizes: Sequence[int]) -> int:
    return sum(sizes[i] + PER_FILE_COST for i in chunk)


@pytest.mark.parametrize("jobs", [1, 2, 3, 4, 7, 16])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chunks_cover_every_item_once_in_runs_of_about_equal_weight(jobs: int, seed: int) -> None:
    rng = random.Random(seed)
    # A site-packages-like mix: many small files, a few big shared libraries.
    sizes = [rng.randrange(0, 20_000) for _ in range(500)]
    sizes += [rng.randrange(1 * MIB, 60 * MIB) for _ in range(6)]
    rng.shuffle(sizes)
    chunks = _chunks(sizes, jobs)
    assert sorted(i for chunk in chunks for i in chunk) == list(range(len(sizes)))
    for chunk in chunks:  # contiguous
        assert chunk == list(range(chunk[0], chunk[-1] + 1))
    bound = sum(s + PER_FILE_COST for s in sizes) / (jobs * CHUNKS_PER_JOB)
    for chunk in chunks:  # only a single heavy item may exceed the bound
        assert len(chunk) == 1 or chunk_load(chunk, sizes) <= bound
    weights = [chunk_load(c, sizes) for c in chunks]
    assert weights == sorted(weights, reverse=True)


def test_one_huge_file_is_a_chunk_of_its_own_and_goes_first() -> None:
    sizes = [1000] * 150 + [100 * MIB] + [1000] * 150
    chunks = _chunks(sizes, 2)
    assert chunks[0] == [150]


def test_chunks_with_fewer_files_than_jobs() -> None:
    chunks = _chunks([5, 10], 4)
    assert sorted(i for chunk in chunks for i in chunk) == [0, 1]


def _slow_first(item: int) -> tuple[int, int]:
    if item == 0:
        time.sleep(1.0)
    return item, os.getpid()


@needs_fork
def test_a_worker_held_up_by_one_item_leaves_the_rest_to_the_others() -> None:
    """Work is pulled, not dealt out: while one worker is stuck on a slow item, the other takes
    every remaining chunk (with fixed shares it would have had to wait for half of them)."""
    items = list(range(2000))
    weights = [1000] * len(items)
    first = _chunks(weights, 2)[0]
    assert first[0] == 0 and len(first) < len(items) // 10
    out = {
        index: cast("tuple[int, int]", result)
        for index, result in ForkMap(_slow_first, items, weights, jobs=2).results()
    }
    assert sorted(out) == items
    slow_pid = out[0][1]
    assert slow_pid != os.getpid()
    # the slow worker did its own chunk and nothing else
    assert {i for i, (_, pid) in out.items() if pid == slow_pid} == set(first)


def test_a_size_that_differs_from_the_expected_one_is_returned_unhashed(tmp_path: Path) -> None:
    f = tmp_path / "f.bin"
    f.write_bytes(b"x" * 100)
    assert hash_files([(str(f), "sha256", 99)], [100], jobs=1) == [100]
    assert hash_files([(str(f), "sha256", 100)], [100], jobs=1) == [expected(f, "sha256")]


def _pid_of_worker(_item: int) -> int:
    return os.getpid()


def test_work_is_forked_without_threads_and_kept_in_process_with_them() -> None:
    """A host with threads running (conda) gets the work done in-process: forking a threaded
    process can deadlock on a lock another thread holds."""
    import threading

    from verify_env.pool.hashing import ForkMap

    items = list(range(400))
    weights = [1] * 400
    forked = {pid for _, pid in ForkMap(_pid_of_worker, items, weights, jobs=2).results()}
    # one or two workers: the second may find the queue already empty
    assert os.getpid() not in forked and 1 <= len(forked) <= 2
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        kept = {pid for _, pid in ForkMap(_pid_of_worker, items, weights, jobs=2).results()}
    finally:
        stop.set()
        thread.join()
    assert kept == {os.getpid()}
