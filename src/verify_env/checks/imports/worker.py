"""The import worker: runs inside the TARGET interpreter and imports modules one by one.

Started by the imports check as ``python -B -W ignore -c <this file's text>`` in an empty
temporary directory, so ``sys.path`` is what a user gets from ``python -c`` there and nothing of
verify-env is importable; it must run on any CPython 3.8+ and import only the standard library.

Protocol. Each stdin line is a JSON list of module names, imported in that order. For each name
one JSON line goes to the ORIGINAL stdout as soon as it is known: ``{"start": m}`` before the
import, then ``{"ok": m, "seconds": s, "loaded": [...]}`` or ``{"error": m, "seconds": s,
"chain": [[type, message], ...], "where": "file:line", "output": "..."}``, or ``{"skip": m,
"parent": p}`` for a module below one that just failed. So when the process dies (SIGSEGV from
a truncated ``.so``) or hangs, the parent knows which import did it.

The imported code must not see or corrupt the protocol: fds 1 and 2 both go to the file the
parent gave as stderr (its text is kept for the error report: NumPy prints its 1.x/2.x message
there before raising a bland ``ImportError``), stdin reads /dev/null, and the protocol uses
private duplicates of the original pipes. At end of input the process leaves with
``os._exit`` so no atexit handler or leftover thread of an imported module can keep it alive.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from types import TracebackType
from typing import Any

_KEEP = 8192  # bytes of captured output kept from each end
_FILE_CAP = 64 << 20  # bytes the imported code may write to the capture file (RLIMIT_FSIZE)


def _chain(exc: BaseException | None) -> list[list[str]]:
    """[[type, message], ...] from the first cause to the exception raised."""
    out: list[list[str]] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and len(out) < 8:
        seen.add(id(exc))
        out.append([type(exc).__name__, str(exc)[:4000]])
        exc = exc.__cause__ or exc.__context__
    out.reverse()
    return out


def _where(exc: BaseException) -> str | None:
    tb: TracebackType | None = exc.__traceback__
    last: str | None = None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not name.startswith("<"):
            last = f"{name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return last


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _reset_output() -> None:
    _flush()
    try:
        os.ftruncate(2, 0)
        os.lseek(2, 0, os.SEEK_SET)
    except OSError:
        pass


def _output() -> str:
    """What the import printed, its head and tail if long."""
    _flush()
    try:
        size = os.fstat(2).st_size
        if size <= 2 * _KEEP:
            data = os.pread(2, size, 0)
        else:
            data = os.pread(2, _KEEP, 0) + b"\n...\n" + os.pread(2, _KEEP, size - _KEEP)
    except OSError:
        return ""
    return data.decode("utf-8", "replace")


def _cap_output() -> None:
    """What the imported code prints goes to a file: a module printing forever must not fill
    the disk. Soft and hard limit both, so it cannot raise them back; past it SIGXFSZ ends
    the worker, and the import is reported as a crash (issue 18, §7)."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (_FILE_CAP, _FILE_CAP))
    except (ImportError, ValueError, OSError):
        pass


def main() -> None:
    _cap_output()
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8", errors="backslashreplace")
    orders = os.fdopen(os.dup(0), "r", encoding="utf-8", errors="replace")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(2, 1)
    sys.argv = ["-c"]

    def send(message: dict[str, Any]) -> None:
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    me = os.getpid()
    send({"hello": me})
    for line in orders:
        try:
            names = json.loads(line)
        except ValueError:
            continue
        failed: list[str] = []
        for name in names:
            parent = next((f for f in failed if name.startswith(f + ".")), None)
            if parent is not None:
                send({"skip": name, "parent": parent})
                continue
            _reset_output()
            before = set(sys.modules)
            send({"start": name})
            started = time.perf_counter()
            try:
                importlib.import_module(name)
            except BaseException as exc:  # SystemExit and KeyboardInterrupt on import too
                if os.getpid() != me:  # a child the module forked: it is not the worker
                    os._exit(0)
                failed.append(name)
                send(
                    {
                        "error": name,
                        "seconds": time.perf_counter() - started,
                        "chain": _chain(exc),
                        "where": _where(exc),
                        "output": _output(),
                    }
                )
            else:
                if os.getpid() != me:
                    os._exit(0)
                send(
                    {
                        "ok": name,
                        "seconds": time.perf_counter() - started,
                        "loaded": sorted(set(sys.modules) - before),
                    }
                )
    _flush()
    os._exit(0)


if __name__ == "__main__":
    main()
