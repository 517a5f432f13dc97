"""What a run of the loader model looked at on disk, so that a later run can tell, by a stat of
each, that nothing it depends on has changed (`checks.linkage.replay`).

Three kinds of observation, each recorded as the run used it:

- a **stat** of a path (following links): the packed stat key of a regular file (which changes
  with its bytes, `cache.statcache`), else the kind of file or the error. Every file whose
  facts were read, every candidate the search tried and did not find, every directory whose
  existence decided something, the files ld.so tried (``LD_DEBUG=libs``);
- a **realpath** of a path, as the run resolved it (what files are one, ``$ORIGIN``s);
- nothing else: what is not on disk (the settings, the inventory, the environment variables)
  is the caller's to key.

A path changed while the run was under way must not be remembered with the verdict of what it
was: `changed` re-observes everything once the run is done, and the caller stores nothing
when anything differs (or when `spoiled` says an observation could not be made).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from verify_env.cache.statcache import packed, stat_key

__all__ = ["PRELOAD_FILE", "Witness", "changed", "observe"]

PRELOAD_FILE = "/etc/ld.so.preload"
"""What glibc's ld.so maps into every process it starts: an input of each of its answers."""

_KIND = 1 << 20  # value of a non-regular file: -(_KIND + S_IFMT); of an error: -errno


def observe(path: str) -> int:
    """One int that is equal exactly when what a stat of ``path`` tells is equal: a regular
    file's packed stat key, the kind of anything else, the errno of a failure."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return -(exc.errno or 1)
    except ValueError:  # an embedded NUL: no file, as os.path.exists says
        return -1
    if stat.S_ISREG(st.st_mode):
        return packed(stat_key(st))
    return -(_KIND + stat.S_IFMT(st.st_mode))


class Witness:
    """The observations of one run: path -> what a stat said; path -> its realpath."""

    __slots__ = ("reals", "spoiled", "stats")

    def __init__(self) -> None:
        self.stats: dict[str, int] = {}
        self.reals: dict[str, str] = {}
        self.spoiled: str | None = None
        """Why this run's verdict must not be replayed (an input it could not observe)."""

    def note(self, path: str) -> int:
        """Observe ``path`` (once a run) and return what the first observation said."""
        got = self.stats.get(path)
        if got is None:
            got = self.stats[path] = observe(path)
        return got

    def exists(self, path: str) -> bool:
        """``os.path.exists``, observed."""
        value = self.note(path)
        return value >= 0 or value < -_KIND

    def is_dir(self, path: str) -> bool:
        """``os.path.isdir``, observed."""
        return self.note(path) == -(_KIND + stat.S_IFDIR)

    def real(self, path: str, real: str) -> None:
        """Record that the run took ``real`` as the realpath of ``path``."""
        self.reals.setdefault(path, real)

    def spoil(self, why: str) -> None:
        if self.spoiled is None:
            self.spoiled = why


def changed(
    stats: dict[str, int], reals: dict[str, str], resolve: Callable[[str], str]
) -> str | None:
    """The first observation that no longer holds, as a path; None when all do. ``resolve``:
    a fresh realpath resolver (`realpaths.RealPaths`: each component once)."""
    for path, value in stats.items():
        if observe(path) != value:
            return path
    for path, real in reals.items():
        if resolve(path) != real:
            return path
    return None
