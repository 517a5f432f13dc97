"""Running a process the verified environment can influence, with bounds it cannot lift.

Whatever the environment controls (its interpreter, a ``.pth`` line, a package's import, a BLAS
library's constructor) may hang, print forever, or fork a child that keeps our pipes open. So
every such process starts in a new session (its own process group), gets one deadline for
itself *and* its children, and a cap on what it may print; at the end the whole group is
killed, whether it finished or not (issue 18, §6, §7, §11). A child still holding the pipes
after the process itself exited extends nothing: we stop reading a short grace after the exit.

The group is killed before the leader is reaped, so its id cannot have been reused by then.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Outcome", "finish", "kill_group", "run", "start"]

GRACE = 0.25
"""Seconds we keep reading after the process exited (what it printed last may still be in the
pipe); a forked child holding the pipe gets no more."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a bounded process did."""

    returncode: int | None
    """Its exit status (negative: killed by that signal); None if it was killed at the
    deadline or for printing too much."""
    stdout: bytes
    """What it printed, at most the cap."""
    stderr: bytes
    """Its error output, at most the cap."""
    timed_out: bool
    """The deadline passed before it exited."""
    overflowed: bool
    """It printed more than the cap (it was killed then)."""


def start(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    stdin: int | None = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session with piped stdout and stderr (OSError as Popen's)."""
    return subprocess.Popen(
        list(cmd),
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=None if env is None else dict(env),
        cwd=cwd,
        start_new_session=True,
        close_fds=True,
    )


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group ``proc`` leads (it is not reaped yet, so the id is its own)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether ``proc`` exited, without reaping it (the group id stays reserved)."""
    if proc.returncode is not None:
        return True
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def finish(proc: subprocess.Popen[bytes], timeout: float, cap: int) -> Outcome:
    """Read ``proc``'s output until it exits (plus `GRACE`), ``timeout`` seconds pass or it
    printed more than ``cap`` bytes in all; then kill its whole group and reap it."""
    deadline = time.monotonic() + timeout
    out: list[bytes] = []
    err: list[bytes] = []
    total = 0
    timed_out = overflowed = False
    exited_at: float | None = None
    sel = selectors.DefaultSelector()
    for pipe, sink in ((proc.stdout, out), (proc.stderr, err)):
        if pipe is not None:
            os.set_blocking(pipe.fileno(), False)
            sel.register(pipe.fileno(), selectors.EVENT_READ, sink)
    try:
        while sel.get_map():
            now = time.monotonic()
            if exited_at is None and _exited(proc):
                exited_at = now
            stop = deadline if exited_at is None else min(deadline, exited_at + GRACE)
            if now >= stop:
                timed_out = exited_at is None
                break
            for key, _ in sel.select(min(stop - now, 0.05)):
                try:
                    chunk = os.read(key.fd, 1 << 16)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                key.data.append(chunk)
                total += len(chunk)
            if total > cap:
                overflowed = True
                break
        if not timed_out and not overflowed and exited_at is None:
            # both pipes closed: it is exiting; wait for it within the deadline
            while not _exited(proc):
                if time.monotonic() >= deadline:
                    timed_out = True
                    break
                time.sleep(0.005)
    finally:
        sel.close()
        kill_group(proc)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
    code = None if timed_out or overflowed else proc.returncode
    return Outcome(code, b"".join(out)[:cap], b"".join(err)[:cap], timed_out, overflowed)


def run(
    cmd: Sequence[str],
    timeout: float,
    cap: int,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> Outcome:
    """`start` then `finish`."""
    return finish(start(cmd, env=env, cwd=cwd), timeout, cap)
