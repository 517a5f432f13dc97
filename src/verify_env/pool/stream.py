"""Per-file work that starts before the list of files is complete.

`ForkMap` needs every item up front, so on a cold run both cores sat idle while the inventory
read ~23k RECORD rows (~100 ms on the torch venv). `ForkStream` forks its workers first and is
fed chunk by chunk while the caller is still reading records: each chunk is marshalled into an
anonymous shared mapping made before the fork, and its place is announced through a pipe as
one 16-byte message (atomic below PIPE_BUF, so the workers, which share the pipe, never see
half of one). A chunk holding one heavy item goes through a second pipe that workers always look
at first, so a 434 MB libtorch met late in the inventory does not wait behind the small files
met before it and end the run alone.

The caller never blocks on a full pipe: what does not fit waits in the parent and is written
while `results()` reads the workers' answers, so neither side can wait on the other forever.
"""

from __future__ import annotations

import marshal
import mmap
import os
import selectors
import signal
import struct
from collections.abc import Callable, Sequence
from typing import Any

from verify_env.pool import hashing
from verify_env.pool.hashing import Answers, Results, default_jobs, send_progress, send_results

__all__ = ["ForkStream"]

_MESSAGE = struct.Struct("<QII")  # offset in the mapping, length, index of the first item
# Address space only: pages are taken as chunks are written (the torch venv's 23.5k items
# take ~3 MB). Chunks that would not fit are done in the caller's process at the end.
MAPPING_BYTES = 256 << 20

ProgressFn = Callable[[int, int], None]


def _nonblocking(fd: int) -> None:
    os.set_blocking(fd, False)


WORKER_NICENESS = 5
"""How much lower the workers' priority is than the caller's (``nice``).

The stream's work (hashing every recorded file: ~1 s of CPU for the torch venv) is needed only
at the end of a run, while the caller's own work (the inventory, the other checks, and the
workers those fork for a moment, e.g. the linkage check's) is the run's critical path. At equal
priority the scheduler shared each core evenly, so on 2 cores the caller waited on the
hashing it did not need yet; one step of 5 gives the caller ~3/4 of a shared core, and the
stream still gets every core the caller leaves idle."""


def _yield_to_the_caller() -> None:
    try:
        os.nice(WORKER_NICENESS)
    except OSError:  # not allowed here: the same priority, only slower
        pass


def _worker(
    func: Callable[[Any], object], shared: mmap.mmap, queues: list[int], wfd: int, report: bool
) -> None:
    """Take chunks, heavy ones first, until both queues are closed and empty; send results."""
    hashing._map_big_files = True
    results: Results = []
    n = done = 0
    open_queues = list(queues)
    while open_queues:
        raw = b""
        for fd in list(open_queues):
            try:
                raw = os.read(fd, _MESSAGE.size)
            except BlockingIOError:
                continue
            if raw:
                break
            open_queues.remove(fd)  # closed by the caller and drained
        if not raw:
            if open_queues:
                selector = selectors.DefaultSelector()
                for fd in open_queues:
                    selector.register(fd, selectors.EVENT_READ)
                selector.select()
                selector.close()
            continue
        offset, length, base = _MESSAGE.unpack(raw)
        columns, weight = marshal.loads(shared[offset : offset + length])
        for k, item in enumerate(zip(*columns, strict=True)):
            result = func(item)
            if result is not None:
                results.append((base + k, result))
        n += len(columns[0])
        done += weight
        if report:
            send_progress(wfd, n, done)
    send_results(wfd, results)


class ForkStream:
    """``func`` over items given in chunks while the workers already run.

    ``func`` and the items must be marshal-able data in, marshal-able data or None out, as for
    `ForkMap`. When forking is not possible (threads running, no ``fork``, one job) `started`
    is False and the caller should use `ForkMap` instead.
    """

    def __init__(
        self, func: Callable[[Any], object], jobs: int | None = None, report_progress: bool = False
    ) -> None:
        self._func = func
        self._items: list[tuple[Sequence[object], ...]] = []  # every chunk, for the fallback
        self._bases: list[int] = []
        self._spilled: list[int] = []  # chunk numbers that did not fit the mapping
        self._pending: dict[int, list[bytes]] = {}
        self._count = 0
        self._used = 0
        self._children: dict[int, int] = {}
        self._queues: list[int] = []  # write ends: heavy, light
        self.progress: ProgressFn | None = None
        jobs = default_jobs() if jobs is None else max(1, min(jobs, 4 * default_jobs()))
        self.started = jobs > 1 and hasattr(os, "fork") and not hashing._threaded()
        self._shared = mmap.mmap(-1, MAPPING_BYTES if self.started else 1)
        if not self.started:
            return
        reads: list[int] = []
        for _ in range(2):
            r, w = os.pipe()
            _nonblocking(r)
            _nonblocking(w)
            reads.append(r)
            self._queues.append(w)
            self._pending[w] = []
        try:
            for _ in range(jobs):
                rfd, wfd = os.pipe()
                pid = os.fork()
                if pid == 0:  # the child: work, report, leave without any cleanup
                    code = 0
                    try:
                        os.close(rfd)
                        for fd in (*self._children, *self._queues):
                            os.close(fd)
                        _yield_to_the_caller()
                        _worker(func, self._shared, reads, wfd, report_progress)
                    except BaseException:
                        code = 1
                    finally:
                        os._exit(code)
                os.close(wfd)
                self._children[rfd] = pid
        except OSError:
            self.abort()
            self.started = False
        finally:
            for fd in reads:
                os.close(fd)

    @property
    def count(self) -> int:
        """Items put so far; the next one gets this index."""
        return self._count

    def put(self, columns: tuple[Sequence[object], ...], weight: int, heavy: bool = False) -> None:
        """Queue one chunk, given as columns (item k is ``tuple(c[k] for c in columns)``):
        marshalling a few lists of strings costs far less than building a tuple per item.
        Indices continue from the previous chunk; ``heavy`` jumps ahead of the light ones."""
        base = self._count
        self._items.append(columns)
        self._bases.append(base)
        self._count += len(columns[0])
        if not self.started:
            return
        payload = marshal.dumps((tuple(list(c) for c in columns), weight))
        if self._used + len(payload) > len(self._shared):
            self._spilled.append(len(self._items) - 1)
            return
        self._shared[self._used : self._used + len(payload)] = payload
        message = _MESSAGE.pack(self._used, len(payload), base)
        self._used += len(payload)
        queue = self._queues[0 if heavy else 1]
        if self._pending[queue] or not self._write(queue, message):
            self._pending[queue].append(message)

    @staticmethod
    def _write(fd: int, message: bytes) -> bool:
        try:
            os.write(fd, message)  # 16 bytes: all or nothing
        except BlockingIOError:
            return False
        return True

    def abort(self) -> None:
        """Stop the workers and forget the work (the caller failed before `results`)."""
        for fd in self._queues:
            os.close(fd)
        self._queues = []
        for rfd, pid in self._children.items():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            os.close(rfd)
            os.waitpid(pid, 0)
        self._children = {}
        if not self._shared.closed:
            self._shared.close()

    def results(self) -> Results:
        """(index, result) for every item whose result is not None, in no particular order."""
        out = self._collect() if self.started else None
        if out is None:  # no workers, or one failed: everything in this process
            out = []
            for base, items in zip(self._bases, self._items, strict=True):
                out.extend(self._here(base, items))
            return out
        for k in self._spilled:
            out.extend(self._here(self._bases[k], self._items[k]))
        return out

    def _here(self, base: int, columns: tuple[Sequence[object], ...]) -> Results:
        out: Results = []
        for k, item in enumerate(zip(*columns, strict=True)):
            result = self._func(item)
            if result is not None:
                out.append((base + k, result))
        return out

    def _collect(self) -> Results | None:
        """Write what is still pending, close the queues, read every worker's answer."""
        answers = Answers(list(self._children), self.progress)
        with selectors.DefaultSelector() as sel:
            for fd in self._children:
                sel.register(fd, selectors.EVENT_READ)
            for queue in list(self._queues):
                if self._pending[queue]:
                    sel.register(queue, selectors.EVENT_WRITE)
                else:
                    os.close(queue)
                    self._queues.remove(queue)
            readers = set(self._children)
            while readers:
                for key, _ in sel.select():
                    fd = int(key.fd)
                    if fd in self._pending and fd in self._queues:  # a queue with room
                        pending = self._pending[fd]
                        while pending and self._write(fd, pending[0]):
                            pending.pop(0)
                        if not pending:
                            sel.unregister(fd)
                            os.close(fd)
                            self._queues.remove(fd)
                        continue
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        sel.unregister(fd)
                        readers.discard(fd)
                        continue
                    answers.feed(fd, chunk)
        for queue in self._queues:
            os.close(queue)
        self._queues = []
        failed = False
        for rfd, pid in self._children.items():
            os.close(rfd)
            _, status = os.waitpid(pid, 0)
            failed = failed or status != 0
        self._children = {}
        self._shared.close()
        return None if failed else answers.results
