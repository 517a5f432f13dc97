"""verify_env.pool.stream: workers forked before the work is known get every chunk exactly once,
heavy chunks first, and the caller never blocks or loses work (full pipes, a dying worker, an
abort, threads in the host)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import cast

import pytest

from verify_env.pool.hashing import CHUNK, digest
from verify_env.pool.stream import ForkStream

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="the stream needs fork")


def _pid(item: tuple[int]) -> tuple[int, int]:
    return item[0], os.getpid()


def _echo_odd(item: tuple[int]) -> int | None:
    return item[0] * 10 if item[0] % 2 else None


@needs_fork
def test_every_item_is_done_once_and_only_non_none_results_come_back() -> None:
    stream = ForkStream(_echo_odd, jobs=2)
    assert stream.started
    for start in range(0, 1000, 37):
        items = list(range(start, min(start + 37, 1000)))
        stream.put((items,), len(items))
    assert stream.count == 1000
    got = dict(stream.results())
    assert got == {i: i * 10 for i in range(1000) if i % 2}


@needs_fork
def test_more_chunks_than_a_pipe_holds_do_not_block_the_caller() -> None:
    """A pipe holds 4096 messages; the rest wait in the caller and go out during results()."""
    stream = ForkStream(_pid, jobs=2, report_progress=True)
    done: list[tuple[int, int]] = []
    stream.progress = lambda n, weight: done.append((n, weight))
    started = time.monotonic()
    for i in range(10_000):
        stream.put(([i],), 3)
    assert time.monotonic() - started < 10  # never waited on the workers
    got = {index: cast("tuple[int, int]", result) for index, result in stream.results()}
    assert sorted(got) == list(range(10_000))
    assert {pid for _, pid in got.values()} - {os.getpid()}  # done by workers
    assert done[-1] == (10_000, 30_000)


def _slow_light(item: tuple[int]) -> tuple[int, float]:
    if item[0] >= 0:
        time.sleep(0.002)
    return item[0], time.monotonic()


@needs_fork
def test_a_heavy_chunk_put_late_is_taken_before_the_light_ones_queued_earlier() -> None:
    stream = ForkStream(_slow_light, jobs=2)
    for i in range(400):  # ~0.4 s of light work per worker
        stream.put(([i],), 1)
    heavy = stream.count
    stream.put(([-1],), 1 << 30, heavy=True)
    got = {index: cast("tuple[int, float]", result) for index, result in stream.results()}
    assert sorted(got) == list(range(401))
    light_times = sorted(got[i][1] for i in range(400))
    # Taken as soon as a worker was free, so before most of the light items queued before it (in
    # queue order it would come after all 400). Half, not "all but a few": on a loaded machine
    # the workers may finish dozens of light items while this process is still putting the rest
    # (with two test processes sharing the two cores, 12 went first).
    assert got[heavy][1] < light_times[200]


@needs_fork
def test_a_worker_that_dies_leaves_the_work_to_the_caller() -> None:
    """A worker killed (a file cut short under a mapping raises SIGBUS) makes the caller redo
    everything itself, with plain reads."""
    parent = os.getpid()

    def die_in_worker(item: tuple[int]) -> int:
        if item[0] == 7 and os.getpid() != parent:
            os._exit(3)
        return item[0]

    stream = ForkStream(die_in_worker, jobs=2)
    for start in range(0, 100, 10):
        stream.put((list(range(start, start + 10)),), 10)
    assert dict(stream.results()) == {i: i for i in range(100)}
    assert stream._children == {}


@needs_fork
def test_abort_stops_the_workers_and_leaves_no_child() -> None:
    stream = ForkStream(_slow_light, jobs=2)
    pids = list(stream._children.values())
    for i in range(2000):
        stream.put(([i],), 1)
    stream.abort()
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_with_threads_running_nothing_is_forked_and_the_caller_does_the_work() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        stream = ForkStream(_pid, jobs=2)
        assert not stream.started
        stream.put(([1, 2, 3],), 3)
        got = dict(stream.results())
    finally:
        stop.set()
        thread.join()
    assert got == {0: (1, os.getpid()), 1: (2, os.getpid()), 2: (3, os.getpid())}


def _digest_item(item: tuple[str, int]) -> bytes:
    out = digest(item[0], "sha256", item[1], bytearray(CHUNK))
    assert isinstance(out, bytes)
    return out


@needs_fork
def test_big_files_hashed_in_workers_match_hashlib(tmp_path: Path) -> None:
    """Files of a MiB and more are hashed from a mapping in the workers."""
    paths = []
    for n, size in enumerate((0, 10, CHUNK - 1, CHUNK, 3 * CHUNK + 5)):
        p = tmp_path / f"f{n}"
        p.write_bytes(os.urandom(size))
        paths.append(p)
    stream = ForkStream(_digest_item, jobs=2)
    for p in paths:
        stream.put(([str(p)], [p.stat().st_size]), p.stat().st_size, heavy=True)
    got = dict(stream.results())
    assert [got[i] for i in range(len(paths))] == [
        hashlib.sha256(p.read_bytes()).digest() for p in paths
    ]


@needs_fork
def test_a_file_bigger_than_one_mapping_window_is_hashed_window_by_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mapping moves through a big file (the worker's resident set stays bounded)."""
    from verify_env.pool import hashing

    monkeypatch.setattr(hashing, "MAP_WINDOW", 1 << 20)  # inherited by the forked workers
    p = tmp_path / "big"
    p.write_bytes(os.urandom(3 * CHUNK + 5))
    stream = ForkStream(_digest_item, jobs=2)
    stream.put(([str(p)], [p.stat().st_size]), p.stat().st_size, heavy=True)
    assert dict(stream.results()) == {0: hashlib.sha256(p.read_bytes()).digest()}
