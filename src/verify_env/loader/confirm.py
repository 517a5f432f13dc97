"""Ask the system loader itself where a file's libraries are: the target's own ELF interpreter
(PT_INTERP of its python, e.g. ``/lib64/ld-linux-x86-64.so.2``) run on the file in trace mode.

``LD_TRACE_LOADED_OBJECTS=1 ld.so FILE`` is what ``ldd`` runs: the loader maps every needed
object, prints where it found each (``name => path`` or ``name => not found``) and exits before
any constructor runs. ``ld.so --list`` is the same but stops at the first missing library, so it
tells less. The file is loaded as the process's main object, so what a Python process adds is
passed explicitly: the DT_RPATH it inherits from the interpreter as ``--library-path`` (ahead
of the target's LD_LIBRARY_PATH, which is where ld.so searches them when the file has no
DT_RUNPATH), and the libraries already in the process as ``--preload``. Our own environment never
leaks into the child: it gets only what the target's environment says.

With ``LD_DEBUG=libs`` glibc's loader also says every directory it searched and every file it
tried (hwcaps subdirectories, which the static model leaves to it, included): what its answer
depends on, so a later run can tell by a stat of each that the answer still holds
(`loader.witness`). Its lines go to stderr, apart from the listing; they never reach a message.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from verify_env.loader.search import Closure, ObjectFacts, Resolution, SearchSetup, expand

__all__ = ["Job", "Listing", "confirm", "reconcile", "search_context"]

TIMEOUT = 20.0
_PARALLEL = 4


@dataclass(frozen=True, slots=True)
class Job:
    """One file to hand to the loader, with what the process would add."""

    path: str
    """The object to load as if first."""
    library_path: tuple[str, ...]
    """Directories searched after the file's own DT_RPATH (inherited RPATH + LD_LIBRARY_PATH)."""
    preload: tuple[str, ...]
    """Paths of libraries already in the process that the file's tree names."""


@dataclass(frozen=True, slots=True)
class Listing:
    """The loader's answer for one job."""

    found: Mapping[str, str | None]
    """DT_NEEDED name -> path, or None for ``not found``."""
    error: str | None
    """Why the loader gave no listing (e.g. ``invalid ELF header``), or None."""
    tried: tuple[str, ...] = ()
    """Directories and files the loader looked at (``LD_DEBUG=libs``; empty from a loader
    that does not say, e.g. musl's)."""


_DEBUG = re.compile(r"\s*\d+:\s(.*)")
_TRIED = ("trying file=", "search cache=")


def _debug(err: str) -> tuple[tuple[str, ...], str]:
    """(what ``LD_DEBUG=libs`` says was looked at, the rest of stderr)."""
    tried: list[str] = []
    rest: list[str] = []
    for line in err.splitlines():
        m = _DEBUG.fullmatch(line)
        if m is None:
            rest.append(line)
            continue
        text = m[1].strip()
        if text.startswith("search path="):
            dirs = text[len("search path=") :].split("\t", 1)[0]
            tried += [d for d in dirs.split(":") if d]
        else:
            tried += [text[len(p) :] for p in _TRIED if text.startswith(p)]
    return tuple(dict.fromkeys(tried)), "\n".join(rest)


def _parse(out: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for line in out.splitlines():
        line = line.strip()
        if " => " not in line:
            continue  # the vdso and the loader itself, listed by path only
        name, _, rest = line.partition(" => ")
        if rest.startswith("not found"):
            found.setdefault(name, None)
            continue
        path = rest.rsplit(" (0x", 1)[0].strip()
        found.setdefault(name, path or None)
    return found


def _command(interpreter: str, job: Job) -> list[str]:
    cmd = [interpreter]
    if job.library_path:
        cmd += ["--library-path", ":".join(job.library_path)]
    if job.preload:
        cmd += ["--preload", ":".join(job.preload)]
    return [*cmd, job.path]


def confirm(
    interpreter: str, jobs: Sequence[Job], ld_library_path: str | None, *, debug: bool = False
) -> tuple[dict[str, Listing], float]:
    """Run the loader on every job, a few at a time; (path -> listing, seconds spent).
    ``debug``: also ask what it searched (`Listing.tried`)."""
    started = time.perf_counter()
    env = {"LD_TRACE_LOADED_OBJECTS": "1", "PATH": os.defpath, "LC_ALL": "C"}
    if debug:
        env["LD_DEBUG"] = "libs"
    if ld_library_path:
        env["LD_LIBRARY_PATH"] = ld_library_path
    results: dict[str, Listing] = {}
    pending = list(jobs)
    running: list[tuple[Job, subprocess.Popen[str]]] = []
    while pending or running:
        while pending and len(running) < _PARALLEL:
            job = pending.pop(0)
            try:
                proc = subprocess.Popen(
                    _command(interpreter, job),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=env,
                    text=True,
                    errors="surrogateescape",
                )
            except OSError as exc:
                results[job.path] = Listing({}, f"{interpreter!r} could not run: {exc}")
                continue
            running.append((job, proc))
        if not running:
            break
        job, proc = running.pop(0)
        try:
            out, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            results[job.path] = Listing({}, f"no answer within {TIMEOUT:.0f} s")
            continue
        tried, err = _debug(err)
        if proc.returncode != 0 or not out.strip():
            last = (err.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            results[job.path] = Listing(_parse(out), last, tried)
        else:
            results[job.path] = Listing(_parse(out), None, tried)
    return results, time.perf_counter() - started


def search_context(
    path: str, f: ObjectFacts, setup: SearchSetup, realpath: Callable[[str], str] = os.path.realpath
) -> tuple[object, ...]:
    """Everything ld.so's answer for ``path`` depends on, with ``$ORIGIN`` resolved: files with
    equal contexts get equal answers, so one of them is asked (scipy's 16 BLAS consumers in
    five directories all search ``scipy.libs``)."""
    origin = os.path.dirname(path)
    dirs = tuple(
        tuple(realpath(d) for e in entries if (d := expand(e, origin, setup)))
        for entries in (f.rpath, f.runpath)
    )
    return (f.needed, dirs, f.nodeflib, f.triple)


def reconcile(
    cl: Closure,
    listing: Listing,
    label: str,
    realpath: Callable[[str], str] = os.path.realpath,
) -> list[str]:
    """Make the closure say what ld.so said (the loader wins); the disagreements, as lines for
    ``--verbose``. ``realpath``: how the run resolves links (`facts.FileFacts.realpath`)."""
    if listing.error and not listing.found:
        return [f"linkage: ld.so gave no listing for {label}: {listing.error}"]
    lines = []
    for name, path in listing.found.items():
        res = cl.resolved.get(name)
        if res is None or res.how == "loaded":
            continue
        if path is None and res.path is not None:
            new = Resolution(name, res.requester, None, "missing", res.searched)
            cl.resolved[name] = new
            cl.missing.append(new)
            lines.append(
                f"linkage: {label}: {name}: the static search found {res.path} "
                f"({res.how}); ld.so finds nothing, and ld.so wins"
            )
        elif path is not None and res.path is None:
            cl.missing = [m for m in cl.missing if m.name != name]
            cl.resolved[name] = Resolution(name, res.requester, path, "ld.so")
            lines.append(
                f"linkage: {label}: {name}: the static search found nothing; ld.so "
                f"finds {path}, and ld.so wins"
            )
        elif path is not None and res.path is not None and realpath(path) != realpath(res.path):
            cl.resolved[name] = Resolution(name, res.requester, path, "ld.so")
            cl.order = [path if p == res.path else p for p in cl.order]
            lines.append(
                f"linkage: {label}: {name}: the static search found {res.path} "
                f"({res.how}); ld.so loads {path}, and ld.so wins"
            )
    return lines
