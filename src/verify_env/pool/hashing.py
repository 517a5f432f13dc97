"""Per-file work on many files with every core busy: digests above all.

hashlib releases the GIL only while it hashes a large buffer; the Python work around each of
thousands of small files (stat, open, fstat, read, compare) holds it, so threads leave a core
idle on a real site-packages. Forked worker processes do not share a GIL: `ForkMap` cuts the
items into chunks of about equal weight (bytes), lets each worker pull chunks until none is
left, runs a function on every item and sends back, through a pipe, only the results that are
not None. Where ``fork`` is unavailable, or the work is too small to pay for a fork, the
caller's process does it alone.

`digest` opens with ``O_NONBLOCK`` and checks ``fstat`` before any read, so a FIFO or a device
that replaced a file is reported, never read (a FIFO would block forever).
"""

from __future__ import annotations

import hashlib
import marshal
import mmap
import os
import selectors
import stat
import struct
import sys
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar, cast

__all__ = ["ForkMap", "HashItem", "HashResult", "default_jobs", "digest", "hash_files"]

CHUNK = 1 << 20
# Below this much work a fork costs more than it saves (measured: forking the CLI process
# takes ~1-2 ms per child; hashing 8 MiB takes ~5 ms).
MIN_PARALLEL_BYTES = 8 << 20
MIN_PARALLEL_ITEMS = 256
MIN_PARALLEL_FILES = MIN_PARALLEL_ITEMS
# Per-item overhead expressed in bytes of hashing, for balancing shares (stat, open, fstat and
# close cost about as much as hashing 32 KiB).
PER_FILE_COST = 32 << 10

HashResult = bytes | int | str
"""The raw digest; or the file's actual size when it differs from the expected one (nothing was
hashed); or why it could not be read: ``errno:N:text``, or ``type:MODE`` for a file that is not
a regular file (never read)."""

HashItem = tuple[str, str, int]
"""(path, hashlib algorithm, expected size or -1)."""

ProgressFn = Callable[[int, int], None]
"""Called with (items done, weight done) as work completes."""

Item = TypeVar("Item")


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


# Files of a MiB and more are hashed from a read-only mapping in the forked workers: no copy
# from the page cache (the torch venv's 0.84 GB in 78 such files: 0.17 s of system time read,
# 0.05 s mapped). Only in workers: a file cut short while mapped raises SIGBUS, which kills the
# worker, and the caller then redoes the work in its own process with plain reads.
_map_big_files = False

_CONSTRUCTORS: dict[str, Callable[..., hashlib._Hash]] = {}


def _constructor(algorithm: str) -> Callable[..., hashlib._Hash]:
    """``hashlib.sha256`` itself rather than ``hashlib.new("sha256")``: 0.2 us less a file."""
    made = _CONSTRUCTORS.get(algorithm)
    if made is None:
        named = getattr(hashlib, algorithm, None)
        made = (
            named
            if callable(named) and algorithm in hashlib.algorithms_guaranteed
            else (lambda data=b"", _name=algorithm: hashlib.new(_name, data))
        )
        _CONSTRUCTORS[algorithm] = made
    return made


# One window of a big file mapped at a time: mapped pages count in the worker's resident set,
# and a whole 434 MB libtorch mapped at once took a cold run's peak RSS to 441 MB (issue 3:
# under 150 MB). 32 MiB windows keep the saving of not copying.
MAP_WINDOW = 32 << 20


def _mapped_digest(fd: int, size: int, new: Callable[..., hashlib._Hash]) -> bytes:
    h = new()
    offset = 0
    while offset < size:
        length = min(MAP_WINDOW, size - offset)
        with mmap.mmap(fd, length, prot=mmap.PROT_READ, offset=offset) as window:
            h.update(window)
        offset += length
    if os.fstat(fd).st_size != size:  # it grew or shrank meanwhile: not the file we sized
        raise ValueError("size changed while hashing")
    return h.digest()


def _grew(fd: int, expected: int) -> HashResult:
    """The outcome for a file that grew while it was read: its size now when one was
    recorded (a size-mismatch), else an error text."""
    try:
        now = os.fstat(fd).st_size
    except OSError:
        now = -1
    if expected >= 0:
        return max(now, expected + 1)
    return "errno::it grew while it was being read"


def digest(
    path: str, algorithm: str, expected: int, buf: bytearray, size: int | None = None
) -> HashResult:
    """The file's raw digest, unless it is not a regular file or not ``expected`` bytes.

    At most the size found (``size``, or fstat's) plus one byte is ever read (issue 18, §8).

    ``size``: the caller has just stat'ed the path and found a regular file of that size, so
    the ``fstat`` after opening is left out (a file swapped for a FIFO in between reads as
    empty, non-blocking, and fails its digest)."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        return f"errno:{exc.errno}:{exc.strerror}"
    try:
        if size is None:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return f"type:{stat.S_IFMT(st.st_mode)}"
            size = st.st_size
        if expected >= 0 and size != expected:
            return size
        new = _constructor(algorithm)
        if _map_big_files and size >= len(buf):
            try:
                return _mapped_digest(fd, size, new)
            except (OSError, ValueError):
                pass  # not mappable after all: read it
        # Never more than ``size`` (+1 to notice growth) is read: a file that grows while
        # read (a log, something appending forever) is a size change, not a longer hash.
        if size < len(buf):  # most files: one read, no file object (~2 us less a file)
            data = os.read(fd, size + 1)
            if len(data) <= size:
                return new(data).digest()
            return _grew(fd, expected)
        h = new()
        view = memoryview(buf)
        left = size + 1
        with open(fd, "rb", buffering=0, closefd=False) as fh:
            while left > 0:
                n = fh.readinto(view[: min(len(buf), left)])
                if not n:
                    break
                h.update(view[:n])
                left -= n
        if left <= 0:
            return _grew(fd, expected)
        return h.digest()
    except OSError as exc:
        return f"errno:{exc.errno}:{exc.strerror}"
    finally:
        os.close(fd)


Results = list[tuple[int, object]]


def _run(
    func: Callable[[object], object],
    items: Sequence[tuple[int, object]],
    weights: Sequence[int],
    progress: ProgressFn | None,
) -> Results:
    out: Results = []
    done = 0
    for n, (index, item) in enumerate(items, start=1):
        result = func(item)
        if result is not None:
            out.append((index, result))
        done += weights[index]
        if progress is not None and (n & 63) == 0:
            progress(n, done)
    if progress is not None:
        progress(len(items), done)
    return out


# Chunks per worker: enough that the last one to finish leaves the other cores idle for at most
# ~1/CHUNKS_PER_JOB of the run, few enough that fetching one costs nothing (one 4-byte read).
CHUNKS_PER_JOB = 24
_INDEX = struct.Struct("<I")


def _chunks(weights: Sequence[int], jobs: int) -> list[list[int]]:
    """Contiguous runs of about equal weight (bytes plus a per-item cost), heaviest first.

    Workers pull chunks as they go, so a core slowed by the caller's own work (or anything else
    on the machine) simply takes fewer: with fixed shares, one per worker, the other worker sat
    idle for the last ~100 ms of a cold run of the torch venv. Contiguous keeps a worker in its
    own directories; heaviest first (a 434 MB libtorch is a chunk of its own) keeps the tail
    short. One linear pass and a sort of the chunks, not of the items (~25 ms on 23.5k items).
    """
    total = sum(weights) + PER_FILE_COST * len(weights)
    bound = max(1.0, total / (jobs * CHUNKS_PER_JOB))
    chunks: list[list[int]] = []
    loads: list[int] = []
    current: list[int] = []
    acc = 0
    for index, weight in enumerate(weights):
        cost = weight + PER_FILE_COST
        if current and (acc + cost > bound):
            chunks.append(current)
            loads.append(acc)
            current, acc = [], 0
        current.append(index)
        acc += cost
    if current:
        chunks.append(current)
        loads.append(acc)
    order = sorted(range(len(chunks)), key=loads.__getitem__, reverse=True)
    return [chunks[k] for k in order]


_FRAME = struct.Struct("<cI")  # kind (b"p" progress, b"r" results), payload length


def send_progress(wfd: int, n: int, done: int) -> None:
    """A worker's running count: items and weight done so far."""
    payload = struct.pack("<QQ", n, done)
    os.write(wfd, _FRAME.pack(b"p", len(payload)) + payload)


def send_results(wfd: int, results: Results) -> None:
    """A worker's last frame: every (index, result) it has."""
    payload = marshal.dumps(results)
    view = memoryview(_FRAME.pack(b"r", len(payload)) + payload)
    while view:
        view = view[os.write(wfd, view) :]


class Answers:
    """The workers' frames as they arrive on their pipes, one buffer per pipe."""

    def __init__(self, fds: Sequence[int], progress: ProgressFn | None) -> None:
        self.results: Results = []
        self._buffers = {fd: bytearray() for fd in fds}
        self._done = {fd: (0, 0) for fd in fds}
        self._progress = progress

    def feed(self, fd: int, chunk: bytes) -> None:
        buf = self._buffers[fd]
        buf += chunk
        while len(buf) >= _FRAME.size:
            kind, length = _FRAME.unpack_from(buf)
            if len(buf) < _FRAME.size + length:
                break
            payload = bytes(buf[_FRAME.size : _FRAME.size + length])
            del buf[: _FRAME.size + length]
            if kind == b"p":
                self._done[fd] = struct.unpack("<QQ", payload)
                if self._progress is not None:
                    self._progress(
                        sum(n for n, _ in self._done.values()),
                        sum(b for _, b in self._done.values()),
                    )
            else:
                self.results.extend(marshal.loads(payload))


def _child(
    func: Callable[[object], object],
    items: Sequence[tuple[int, object]],
    weights: Sequence[int],
    chunks: Sequence[Sequence[int]],
    queue: int,
    wfd: int,
) -> None:
    """Take chunk numbers from ``queue`` until it is empty, then send every result at once."""
    global _map_big_files
    _map_big_files = True
    results: Results = []
    n = done = 0
    while True:
        raw = os.read(queue, _INDEX.size)
        if len(raw) < _INDEX.size:
            break
        chunk = chunks[_INDEX.unpack(raw)[0]]
        for i in chunk:
            index, item = items[i]
            result = func(item)
            if result is not None:
                results.append((index, result))
            done += weights[index]
        n += len(chunk)
        send_progress(wfd, n, done)
    send_results(wfd, results)


def _start(
    func: Callable[[object], object],
    items: Sequence[tuple[int, object]],
    weights: Sequence[int],
    jobs: int,
) -> dict[int, int] | None:
    """Fork the workers; {read fd: pid}, or None if that failed (then nothing is left running).

    Every chunk number is written to one pipe before the first fork and its write end closed,
    so a worker's read returns a whole number (all writes are 4 bytes; the pipe serialises
    readers) or end-of-file when the work is gone. The queue holds at most 16k numbers in
    the pipe's 64 KiB."""
    chunks = _chunks(weights, jobs)[: (1 << 14)]
    if sum(len(c) for c in chunks) != len(items):  # pragma: no cover - > 16k chunks
        return None
    queue, feed = os.pipe()
    try:
        os.write(feed, b"".join(_INDEX.pack(k) for k in range(len(chunks))))
    finally:
        os.close(feed)
    children: dict[int, int] = {}
    try:
        for _ in range(min(jobs, len(chunks))):
            rfd, wfd = os.pipe()
            try:
                pid = os.fork()
            except OSError:
                os.close(rfd)
                os.close(wfd)
                _reap(children)
                return None
            if pid == 0:  # the child: work, report, and leave without running any cleanup
                code = 0
                try:
                    os.close(rfd)
                    for fd in children:
                        os.close(fd)
                    _child(func, items, weights, chunks, queue, wfd)
                except BaseException:
                    code = 1
                finally:
                    os._exit(code)
            os.close(wfd)
            children[rfd] = pid
    finally:
        os.close(queue)
    return children


def _reap(children: dict[int, int]) -> None:
    for rfd, pid in children.items():
        os.close(rfd)
        os.waitpid(pid, 0)


def _collect(children: dict[int, int], progress: ProgressFn | None) -> Results | None:
    answers = Answers(list(children), progress)
    with selectors.DefaultSelector() as sel:
        for fd in children:
            sel.register(fd, selectors.EVENT_READ)
        open_fds = set(children)
        while open_fds:
            for key, _ in sel.select():
                fd = int(key.fd)
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    sel.unregister(fd)
                    open_fds.discard(fd)
                    continue
                answers.feed(fd, chunk)
    failed = False
    for rfd, pid in children.items():
        os.close(rfd)
        _, status = os.waitpid(pid, 0)
        failed = failed or status != 0
    return None if failed else answers.results


def _threaded() -> bool:
    """Another thread is running (a host such as conda may have some): forking then can
    deadlock on a lock that thread holds, so the work stays in this process."""
    threading = sys.modules.get("threading")
    return threading is not None and threading.active_count() > 1


class ForkMap(Generic[Item]):
    """``func`` applied to every item, in forked workers; `results()` waits for them.

    Started before the caller's other work, so the workers run while the caller walks
    directories and reads ELF headers. ``func`` must return marshal-able data or None; only
    the non-None results come back, so a warm run that finds nothing sends almost nothing.
    """

    def __init__(
        self,
        func: Callable[[Item], object],
        items: Sequence[Item],
        weights: Sequence[int],
        jobs: int | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        self._func: Callable[[object], object] = func  # type: ignore[assignment]
        self._items: list[tuple[int, object]] = list(enumerate(items))
        self._weights = weights
        self._progress = progress
        self._children: dict[int, int] | None = None
        # More workers than cores only adds forks (``--jobs 5000`` would fork one per file).
        jobs = default_jobs() if jobs is None else max(1, min(jobs, 4 * default_jobs()))
        big = sum(weights) >= MIN_PARALLEL_BYTES or len(items) >= MIN_PARALLEL_ITEMS
        if jobs > 1 and big and hasattr(os, "fork") and not _threaded():
            self._children = _start(self._func, self._items, weights, min(jobs, len(items)))

    def results(self) -> Results:
        """(index, result) for every item whose result is not None, in no particular order."""
        out = None
        if self._children is not None:
            out = _collect(self._children, self._progress)
        if out is None:  # one process: by choice, or because a worker failed
            out = _run(self._func, self._items, self._weights, self._progress)
        return out


def hash_files(
    items: Sequence[HashItem],
    sizes: Sequence[int],
    jobs: int | None = None,
    progress: ProgressFn | None = None,
) -> list[HashResult]:
    """Digest each ``(path, algorithm, expected size)``, in order; ``sizes`` balance the work."""
    buf = bytearray(CHUNK)

    def one(item: HashItem) -> HashResult:
        return digest(item[0], item[1], item[2], buf)

    out: list[HashResult] = [""] * len(items)
    for index, result in ForkMap(one, items, sizes, jobs, progress).results():
        out[index] = cast(HashResult, result)
    return out
