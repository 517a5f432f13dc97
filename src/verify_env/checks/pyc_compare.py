"""Judge compiled files against their sources, inside an interpreter of the target's version.

Run as a script (``python -I -S -B pyc_compare.py``) by `verify_env.checks.bytecode`, either
with verify-env's own interpreter (when it is the target's exact version) or with the target's
interpreter, isolated: ``-I`` (no PYTHON* variables, no user site, no working directory), ``-S``
(no ``site``: no ``.pth`` line runs), ``-B`` (nothing written). Only the standard library is
imported, so no code of the environment's packages runs. It must stay 3.8-compatible.

Reads its request on stdin as NUL-terminated fields (no path holds a NUL): ``1`` or ``0``
(whether it may compile), ``1`` or ``0`` (whether it runs in the background: `_yield_cpu`),
then ``SOURCE PYC OPTIMIZE COMPARE`` per item (``COMPARE``: ``1`` or ``0``); it prints one
line per item, ``INDEX<TAB>VERDICT<TAB>DETAIL``, as it goes (a crash on a hostile file leaves
the lines before it). Not JSON, and no ``importlib.util``: their imports (``re``, ``enum``,
``contextlib``…) cost nearly as much CPU as the interpreter's own start. Verdicts:

- ``ignored``: Python would not load the file (short, another magic number, unknown flags);
- ``stale``: its header names another state of the source (timestamp and size, or checked
  source hash), so Python compiles the source instead: harmless;
- ``loaded``: Python would load it in place of the source; not compared (DETAIL: the header
  kind);
- ``same``: loaded, and its code equals what the source compiles to;
- ``differs``: loaded, and its code is not what the source compiles to (DETAIL: the header
  kind, and why);
- ``unchecked-stale``: an unchecked hash-based file whose hash is not the source's: Python
  loads it without looking at the source;
- ``unreadable``: a file could not be read (DETAIL: why).

Code objects are compared, not marshalled bytes (and line numbers only when the rest differs:
see `_without_lines`): marshal marks objects referenced more than
once (``FLAG_REF``) by their reference counts in the process that wrote the file, and sets
and frozensets in hash order, so the bytes of one code object differ from run to run. Code
equality compares bytecode, constants (nested code objects too), names, line and exception
tables, but not ``co_filename``, so the path pip or py3compile compiled under does not matter.
"""

from __future__ import annotations

import _imp
import marshal
import os
import stat
import sys
from types import CodeType

try:  # importlib.util's, without importing it
    from _frozen_importlib_external import MAGIC_NUMBER
except ImportError:  # pragma: no cover - not CPython
    from importlib.util import MAGIC_NUMBER

_HASH_KEY = int.from_bytes(MAGIC_NUMBER, "little")


def source_hash(source: bytes) -> bytes:
    """`importlib.util.source_hash`, computed as it does (CPython 3.7 to 3.13)."""
    return _imp.source_hash(_HASH_KEY, source)


HEADER = 16
MAX_SOURCE = 64 << 20
"""Bytes of source read at most (the largest ``.py`` of the torch venv is 1.4 MB)."""
MAX_PYC = 128 << 20
"""Bytes of a compiled file read at most."""


def _read(path: str, cap: int, whole: bool = True) -> bytes:
    """A regular file's bytes, opened non-blocking; OSError for anything else or too big
    (``whole``; else its first ``cap`` bytes)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(0, "not a regular file")
        if whole and st.st_size > cap:
            raise OSError(0, f"{st.st_size} bytes, over the {cap >> 20} MiB read at most")
        chunks = []
        left = cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if not whole:
            return data[:cap]
        if len(data) > cap:
            raise OSError(0, f"grew past the {cap >> 20} MiB read at most")
        return data
    finally:
        os.close(fd)


def _why(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.replace("\t", " ").replace("\n", " ")[:300]


def judge(
    source: str,
    pyc: str,
    optimize: int,
    compare: bool,
    can_compile: bool,
    magic: bytes = MAGIC_NUMBER,
) -> tuple[str, str]:
    """(verdict, detail) for one compiled file of ``source``. Without ``can_compile`` it only
    reads the header (``magic``: the target's), so verify-env calls it in-process for files
    whose code it does not compare: a hash-based file is then ``loaded``, its hash unread."""
    try:  # the header alone: most files are judged by it
        data = _read(pyc, HEADER, whole=False)
    except OSError as exc:
        return "unreadable", f"{pyc}: {_why(exc)}"
    if len(data) < HEADER or data[:4] != magic:
        return "ignored", ""
    flags = int.from_bytes(data[4:8], "little")
    if flags & ~0b11:
        return "ignored", ""
    src = None
    if flags & 0b1:  # PEP 552 hash-based
        kind = "checked-hash" if flags & 0b10 else "unchecked-hash"
        if can_compile:
            try:
                src = _read(source, MAX_SOURCE)
            except OSError as exc:
                return "unreadable", f"{source}: {_why(exc)}"
            if source_hash(src) != data[8:16]:
                return ("stale", "") if flags & 0b10 else ("unchecked-stale", "")
            compare = compare or kind == "unchecked-hash"
    else:
        kind = "timestamp"
        try:
            st = os.stat(source)
        except OSError as exc:
            return "unreadable", f"{source}: {_why(exc)}"
        mtime = int.from_bytes(data[8:12], "little")
        size = int.from_bytes(data[12:16], "little")
        if mtime != int(st.st_mtime) & 0xFFFFFFFF or size != st.st_size & 0xFFFFFFFF:
            return "stale", ""
    if not (compare and can_compile):
        return "loaded", kind
    try:
        if src is None:
            src = _read(source, MAX_SOURCE)
    except OSError as exc:
        return "unreadable", f"{source}: {_why(exc)}"
    try:
        header, data = data, _read(pyc, MAX_PYC)
    except OSError as exc:
        return "unreadable", f"{pyc}: {_why(exc)}"
    if data[:HEADER] != header:
        return "unreadable", f"{pyc}: changed while it was read"
    sys.stdout.flush()  # a crash below leaves every verdict before this one
    try:
        expected = compile(src, source, "exec", dont_inherit=True, optimize=optimize)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return "differs", f"{kind}; its source does not compile ({_why(exc)})"
    try:
        found = marshal.loads(memoryview(data)[HEADER:])
    except (ValueError, EOFError, TypeError, RecursionError, MemoryError) as exc:
        return "differs", f"{kind}; its code cannot be loaded ({_why(exc)})"
    if type(found) is not type(expected):
        return "differs", f"{kind}; it holds a {type(found).__name__}, not code"
    if found != expected and _without_lines(found) != _without_lines(expected):
        return "differs", kind
    return "same", kind


def _without_lines(code: CodeType) -> CodeType:
    """``code`` with its line numbers dropped, nested code too. Patch releases share a magic
    number and load each other's files, and their compilers have been fixed in where they
    put line numbers: a file compiled by 3.11.4 in a venv now on 3.11.7 runs the same code
    with other line numbers, which is no tamper. (3.13 also keeps a class's first line as a
    constant, ``__firstlineno__``: still compared there.)"""
    consts = tuple(_without_lines(c) if isinstance(c, CodeType) else c for c in code.co_consts)
    if hasattr(code, "co_linetable"):  # 3.10+
        return code.replace(co_consts=consts, co_firstlineno=1, co_linetable=b"")
    return code.replace(co_consts=consts, co_firstlineno=1, co_lnotab=b"")  # type: ignore[call-arg]  # pragma: no cover


NICE = 10
"""How much a background comparer lowers its CPU priority. It starts while the record check's
workers hash, and its verdicts are collected at the end of the run: at the same priority it
took CPU from the hashing that decides the run's wall time; lowered, it runs mostly on what
they leave idle. What it has not judged when the run needs its verdicts a comparer at full
priority judges (`verify_env.checks.bytecode.Pending.into`)."""


def _yield_cpu() -> None:
    try:
        os.nice(NICE)
    except (AttributeError, OSError):  # pragma: no cover - no nice (Windows) or not allowed
        pass


def main() -> int:
    fields = sys.stdin.buffer.read().split(b"\0")
    can_compile, background = fields[0] == b"1", fields[1] == b"1"
    if background:
        _yield_cpu()
    out = sys.stdout
    for index in range((len(fields) - 2) // 4):
        source, pyc, optimize, compare = fields[2 + 4 * index : 6 + 4 * index]
        verdict, detail = judge(
            os.fsdecode(source), os.fsdecode(pyc), int(optimize), compare == b"1", can_compile
        )
        out.write(f"{index}\t{verdict}\t{detail}\n")
    out.flush()
    return 0


def request(
    can_compile: bool, items: list[tuple[str, str, int, bool]], background: bool = False
) -> bytes:
    """What `main` reads: ``items`` as (source, compiled file, optimization level, compare);
    ``background``: lower the comparer's priority first."""
    fields = [b"1" if can_compile else b"0", b"1" if background else b"0"]
    for source, pyc, optimize, compare in items:
        flag = b"1" if compare else b"0"
        fields += (os.fsencode(source), os.fsencode(pyc), b"%d" % optimize, flag)
    return b"\0".join(fields) + b"\0"


if __name__ == "__main__":
    sys.exit(main())
