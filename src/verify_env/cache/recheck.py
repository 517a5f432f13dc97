"""The states of the paths a run read, stored compactly and checked again fast.

A replayed run costs little more than this check (issue 15), so its shape is set by speed:
paths grouped by directory (names only, one NUL-joined string a directory: a third of the
bytes and objects of whole paths), the common state — a regular file's six-field key — packed
into one bytes string, the rest (absent paths, directories kept by identity, symlinks, errors)
in a small table by index. marshal then loads the torch venv's 24k paths in ~5 ms instead of
~20 ms for a tuple of tuples. A stat costs ~3 us on the machines measured, mostly in the kernel,
so a long list is checked by this process and a forked child, half each.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Iterable
from typing import Any

from verify_env.cache.observer import State, state_of

__all__ = ["Stored", "encode", "first_changed"]

_KEY = struct.Struct("=6q")
_SPLIT = 4000
"""Paths at which a forked child's half is worth its fork."""
Stored = tuple[tuple[str, ...], tuple[str, ...], bytes, bytes, dict[int, Any]]
"""(directories, NUL-joined names of each, whole-state flags, packed keys, other states)."""


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def encode(states: Iterable[tuple[str, bool, State]]) -> Stored:
    """``states`` (path, whole, state), grouped by directory in order of first appearance."""
    groups: dict[str, list[tuple[str, bool, State]]] = {}
    for path, whole, state in states:
        directory, name = path.rsplit("/", 1)
        groups.setdefault(directory, []).append((name, whole, state))
    wholes = bytearray()
    keys = bytearray()
    pack = _KEY.pack
    odd: dict[int, Any] = {}
    i = 0
    for entries in groups.values():
        for _, whole, state in entries:
            wholes.append(whole)
            if whole and state is not None and len(state) == 6:
                try:
                    keys += pack(*state)
                except struct.error:  # a field beyond 63 bits, as `_scan` packs it
                    keys += pack(*map(_signed, state))
            else:
                keys += bytes(_KEY.size)
                odd[i] = state
            i += 1
    names = tuple("\0".join(name for name, _, _ in entries) for entries in groups.values())
    return tuple(groups), names, bytes(wholes), bytes(keys), odd


def first_changed(stored: object) -> str | None:
    """The first path whose state is not the one stored, None when all hold; a text saying
    so when ``stored`` is not a stored witness."""
    directories: tuple[str, ...]
    names: tuple[str, ...]
    wholes: bytes
    keys: bytes
    odd: dict[int, Any]
    try:
        directories, names, wholes, keys, odd = stored  # type: ignore[misc]
        paths = [
            (d + "/" if d else "/") + name
            for d, joined in zip(directories, names, strict=True)
            for name in joined.split("\0")
        ]
        if not (len(paths) == len(wholes) and len(keys) == _KEY.size * len(paths)):
            raise ValueError
        if not isinstance(odd, dict):
            raise TypeError
    except (TypeError, ValueError):
        return "the stored witness (unreadable)"
    half = len(paths) // 2
    threading = sys.modules.get("threading")  # a host's threads (conda) may hold locks:
    threaded = threading is not None and threading.active_count() > 1  # then no fork
    if half < _SPLIT or not hasattr(os, "fork") or threaded:
        return _scan(paths, wholes, keys, odd, 0, len(paths))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(read_end)
            moved = _scan(paths, wholes, keys, odd, half, len(paths))
            os.write(write_end, b"=" if moved is None else b"!" + os.fsencode(moved)[:4000])
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        mine = _scan(paths, wholes, keys, odd, 0, half)
        answer = os.read(read_end, 4096)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    if mine is not None:
        return mine
    if answer == b"=":
        return None
    if answer.startswith(b"!"):
        return os.fsdecode(answer[1:])
    return "the stored witness (its check did not finish)"


def _scan(
    paths: list[str], wholes: bytes, keys: bytes, odd: dict[int, Any], lo: int, hi: int
) -> str | None:
    """paths[lo:hi] against their stored states: the packed keys compared inline, the rest
    through `state_of`."""
    lstat = os.lstat
    pack = _KEY.pack
    size = _KEY.size
    for i in range(lo, hi):
        path = paths[i]
        if i in odd:
            if state_of(path, bool(wholes[i])) != odd[i]:
                return path
            continue
        try:
            st = lstat(path)
        except OSError:
            return path
        try:
            now = pack(st.st_dev, st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        except struct.error:  # a field beyond 63 bits: as `encode` stored it
            state = state_of(path, True)
            if state is None or len(state) != 6:
                return path
            now = pack(*map(_signed, state))
        if now != keys[i * size : i * size + size]:
            return path
    return None
