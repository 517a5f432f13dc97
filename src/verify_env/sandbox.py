"""Running a process the verified environment can influence, with bounds it cannot lift.

Whatever the environment controls (its interpreter, a ``.pth`` line, a package's import, a BLAS
library's constructor) may hang, print forever, or fork a child that keeps our pipes open. So
every such process starts in a new session (its own process group), gets one deadline for
itself *and* its children, and a cap on what it may print; at the end the whole group is
killed, whether it finished or not (issue 18, §6, §7, §11). A child still holding the pipes
after the process itself exited extends nothing: we stop reading a short grace after the exit.

The group is killed before the leader is reaped, so its id cannot have been reused by then.
A descendant that leaves the group with ``setsid()`` (a double fork) escapes ``killpg``; while
a `Subreaper` is held (Linux), such orphans are re-parented to us instead of init, and
`Subreaper.kill_escaped` kills them.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Outcome", "Subreaper", "finish", "kill_group", "run", "start"]

_POSIX = hasattr(os, "killpg") and hasattr(os, "waitid")
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
        start_new_session=_POSIX,
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
    if not _POSIX:  # pragma: no cover - no process groups, no select() on pipes (Windows)
        return _finish_plain(proc, timeout, cap)
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


def _finish_plain(  # pragma: no cover - Windows
    proc: subprocess.Popen[bytes], timeout: float, cap: int
) -> Outcome:
    """Without process groups: the deadline for the process itself, the cap after the fact."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return Outcome(None, b"", b"", True, False)
    over = len(out) + len(err) > cap
    return Outcome(None if over else proc.returncode, out[:cap], err[:cap], False, over)


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


_PR_SET_CHILD_SUBREAPER = 36


def _set_subreaper(on: bool) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _children() -> dict[int, int]:
    """pid -> session id of this process's children (from /proc)."""
    me = os.getpid()
    out: dict[int, int] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and int(fields[1]) == me:
            out[int(name)] = int(fields[3])
    return out


class Subreaper:
    """While held, orphaned descendants are re-parented to this process (Linux only), so
    that those that left their process group (``setsid()``) can be found and killed."""

    def __init__(self) -> None:
        self.active = _set_subreaper(True)
        self._before = set(_children()) if self.active else set()

    def kill_escaped(self) -> int:
        """SIGKILL and reap every child that is in another session than ours and was not
        our child before (our own helpers share our session); stop being the subreaper.
        Returns how many were killed."""
        if not self.active:
            return 0
        ours = os.getsid(0)
        killed = 0
        try:
            for _ in range(20):  # the children of a killed one come to us next
                found = [
                    p for p, sid in _children().items() if sid != ours and p not in self._before
                ]
                if not found:
                    break
                for pid in list(found):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    except PermissionError:  # setuid: not ours to kill, nor to wait for
                        found.remove(pid)
                if not found:
                    break
                for pid in found:
                    try:
                        os.waitpid(pid, 0)
                    except ChildProcessError:
                        pass
                killed += len(found)
        finally:
            _set_subreaper(False)
            self.active = False
        return killed
