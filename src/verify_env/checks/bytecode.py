"""Compiled files: what Python loads in place of a recorded source must be compiled from it.

A recorded ``six.py`` that hashes as recorded proves nothing about what ``import six`` runs:
Python loads ``__pycache__/six.cpython-311.pyc`` instead whenever that file's header names the
source's mtime and size (or, PEP 552, its hash), and never looks at what the body holds. A
``.pyc`` compiled from other source and stamped with the untouched ``.py``'s mtime and size
runs on import (issue 18, §4). Reported by the record check as ``bytecode-mismatch``.

Which files (`pyc_files`): what Python's ``SourceFileLoader`` would load for a recorded
source, with the *target's* cache tag and magic number; by default each distribution's entry
modules, under ``--strict`` every one.

What is judged (`pyc_compare`):

- **the header**: a wrong magic number or unknown flags, or a timestamp/size or checked
  source hash that names another state of the source, makes Python compile the source
  instead: harmless (stale), never a finding. An *unchecked* hash-based file is loaded without
  a look at the source: if its hash is not the source's, the code that runs is not the
  installed source, an error.
- **the code, compiled and compared** (code objects, not bytes): for a file Python would
  load, only a compile of its source proves the body.
- **which interpreter compiles**: verify-env's own when it is the target's exact version
  (magic numbers are shared by patch releases whose compilers may still differ), else the
  target's own interpreter, isolated (``-I -S -B``, standard library only, like the probe);
  in-process never: ``marshal.loads`` of a hostile file may crash the process that runs it.
  The subprocess runs in its own session with a deadline and an output cap
  (`verify_env.sandbox`); a file whose judgement died with it is a skip, not a verdict.

Where the CPU goes (a cold default run of the torch venv, 30 entry modules): ~70 ms in the
comparer, ~60 of them compiling and ~9 starting the interpreter; ~6 ms here, finding the
files. The compile stays out of this process although it runs no code of the environment:
this process is the run's critical path, the comparer overlaps it. The comparer starts in the
background (`pyc_compare.NICE`), so that it takes the CPU the hashing leaves idle rather than
slow it; `Pending.into` hands what it has not judged by then to one at full priority. Its
request goes in a memory file, without ``tempfile`` and ``json`` (imports of a few ms each).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterable

from verify_env.cache.observer import declare
from verify_env.cache.statcache import packed
from verify_env.checks.interface import CheckResult, Context
from verify_env.checks.pyc_files import CHECK, CONTENT, HEADER, SPACE, Item, candidates
from verify_env.finding import Finding, Severity, Skip
from verify_env.inventory import Distribution
from verify_env.target.model import Target

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess

__all__ = ["CODE", "Pending", "start"]

CODE = "bytecode-mismatch"
_SPLIT_BYTES = 8 << 20
"""Source bytes to compile above which the work is split over ``--jobs`` processes."""
_COLLECT = 0.05
"""Seconds `Pending.into` reads a background comparer's answers before it takes over."""
_VERDICTS = frozenset(
    ("ignored", "stale", "loaded", "same", "differs", "unchecked-stale", "unreadable")
)


def _compiler(target: Target) -> tuple[str, bool]:
    """The interpreter that judges (verify-env's own when it is the target's version, else the
    target's), and whether it may compile (False: header only)."""
    import importlib.util

    same = (
        target.implementation == sys.implementation.name
        and target.version == tuple(sys.version_info[:3])
        and target.magic == importlib.util.MAGIC_NUMBER
    )
    if same or target.executable is None:
        return sys.executable, same
    return target.executable, target.implementation == "cpython"


class Pending:
    """The compiled files' judgement, started by `start`; `into` waits and adds what it found
    to the record check's result."""

    def __init__(self, ctx: Context, items: list[Item], skips: list[Skip]) -> None:
        self.ctx = ctx
        self.skips = skips
        self.items = items
        self.runs: list[tuple[subprocess.Popen[bytes], list[Item]]] = []
        self.judged: list[tuple[Item, str, str]] = []
        """Verdicts reached in this process: headers read, no code loaded."""
        self.interpreter, self.compiles = _compiler(ctx.target)
        later = self._headers(items)
        if later:
            self._start(later)

    def _headers(self, items: list[Item]) -> list[Item]:
        """Judge by header, here, what needs no compile; return what the comparer must see:
        the files whose code is compared, and hash-based files (their hash is the target's
        to compute)."""
        from verify_env.checks.pyc_compare import judge

        magic = self.ctx.target.magic
        later = []
        for item in items:
            if self.compiles and item.compare:
                later.append(item)
                continue
            if magic is None:
                continue
            verdict, detail = judge(item.source[1], item.pyc, item.optimize, False, False, magic)
            if verdict == "loaded" and detail != "timestamp" and self.compiles:
                compare = item.compare or detail == "unchecked-hash"
                later.append(dataclasses.replace(item, compare=compare))
            else:
                self.judged.append((item, verdict, detail))
        return later

    def _start(self, items: list[Item]) -> None:
        work = sum(i.size for i in items if i.compare)
        parts = max(1, min(self.ctx.jobs, work // _SPLIT_BYTES)) if self.compiles else 1
        groups: list[list[Item]] = [[] for _ in range(parts)]
        loads = [0] * parts
        for item in sorted(items, key=lambda i: -i.size if i.compare else 0):
            k = loads.index(min(loads))
            groups[k].append(item)
            loads[k] += (item.size if item.compare else 0) + 1
        for group in groups:
            proc = self._spawn(group, background=True)
            if proc is not None:
                self.runs.append((proc, group))

    def _spawn(self, group: list[Item], background: bool) -> subprocess.Popen[bytes] | None:
        """A comparer for ``group`` (None: it could not start; a skip says so). In the
        ``background`` it lowers its priority (`pyc_compare.NICE`)."""
        from verify_env import sandbox
        from verify_env.checks.pyc_compare import request

        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyc_compare.py")
        asked = [(i.source.location, i.pyc, i.optimize, i.compare) for i in group]
        declare(p for a in asked for p in a[:2])  # the comparer reads them, not this process
        try:
            fd = _request_file(request(self.compiles, asked, background))
            try:
                return sandbox.start([self.interpreter, "-I", "-S", "-B", script], stdin=fd)
            finally:
                os.close(fd)
        except OSError as exc:
            self.skips.append(
                Skip(
                    CHECK,
                    None,
                    None,
                    f"compiled files not judged: {self.interpreter} could not be run "
                    f"({exc.strerror or exc})",
                )
            )
            return None

    def into(self, result: CheckResult) -> None:
        """Collect the comparers' verdicts; their findings and skips join ``result``.

        A comparer still at work when the run comes here has been yielding the CPU to the
        run's own work, which is over: what it answered is kept, and a comparer at full
        priority judges the rest (so a machine busy with other work never leaves the run
        waiting on a starved process). One that crashed on a hostile file crashes again on
        it: the skip names that file, as before."""
        from verify_env import sandbox

        compared = 0
        for item, verdict, detail in self.judged:
            self._judged(item, verdict, detail, result)
        for proc, group in self.runs:
            cap = 256 * len(group) + (64 << 10)
            done = sandbox.finish(proc, _COLLECT, cap)
            answers = _answers(done.stdout, len(group))
            missing = [k for k in range(len(group)) if k not in answers]
            if missing:  # still at work (or crashed): the rest at full priority, once
                rest = [group[k] for k in missing]
                again = self._spawn(rest, background=False)
                if again is not None:
                    work = sum(i.size for i in rest if i.compare)
                    done = sandbox.finish(again, 60.0 + 2.0 * work / (1 << 20), cap)
                    more = _answers(done.stdout, len(rest))
                    answers.update((missing[k], answer) for k, answer in more.items())
                    missing = [k for k in missing if k not in answers]
            for index, (verdict, detail) in sorted(answers.items()):
                compared += verdict in ("same", "differs")
                self._judged(group[index], verdict, detail, result)
            if missing:
                first = group[missing[0]]
                why = (
                    "timed out"
                    if done.timed_out
                    else f"stopped (exit {done.returncode}) while judging {first.pyc}"
                )
                result.skips.append(
                    Skip(
                        CHECK,
                        first.dist.name,
                        first.path,
                        f"{len(missing)} compiled file(s) not judged: {self.interpreter} {why}",
                    )
                )
        result.skips.extend(self.skips)
        if self.items:
            which = "every file Python would load" if self.ctx.options.strict else "entry modules"
            how = "" if self.compiles else ", by header only: no interpreter of its version"
            result.details.append(
                f"bytecode: {len(self.items)} compiled file(s) of {which} judged, {compared} "
                f"compared with their source by {self.interpreter}{how}"
            )

    def _judged(self, item: Item, verdict: str, detail: str, result: CheckResult) -> None:
        level = {"ignored": CONTENT, "stale": CONTENT, "same": CONTENT, "loaded": HEADER}
        if verdict in level:
            if not item.recent and item.keys is not None:
                pyc_key, source_key = item.keys
                value = (packed(source_key), level[verdict])
                self.ctx.cache.remember(SPACE, item.pyc, pyc_key, value)
            return
        if verdict == "unreadable":
            result.skips.append(Skip(CHECK, item.dist.name, item.path, detail))
            return
        result.findings.append(_finding(item, verdict, detail, self.ctx.target))


_HOW = {
    "timestamp": "its header names the source's mtime and size",
    "checked-hash": "its header carries the source's hash",
    "unchecked-hash": "it is an unchecked hash-based file, loaded without a look at the source",
}


def _finding(item: Item, verdict: str, detail: str, target: Target) -> Finding:
    import shlex

    source = item.source.path
    if verdict == "unchecked-stale":
        message = (
            f"{item.path} is an unchecked hash-based compiled file whose source hash is not "
            f"{source}'s: Python loads it without a look at the source, so what runs is not "
            "the installed source"
        )
    else:
        kind, _, why = detail.partition("; ")
        message = (
            f"{item.path} is not compiled from {source}, yet Python loads it in its place "
            f"({_HOW.get(kind, kind)})" + (f": {why}" if why else "")
        )
    hint = (
        f"rm {shlex.quote(item.pyc)} (Python compiles {os.path.basename(source)} again), then "
        "find out what wrote it: a compiled file that does not match its source is a tamper "
        "or a corruption"
    )
    return Finding(
        CHECK,
        CODE,
        Severity.ERROR,
        item.dist.name,
        item.dist.version,
        item.dist.installer,
        item.path,
        message,
        hint,
    )


def start(ctx: Context, dists: Iterable[Distribution]) -> Pending:
    """Find the compiled files to judge and start judging them (in the background); the
    result's `Pending.into` waits."""
    items, skips = candidates(ctx, dists)
    return Pending(ctx, items, skips)


def _request_file(data: bytes) -> int:
    """A descriptor to read ``data`` from, at its start: a memory file (Linux), else a
    temporary file. Not a pipe: a strict run's request (a few MB) would not fit in one before
    the comparer reads it."""
    try:
        fd = os.memfd_create("verify-env-pyc-request", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # not Linux, or memfd refused
        import tempfile

        fd, name = tempfile.mkstemp(prefix="verify-env-pyc-")
        os.unlink(name)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _answers(stdout: bytes, count: int) -> dict[int, tuple[str, str]]:
    """A comparer's verdicts by index: whole lines only, with a verdict it can give (a
    comparer killed mid-line leaves a piece of one)."""
    answers: dict[int, tuple[str, str]] = {}
    for line in stdout.decode("utf-8", "replace").split("\n")[:-1]:
        index_text, _, rest = line.partition("\t")
        verdict, _, detail = rest.partition("\t")
        if index_text.isdigit() and int(index_text) < count and verdict in _VERDICTS:
            answers[int(index_text)] = (verdict, detail)
    return answers
