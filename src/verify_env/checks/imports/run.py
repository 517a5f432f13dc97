"""Run import units in worker processes of the target interpreter, in parallel, with timeouts.

Each worker (`worker.py`, started with ``-B`` and ``PYTHONDONTWRITEBYTECODE=1`` so nothing
is written into the environment, in an empty temporary directory, with the user's environment
variables) imports unit after unit and reports every module as soon as it is known. A worker
keeps what it imported, so a dependency shared by many units (numpy) is imported once per
worker, and every requested module is imported once in the whole run. Workers run with
``-W ignore``: a DeprecationWarning on import is not a finding, and a ``PYTHONWARNINGS=error``
in the user's environment must not turn one into a failed import.

What a crash, a hang or an error means depends on what else the process had imported, so:
- a worker that dies (signal or exit) while importing a module: that module crashed;
- a module still importing after the timeout: its process group is killed (with anything it
  spawned) and the module timed out; the rest of its unit goes on in a fresh worker;
- an error or crash in a worker that had already imported OTHER units is not trusted: the
  module (with the rest of its unit below it) is re-run alone in a fresh process, so each
  verdict is what ``python -c "import m"`` gives (setuptools, for one, refuses to import
  after something imported the stdlib's distutils). After an error the worker goes on; after
  a crash it is gone and the rest of its unit goes to a fresh one.
Timeouts are not re-run: the run must end promptly.

Package code is untrusted (issue 18, §11): workers get a scrubbed environment (`scrubbed_env`:
what locating and loading code needs, plus the names ``VERIFY_ENV_IMPORT_ENV`` lists), a cap
on what they may say on the protocol pipe and write to their capture file, and at the end
their process groups are killed and, on Linux, any descendant that left its group with
``setsid()`` too (verify-env is the subreaper of what the imports spawn: `verify_env.sandbox`).
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from verify_env.checks.imports import worker

__all__ = ["ImportOutcome", "ImportRun", "run_imports"]

_POLL = 0.25  # seconds between checks of workers that neither speak nor exit
_STARTUP = 60.0  # seconds a worker may take to start before the interpreter is judged unusable
_MAX_PENDING = 4 << 20  # bytes of protocol a worker may send without a newline
PASS_ENV = "VERIFY_ENV_IMPORT_ENV"
"""Comma-separated names of further environment variables the imported code may see."""
_KEPT = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TERM",
    "TMPDIR",
    "TZ",
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "SYSTEMROOT",
)


def scrubbed_env(environ: Mapping[str, str], passed: Iterable[str] = ()) -> dict[str, str]:
    """What imported package code sees of our environment: what decides where code is found
    and how it loads (PATH, PYTHON*, LD_LIBRARY_PATH, the locale …), not tokens and
    secrets; plus the variables ``passed`` names (``VERIFY_ENV_IMPORT_ENV``, read by the
    settings: ``CUDA_HOME,MY_PLUGIN_DIR``)."""
    extra = set(passed)
    return {k: v for k, v in environ.items() if k in _KEPT or k.startswith("LC_") or k in extra}


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What importing one module did."""

    module: str
    """The dotted name."""
    status: str
    """``ok``, ``error``, ``crash``, ``timeout`` or ``skip`` (its parent package failed)."""
    seconds: float = 0.0
    """How long the import took (up to the timeout)."""
    chain: tuple[tuple[str, str], ...] = ()
    """For ``error``: (exception type, message) from the first cause to the one raised."""
    where: str | None = None
    """For ``error``: the file and line the exception was raised at."""
    output: str = ""
    """What the import printed (stdout and stderr), head and tail."""
    returncode: int | None = None
    """For ``crash``: the worker's exit status (negative: the signal)."""
    parent: str | None = None
    """For ``skip``: the failed package it lies below."""


@dataclass(slots=True)
class ImportRun:
    """All outcomes, and how the work was spread."""

    outcomes: dict[str, ImportOutcome] = field(default_factory=dict)
    """Final outcome per requested module."""
    processes: int = 0
    """Worker processes started."""
    reruns: int = 0
    """Units re-run alone in a fresh process to confirm a failure."""
    loaded: dict[str, int] = field(default_factory=dict)
    """Every module that imports loaded -> in how many worker processes (1 = loaded once)."""
    startup_error: str | None = None
    """Set when the interpreter could not even start a worker; then nothing was judged."""


def _has_exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether it has exited, WITHOUT reaping it (``poll`` would): a process group may only be
    signalled while its leader is unreaped, or the id could belong to someone else by then."""
    if proc.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker's process group (it and anything it spawned), if still ours."""
    if proc.returncode is not None:
        return  # reaped: the group was killed before that
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass(slots=True)
class _Task:
    modules: tuple[str, ...]
    needs: frozenset[str] = frozenset()
    """Top-level names it will import on the way (its distribution's and its requirements')."""
    alone: bool = False
    """Must run as the only unit of a fresh process."""


@dataclass(slots=True)
class _Worker:
    proc: subprocess.Popen[bytes]
    output: IO[bytes]
    alone: bool
    buffer: bytes = b""
    started: float = 0.0
    hello: bool = False
    task: _Task | None = None
    remaining: deque[str] = field(default_factory=deque)
    current: str | None = None
    since: float = 0.0
    units_done: int = 0
    loaded: set[str] = field(default_factory=set)
    tops: set[str] = field(default_factory=set)
    """Top-level names already imported here: units needing them cost less here."""


class _Runner:
    def __init__(
        self,
        executable: str,
        jobs: int,
        timeout: float,
        environ: Mapping[str, str],
        workdir: str,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.executable = executable
        self.progress = progress
        self.jobs = max(1, jobs)
        self.timeout = timeout
        self.env = dict(environ)
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.workdir = workdir
        self.cwd = os.path.join(workdir, "cwd")
        os.mkdir(self.cwd)
        with open(worker.__file__, encoding="utf-8") as fh:
            self.source = fh.read()
        self.selector = selectors.DefaultSelector()
        self.workers: list[_Worker] = []
        self.queue: deque[_Task] = deque()
        self.confirming: set[str] = set()
        """Modules re-run alone: what a shared worker says of them no longer counts."""
        self.run = ImportRun()

    # --- workers -------------------------------------------------------------------------
    def _spawn(self, alone: bool) -> _Worker:
        capture = open(os.path.join(self.workdir, f"out-{self.run.processes}"), "w+b")  # noqa: SIM115
        proc = subprocess.Popen(
            [self.executable, "-B", "-W", "ignore", "-c", self.source],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=capture,
            cwd=self.cwd,
            env=self.env,
            start_new_session=True,
        )
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        self.run.processes += 1
        worker = _Worker(proc, capture, alone, started=time.monotonic())
        self.selector.register(proc.stdout, selectors.EVENT_READ, worker)
        self.workers.append(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        """Kill the worker's whole process group (anything it spawned, even after a clean
        exit), then reap it. The group is killed before the leader is reaped: until then its
        id cannot be reused by anyone else's group."""
        assert worker.proc.stdout is not None
        self.selector.unregister(worker.proc.stdout)
        self.workers.remove(worker)
        _kill_group(worker.proc)
        for stream in (worker.proc.stdin, worker.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        worker.proc.wait()
        worker.output.close()
        for name in worker.loaded:
            self.run.loaded[name] = self.run.loaded.get(name, 0) + 1

    def _send(self, worker: _Worker, task: _Task) -> bool:
        worker.task = task
        worker.remaining = deque(task.modules)
        assert worker.proc.stdin is not None
        try:
            worker.proc.stdin.write(json.dumps(list(task.modules)).encode() + b"\n")
            worker.proc.stdin.flush()
        except OSError:
            return False  # it died: the exit is handled when its pipe closes
        return True

    def _pick(self, worker: _Worker | None) -> int | None:
        """The queue index of the unit ``worker`` (None: a new one) should take: not one
        another worker has loaded or is about to load (it is nearly free there), then the one
        sharing most of what this worker has loaded, then the biggest (the queue's order)."""
        tops = worker.tops if worker is not None else set()
        used = worker is not None and worker.units_done > 0
        elsewhere: set[str] = set()
        for other in self.workers:
            if other is not worker:
                elsewhere |= other.tops
                if other.task is not None:
                    elsewhere |= other.task.needs
        best, best_key = None, (True, 0, 0)
        for i, task in enumerate(self.queue):
            if task.alone and used:
                continue
            key = (task.modules[0].partition(".")[0] in elsewhere, -len(task.needs & tops), i)
            if best is None or key < best_key:
                best, best_key = i, key
        return best

    def _next_for(self, worker: _Worker) -> None:
        """Give an idle worker the next unit it may take, or let it exit."""
        if not worker.alone or worker.units_done == 0:
            best = self._pick(worker)
            if best is not None:
                task = self.queue[best]
                del self.queue[best]
                self._send(worker, task)
                return
        worker.task = None
        assert worker.proc.stdin is not None
        try:
            worker.proc.stdin.close()  # end of input: it exits at once
        except OSError:
            pass

    def _fill(self) -> None:
        busy = sum(1 for w in self.workers if w.task is not None or not w.hello)
        while self.queue and busy < self.jobs:
            task = self.queue[0]
            idle = next(
                (
                    w
                    for w in self.workers
                    if w.hello
                    and w.task is None
                    and not w.proc.stdin.closed  # type: ignore[union-attr]
                    and not (task.alone and w.units_done > 0)
                ),
                None,
            )
            if idle is not None:
                self._next_for(idle)
            else:
                pick = self._pick(None) or 0
                task = self.queue[pick]
                del self.queue[pick]
                worker = self._spawn(task.alone)
                worker.task = task  # sent once it says hello
                worker.remaining = deque(task.modules)
            busy += 1

    # --- events --------------------------------------------------------------------------
    def _record(self, outcome: ImportOutcome) -> None:
        self.run.outcomes[outcome.module] = outcome
        if self.progress is not None:
            self.progress(len(self.run.outcomes))

    @staticmethod
    def _needs(worker: _Worker) -> frozenset[str]:
        return worker.task.needs if worker.task is not None else frozenset()

    def _requeue_rest(self, worker: _Worker, failed: str, alone: bool) -> None:
        rest = [m for m in worker.remaining if m != failed and not m.startswith(failed + ".")]
        for m in worker.remaining:
            if m != failed and m.startswith(failed + "."):
                self._record(ImportOutcome(m, "skip", parent=failed))
        if rest:
            self.queue.appendleft(_Task(tuple(rest), self._needs(worker), alone))

    def _message(self, worker: _Worker, msg: dict[str, Any]) -> None:
        now = time.monotonic()
        if "hello" in msg:
            worker.hello = True
            if worker.task is not None:
                self._send(worker, worker.task)
            return
        if "start" in msg:
            worker.current, worker.since = str(msg["start"]), now
            return
        name = str(msg.get("ok") or msg.get("error") or msg.get("skip") or "")
        if name in worker.remaining:
            worker.remaining.remove(name)
        worker.current = None
        seconds = float(msg.get("seconds") or 0.0)
        if "ok" in msg:
            loaded = [str(m) for m in msg.get("loaded") or ()]
            worker.loaded.update(loaded)
            worker.tops.update(m.partition(".")[0] for m in loaded)
            worker.tops.add(name.partition(".")[0])
            self._record(ImportOutcome(name, "ok", seconds))
        elif "skip" in msg:
            if worker.alone or name not in self.confirming:
                self._record(ImportOutcome(name, "skip", parent=str(msg.get("parent"))))
        else:
            if worker.units_done > 0:  # other units were imported first: confirm alone,
                self.run.reruns += 1  # while this worker goes on (its "skip" of the
                below = tuple(
                    m
                    for m in worker.remaining  # children is overwritten)
                    if m.startswith(name + ".")
                )
                self.queue.appendleft(_Task((name, *below), self._needs(worker), True))
                self.confirming.update((name, *below))
            else:
                chain = tuple((str(t), str(m)) for t, m in msg.get("chain") or ())
                self._record(
                    ImportOutcome(
                        name,
                        "error",
                        seconds,
                        chain,
                        msg.get("where"),
                        str(msg.get("output") or ""),
                    )
                )
        if not worker.remaining:
            worker.units_done += 1
            self._next_for(worker)

    def _exited(self, worker: _Worker) -> None:
        """The worker's pipe closed or it is gone: attribute the death, re-queue the rest."""
        _kill_group(worker.proc)  # if it still runs (pipe closed, never started): now it won't
        code = worker.proc.wait()  # the status it died of (a kill after death changes nothing)
        if not worker.hello:
            worker.output.seek(0)
            text = worker.output.read(4000).decode("utf-8", "replace").strip()
            self.run.startup_error = (
                f"{self.executable} could not start the import worker "
                f"(exit {code}): {(text.splitlines() or ['no output'])[-1]}"
            )
            self._retire(worker)
            return
        current = worker.current
        if current is not None:
            if worker.units_done > 0:
                self.run.reruns += 1
                self.queue.appendleft(_Task(tuple(worker.remaining), self._needs(worker), True))
            else:
                worker.output.seek(0)
                printed = worker.output.read(16384).decode("utf-8", "replace")
                self._record(
                    ImportOutcome(
                        current,
                        "crash",
                        time.monotonic() - worker.since,
                        output=printed,
                        returncode=code,
                    )
                )
                self._requeue_rest(worker, current, alone=False)
        elif worker.remaining:
            self.queue.appendleft(_Task(tuple(worker.remaining), self._needs(worker), worker.alone))
        self._retire(worker)

    def _timed_out(self, worker: _Worker) -> None:
        assert worker.current is not None
        current = worker.current
        self._record(ImportOutcome(current, "timeout", time.monotonic() - worker.since))
        self._requeue_rest(worker, current, alone=False)
        self._retire(worker)

    def _read(self, worker: _Worker) -> None:
        """Handle everything the worker has said so far; its EOF retires it."""
        assert worker.proc.stdout is not None
        fd = worker.proc.stdout.fileno()
        while worker in self.workers:
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._exited(worker)
                return
            worker.buffer += data
            if len(worker.buffer) > _MAX_PENDING:  # imported code writing to our pipe
                _kill_group(worker.proc)
                self._exited(worker)
                return
            while b"\n" in worker.buffer and worker in self.workers:
                line, _, worker.buffer = worker.buffer.partition(b"\n")
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if isinstance(msg, dict):
                    self._message(worker, msg)

    def loop(self, units: Sequence[Sequence[str]], needs: Sequence[frozenset[str]]) -> ImportRun:
        self.queue.extend(_Task(tuple(u), n) for u, n in zip(units, needs, strict=True) if u)
        try:
            while (self.queue or self.workers) and self.run.startup_error is None:
                self._fill()
                now = time.monotonic()
                wait = _POLL
                for w in self.workers:
                    if w.current is not None:
                        wait = min(wait, max(0.0, w.since + self.timeout - now))
                for key, _ in self.selector.select(wait):
                    worker = key.data
                    if worker in self.workers:
                        self._read(worker)
                now = time.monotonic()
                for w in list(self.workers):
                    if w.current is not None and now - w.since > self.timeout:
                        self._timed_out(w)
                    elif not w.hello and now - w.started > max(_STARTUP, self.timeout):
                        self._exited(w)
                    elif _has_exited(w.proc) and w in self.workers:
                        self._read(w)  # drain what it said; EOF there retires it
                        if w in self.workers:
                            self._exited(w)
        finally:
            for w in list(self.workers):
                self._retire(w)
            self.selector.close()
        return self.run


def run_imports(
    executable: str,
    units: Sequence[Sequence[str]],
    jobs: int,
    timeout: float,
    needs: Sequence[frozenset[str]] | None = None,
    environ: Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
    passed: Iterable[str] = (),
) -> ImportRun:
    """Import each unit's modules in turn, units in parallel on ``jobs`` workers, biggest
    first; an idle worker prefers the unit whose ``needs`` (top-level names it will import on
    the way) it has imported most of, so shared dependencies load in as few processes as can
    be. ``progress`` hears the number of modules judged so far, after each."""
    from verify_env import sandbox

    workdir = tempfile.mkdtemp(prefix="verify-env-imports-")
    escaped = sandbox.Subreaper()
    try:
        return _Runner(
            executable,
            jobs,
            timeout,
            scrubbed_env(os.environ, passed) if environ is None else environ,
            workdir,
            progress,
        ).loop(units, needs or [frozenset()] * len(units))
    finally:
        escaped.kill_escaped()
        shutil.rmtree(workdir, ignore_errors=True)
