"""Running pip itself, with the terminal as pip's own.

`run_pip` is ``<python> -m pip ARGS``. `HeldPip` starts the same pip before pipv has read its
configuration and taken its snapshot, but holds it: a small launcher imports pip's code (the
~250 ms every pip command spends before it looks at anything) and then waits for one byte on
a pipe before pip even parses its arguments. pipv's own set-up (~50 ms) overlaps those imports
instead of coming first, and pip still cannot touch the environment before the snapshot: no
byte (pipv refused, failed, or died), no pip.

The launcher also says pip's exit status on a second pipe as soon as pip's code is done (its
threads joined, its output flushed), before the interpreter tears down: that teardown of
everything pip imported takes 75 to 200 ms here, and pipv verifies meanwhile instead of after
it. pipv still waits for the process before it exits (`HeldPip.reap`), and a pip that ends any
other way (an uncaught exception, a signal) says nothing: then its real exit status is waited
for.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

from verify_env.target.interpreter import module_command

__all__ = ["HeldPip", "exec_pip", "run_pip"]

# Runs in the target interpreter (3.8+), as `python -c`; argv: the fd to wait on, the fd to say
# the status on, a module to import early, "INDEX:PATH" (pip's installation report goes to PATH,
# given after the subcommand at INDEX of pip's args, if told "r" rather than "g" — the journal
# made PATH's dir —, pip is 23+ and the user asked for no report of their own) or "", pip's
# args. runpy with alter_sys is what `python -m pip` does, so pip sees the argv and __main__ it
# would. Neither fd reaches pip's children.
_LAUNCHER = """\
import os, sys
fd, said = int(sys.argv.pop(1)), int(sys.argv.pop(1))
early, report = sys.argv.pop(1), sys.argv.pop(1)
os.set_inheritable(fd, False)
os.set_inheritable(said, False)
if sys.path and sys.path[0] in ("", os.getcwd()):
    sys.path.pop(0)
try:
    import pip._internal.cli.main
    if early:
        __import__(early)
except Exception:
    pass
go = os.read(fd, 1)
os.close(fd)
if go not in (b"g", b"r"):
    sys.exit(3)
try:
    import pip
    at, path = report.split(":", 1)
    mine = any(a == "--report" or a.startswith("--report=") for a in sys.argv[1:])
    if go == b"r" and not mine and int(pip.__version__.split(".")[0]) >= 23:
        sys.argv[int(at) + 2 : int(at) + 2] = ["--report", path]
except Exception:
    pass
import runpy
def say(code):
    threading = sys.modules.get("threading")
    for thread in threading.enumerate() if threading else ():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()  # as the interpreter's shutdown would, before anything else
    if code is None or isinstance(code, int):  # what the interpreter would exit with
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os.write(said, b"%d" % ((code or 0) & 0xFF))
    os.close(said)
try:
    runpy.run_module("pip", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    say(exc.code)
    raise
say(0)
"""


def _status(status: int) -> int:
    """A pip killed by a signal reports 128+N, as a shell would."""
    return 128 - status if status < 0 else status


def run_pip(python: str, args: Sequence[str]) -> int:
    """pip's exit status."""
    try:
        status = subprocess.run(module_command(python, "pip", args), check=False).returncode
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"pipv: cannot run {python}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return _status(status)


def exec_pip(python: str, args: Sequence[str]) -> int:
    """Become ``<python> -m pip ARGS`` (pip's status is then the process's own); 2 if it
    cannot be run. Saves ``pipv --version`` the wait, and pipv's teardown, of a child."""
    try:
        os.execvp(python, module_command(python, "pip", args))
    except OSError as exc:
        print(f"pipv: cannot run {python}: {exc.strerror or exc}", file=sys.stderr)
    return 2


class HeldPip:
    """pip started and importing, held before it reads its arguments until `go`."""

    def __init__(
        self, python: str, args: Sequence[str], subcommand: str | None, report: str = ""
    ) -> None:
        """``report``: ``INDEX:PATH``, where pip (23+) writes its installation report (see
        `verify_env_pip.journal`), or ""."""
        self.python, self.args = python, list(args)
        self._proc: subprocess.Popen[bytes] | None = None
        self._feed: int | None = None
        self._said: int | None = None
        early = (
            f"pip._internal.commands.{subcommand}" if subcommand in ("install", "uninstall") else ""
        )
        read, write = os.pipe()
        status_read, status_write = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [python, "-c", _LAUNCHER, str(read), str(status_write), early, report, *self.args],
                pass_fds=(read, status_write),
            )
            self._feed, self._said = write, status_read
        except OSError:
            os.close(write)  # go() runs pip the plain way and reports why it cannot
            os.close(status_read)
        finally:
            os.close(read)
            os.close(status_write)

    def go(self, report: bool = False) -> int:
        """Let pip run (``report``: writing its installation report where `__init__` said);
        its exit status once pip's code is done, maybe before its process has ended (`reap`
        waits for that). After `cancel`: the launcher's 3, pip never ran."""
        if self._proc is None:  # the launcher could not start: the plain way says why
            return run_pip(self.python, self.args)
        if self._feed is None:
            return self.reap()
        try:
            os.write(self._feed, b"r" if report else b"g")
        except OSError:  # it died while importing: its status says why
            pass
        finally:
            os.close(self._feed)
            self._feed = None
        try:
            said = self._read_status()
        except KeyboardInterrupt:
            self.reap()
            return 130
        return said if said is not None else self.reap()

    def _read_status(self) -> int | None:
        """What the launcher said, or None when it ended without saying (EOF)."""
        if self._said is None:
            return None
        chunks = []
        try:
            while chunk := os.read(self._said, 8):
                chunks.append(chunk)
        finally:
            os.close(self._said)
            self._said = None
        text = b"".join(chunks)
        return int(text) if text.isdigit() else None

    def reap(self) -> int:
        """Wait for pip's process to end; its exit status."""
        if self._said is not None:
            os.close(self._said)
            self._said = None
        if self._proc is None:
            return 0
        try:
            return _status(self._proc.wait())
        except KeyboardInterrupt:
            self._proc.wait()
            return 130

    def cancel(self) -> None:
        """pip never runs: it sees the pipe closed and leaves (a no-op after `go`)."""
        if self._feed is not None:
            os.close(self._feed)
            self._feed = None
            if self._proc is not None:
                self.reap()
