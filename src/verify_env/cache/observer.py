"""What one run read: the witness its stored verdict is replayed against (`cache.verdict`).

A verdict is a function of what the run read, so it can be reused exactly while all of that is
as it was. What the run's own process reads is observed, not declared, so that no check can
forget a path: every file opened for reading and every directory listed (Python's audit events
``open``, ``os.listdir``, ``os.scandir``), every path asked for its stat (``os.stat`` and
``os.lstat``, which ``os.path.exists``, ``isdir``, ``realpath`` … call), and every location a
fact was taken from the stat cache for. What other processes read for a check — the hashing
workers, the linkage prefetch workers and ld.so, the ``.pyc`` comparer — that check declares
(`declare`): the recorded files, the loader's witness, the compared files.

A path only stat'ed that turns out to be a directory is kept by its identity, mode and owner,
not its times (a ``realpath`` of the prefix stats every directory above it, whose mtime moves
with every sibling); any other path is kept by its whole stat key (a chmod or chown moves its
ctime), and a symlink by its target's too.
Observing is off unless a run that may be stored is in progress, and off in forked children.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Observation", "State", "cached", "declare", "observing", "state_of"]

State = tuple[int, ...] | None
"""A path's state as a stored verdict keeps it: None when absent."""

_active: Observation | None = None
_hooked = False
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT
_EVENTS = frozenset(("open", "os.listdir", "os.scandir"))


class Observation:
    """The paths one run read: each with whether its whole state counts (``True``) or only
    its identity when it is a directory (``False``: stat'ed, never opened or listed)."""

    __slots__ = ("declared", "paths", "skip", "spoiled")

    def __init__(self, skip: tuple[str, ...]) -> None:
        self.paths: dict[str, bool] = {}
        self.declared: dict[str, None] = {}
        """Paths other processes read (`declare`): kept apart so that a replay stats the few
        paths most likely to have changed (directories listed, files opened here) first."""
        self.skip = skip
        """Prefixes never observed: verify-env's own cache files, written by the run itself."""
        self.spoiled = False
        """A read could not be noted: the run's verdict cannot be stored."""

    def whole(self, path: object) -> None:
        p = _text(path)
        if p is not None and not p.startswith(self.skip):
            self.paths[p] = True

    def stated(self, path: object) -> None:
        p = _text(path)
        if p is not None and p not in self.paths and not p.startswith(self.skip):
            self.paths[p] = False

    def states(self) -> Iterator[tuple[str, bool, State]]:
        """Each path with the state it has now: those this process read first."""
        for path, whole in self.paths.items():
            yield path, whole, state_of(path, whole)
        for path in self.declared:
            if path not in self.paths:
                yield path, True, state_of(path, True)


def _text(path: object) -> str | None:
    """An absolute path as text; None for a descriptor or anything not a path."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str) or "\0" in path:
        return None
    return path if path.startswith("/") else os.path.abspath(path)


def state_of(path: str, whole: bool) -> State:
    """``path``'s lstat key (a symlink's with its target's), or for a directory observed by a
    stat only, its device, inode, mode and owner; None when absent, ``(-errno,)`` when
    unreadable."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return (-(exc.errno or 1),)
    except ValueError:
        return (-1,)
    mode = st.st_mode
    if not whole and stat.S_ISDIR(mode):  # who owns it counts (`inventory.dialects`)
        return (st.st_dev, st.st_ino, mode, st.st_uid, st.st_gid)
    key = (st.st_dev, st.st_ino, mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if stat.S_ISLNK(mode):
        try:
            t = os.stat(path)
        except OSError:
            return (*key, -1)
        if not whole and stat.S_ISDIR(t.st_mode):
            return (*key, t.st_dev, t.st_ino, t.st_mode, t.st_uid, t.st_gid)
        return (*key, t.st_dev, t.st_ino, t.st_mode, t.st_size, t.st_mtime_ns, t.st_ctime_ns)
    return key


def declare(paths: Iterable[str]) -> None:
    """Paths another process read for a check (their whole state counts); a no-op unless a
    run is being observed."""
    obs = _active
    if obs is not None:
        try:
            obs.declared.update(dict.fromkeys(p for p in map(_text, paths) if p is not None))
        except OSError:  # a relative path, and the working directory is gone
            obs.spoiled = True


def cached(location: str) -> None:
    """A location the stat cache gave a fact for: the fact holds for its whole state."""
    obs = _active
    if obs is not None and location.startswith("/"):  # not a check's own name ("run")
        obs.whole(location)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    obs = _active
    if obs is None or event not in _EVENTS:
        return
    try:
        if _from_import_system():
            return  # verify-env loading its own modules: not the run's input
        if event == "open":
            path, _mode, flags = args
            if not flags & _WRITING:
                obs.whole(path)
        else:
            obs.whole("." if args[0] is None else args[0])
    except Exception:  # a hook that raises fails the operation it observes: never that
        obs.spoiled = True


def _from_import_system() -> bool:
    try:
        caller = sys._getframe(2).f_code.co_filename
    except ValueError:  # no Python frame called it
        return False
    return caller.startswith("<frozen importlib")


def _observed(real: Callable[..., Any]) -> Callable[..., Any]:
    """``os.stat``, ``os.lstat`` or ``os.access``, noting the path asked about."""

    def call(path: Any, *args: Any, **kwargs: Any) -> Any:
        obs = _active
        if obs is not None and kwargs.get("dir_fd") is None:
            try:
                obs.stated(path)
            except Exception:  # (a working directory that is gone, for a relative path)
                obs.spoiled = True
        return real(path, *args, **kwargs)

    call.__wrapped__ = real  # type: ignore[attr-defined]
    return call


def _off_in_child() -> None:
    global _active
    _active = None


@contextmanager
def observing(skip: tuple[str, ...]) -> Iterator[Observation]:
    """Observe what this process reads while the block runs (not re-entrant: an inner block
    observes nothing and yields an observation that stays empty)."""
    global _active, _hooked
    if not _hooked:
        sys.addaudithook(_audit)
        os.register_at_fork(after_in_child=_off_in_child)
        _hooked = True
    obs = Observation(skip)
    if _active is not None:
        yield obs
        return
    real = os.stat, os.lstat, os.access
    os.stat, os.lstat = _observed(real[0]), _observed(real[1])
    os.access = _observed(real[2])
    _active = obs
    try:
        yield obs
    finally:
        _active = None
        os.stat, os.lstat, os.access = real
