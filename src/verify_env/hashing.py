"""Digests of many files, with every core busy.

hashlib releases the GIL only while it hashes a large buffer; the Python work around each of
thousands of small files (open, fstat, read, compare) holds it, so threads leave a core idle on
a real site-packages. Forked worker processes do not share a GIL: each gets a share of the files
balanced by bytes, hashes it with large reads, and sends raw digests back through a pipe. Where
``fork`` is unavailable, or the work is too small to pay for a fork, the caller's process does
it alone.

A file is opened with ``O_NONBLOCK`` and checked with ``fstat`` before any read, so a FIFO or a
device that replaced a file between the caller's ``stat`` and our ``open`` is reported, never
read (a FIFO would block forever).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import selectors
import stat
import struct
from collections.abc import Callable, Sequence

__all__ = ["HashItem", "HashResult", "Hashing", "default_jobs", "hash_files"]

CHUNK = 1 << 20
# Below this much work a fork costs more than it saves (measured: forking the CLI process
# takes ~1-2 ms per child; hashing 8 MiB takes ~5 ms).
MIN_PARALLEL_BYTES = 8 << 20
MIN_PARALLEL_FILES = 256
# Per-file overhead expressed in bytes of hashing, for balancing shares (open+fstat+close
# cost about as much as hashing 32 KiB).
PER_FILE_COST = 32 << 10

HashResult = bytes | int | str
"""The raw digest; or the file's actual size when it differs from the expected one (nothing was
hashed); or why it could not be read: ``errno:N:text``, or ``type:MODE`` for a file that is not
a regular file (never read)."""

HashItem = tuple[str, str, int]
"""(path, hashlib algorithm, expected size or -1)."""

ProgressFn = Callable[[int, int], None]
"""Called with (files done, bytes done) as work completes."""


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _digest(path: str, algorithm: str, expected: int, buf: bytearray) -> HashResult:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        return f"errno:{exc.errno}:{exc.strerror}"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return f"type:{stat.S_IFMT(st.st_mode)}"
        if expected >= 0 and st.st_size != expected:
            return st.st_size
        h = hashlib.new(algorithm)
        view = memoryview(buf)
        with open(fd, "rb", buffering=0, closefd=False) as fh:
            while True:
                n = fh.readinto(buf)
                if not n:
                    break
                h.update(view[:n])
        return h.digest()
    except OSError as exc:
        return f"errno:{exc.errno}:{exc.strerror}"
    finally:
        os.close(fd)


def _run(items: Sequence[tuple[int, HashItem]], progress: ProgressFn | None,
         sizes: Sequence[int]) -> list[tuple[int, HashResult]]:
    buf = bytearray(CHUNK)
    out: list[tuple[int, HashResult]] = []
    done_bytes = 0
    for n, (index, (path, algorithm, expected)) in enumerate(items, start=1):
        out.append((index, _digest(path, algorithm, expected, buf)))
        done_bytes += sizes[index]
        if progress is not None and (n & 63) == 0:
            progress(n, done_bytes)
    if progress is not None:
        progress(len(items), done_bytes)
    return out


def _shares(sizes: Sequence[int], jobs: int) -> list[list[int]]:
    """Longest-processing-time-first: biggest files first, each to the lightest share."""
    shares: list[list[int]] = [[] for _ in range(jobs)]
    load = [0] * jobs
    for index in sorted(range(len(sizes)), key=sizes.__getitem__, reverse=True):
        k = load.index(min(load))
        shares[k].append(index)
        load[k] += sizes[index] + PER_FILE_COST
    return shares


_FRAME = struct.Struct("<cI")


def _child(items: Sequence[tuple[int, HashItem]], sizes: Sequence[int], wfd: int) -> None:
    def report(files: int, nbytes: int) -> None:
        payload = struct.pack("<QQ", files, nbytes)
        os.write(wfd, _FRAME.pack(b"p", len(payload)) + payload)

    results = _run(items, report, sizes)
    payload = marshal.dumps(results)
    data = _FRAME.pack(b"r", len(payload)) + payload
    view = memoryview(data)
    while view:
        view = view[os.write(wfd, view):]


def _start(items: list[tuple[int, HashItem]], sizes: Sequence[int], jobs: int
           ) -> dict[int, int] | None:
    """Fork one child per share; {read fd: pid}, or None if forking failed (nothing left)."""
    shares = _shares(sizes, jobs)
    children: dict[int, int] = {}
    for share in shares:
        if not share:
            continue
        rfd, wfd = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(rfd)
            os.close(wfd)
            _reap(children)
            return None
        if pid == 0:  # the child: hash, report, and leave without running any cleanup
            code = 0
            try:
                os.close(rfd)
                for fd in children:
                    os.close(fd)
                _child([items[i] for i in share], sizes, wfd)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(wfd)
        children[rfd] = pid
    return children


def _reap(children: dict[int, int]) -> None:
    for rfd, pid in children.items():
        os.close(rfd)
        os.waitpid(pid, 0)


def _collect(children: dict[int, int], progress: ProgressFn | None
             ) -> list[tuple[int, HashResult]] | None:
    buffers = {fd: bytearray() for fd in children}
    done: dict[int, tuple[int, int]] = {fd: (0, 0) for fd in children}
    results: list[tuple[int, HashResult]] = []
    failed = False
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
                buf = buffers[fd]
                buf += chunk
                while len(buf) >= _FRAME.size:
                    kind, length = _FRAME.unpack_from(buf)
                    if len(buf) < _FRAME.size + length:
                        break
                    payload = bytes(buf[_FRAME.size:_FRAME.size + length])
                    del buf[:_FRAME.size + length]
                    if kind == b"p":
                        files_done, bytes_done = struct.unpack("<QQ", payload)
                        done[fd] = (files_done, bytes_done)
                        if progress is not None:
                            progress(sum(f for f, _ in done.values()),
                                     sum(b for _, b in done.values()))
                    else:
                        results.extend(marshal.loads(payload))
    for rfd, pid in children.items():
        os.close(rfd)
        _, status = os.waitpid(pid, 0)
        failed = failed or status != 0
    return None if failed else results


class Hashing:
    """Digests being computed; `results()` waits for them.

    Started before the caller's other work so that forked workers hash while the caller walks
    directories and reads ELF headers: on two cores the serial parts then cost little wall time.
    """

    def __init__(self, items: Sequence[HashItem], sizes: Sequence[int], jobs: int | None = None,
                 progress: ProgressFn | None = None) -> None:
        self._items = [(i, item) for i, item in enumerate(items)]
        self._sizes = sizes
        self._progress = progress
        self._children: dict[int, int] | None = None
        jobs = default_jobs() if jobs is None else max(1, jobs)
        big_enough = sum(sizes) >= MIN_PARALLEL_BYTES or len(items) >= MIN_PARALLEL_FILES
        if jobs > 1 and big_enough and hasattr(os, "fork"):
            self._children = _start(self._items, sizes, min(jobs, len(items)))

    def results(self) -> list[HashResult]:
        """One result per item, in order."""
        pairs = None
        if self._children is not None:
            pairs = _collect(self._children, self._progress)
        if pairs is None:  # one process: by choice, or because a worker failed
            pairs = _run(self._items, self._progress, self._sizes)
        out: list[HashResult] = [""] * len(self._items)
        for index, result in pairs:
            out[index] = result
        return out


def hash_files(items: Sequence[HashItem], sizes: Sequence[int], jobs: int | None = None,
               progress: ProgressFn | None = None) -> list[HashResult]:
    """Digest each ``(path, algorithm, expected size)``; ``sizes`` balance the work."""
    return Hashing(items, sizes, jobs, progress).results()
