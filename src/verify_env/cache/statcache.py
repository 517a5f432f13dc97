"""What earlier runs learned about files, keyed by everything that changes when a file does.

The key is (device, inode, size, ``mtime_ns``, ``ctime_ns``): a file rewritten and then
``touch -r``'d back to its old mtime still gets a new ctime, which no unprivileged tool can set
back, so it is read again. The whole key is stored and compared exactly (packed into one
integer, not Python's ``hash()`` of it, which someone who can write the environment can
collide: issue 18, §2). Besides digests, checks keep other facts that cost a read (a RECORD's
parsed rows, an ELF file's header and glibc needs, a directory's listing) under the same rule.

The cache can only save time, never change a verdict. It lives under the user cache dir, one
file per verified prefix, never in the environment, and is used only when its directory and
file belong to the running user and no one else may write them (a shared or restored
``VERIFY_ENV_CACHE_DIR`` is skipped with one warning). It is read non-blocking, regular files
only, at most `MAX_BYTES`, and authenticated with a per-user key (``key`` beside it, 0600)
before ``marshal`` sees a byte: a damaged or crafted file is discarded, never decoded. A temp
file a killed save left behind (``NAME.PID.tmp``, its process gone) is removed by the next save.
A corrupt, untrusted or unwritable cache costs one warning and a full run, never an error.
"""

from __future__ import annotations

import marshal
import os
from dataclasses import dataclass, field

from verify_env.cache.location import cache_path_for, user_cache_dir
from verify_env.cache.observer import cached
from verify_env.cache.sealed import dir_problem, read_sealed, write_sealed

__all__ = ["StatCache", "StatKey", "cache_path_for", "stat_key", "user_cache_dir"]

VERSION = 5
# 5: RECORD4 (locations derived from paths not stored): the bump drops version 4's RECORD3 space,
# which nothing reads any more and a save would otherwise carry on (4.4 MB in a torch venv's).
# marshal, authenticated: a file we did not write is rejected before marshal ever sees it.
# Each entry is (the packed stat key, value): one int per entry loads ~3x faster than a tuple of
# five (json took ~100 ms for 30k entries). Each space is marshalled on its own and decoded
# only when a check asks for it: a run of `--checks tags,requirements` never pays the ~35 ms of
# decoding 23k digests.
_MAGIC = b"verify-env stat cache %d\n" % VERSION
MAX_BYTES = 256 << 20
"""A cache file larger than this is not read (a torch venv's is ~5 MB)."""
StatKey = tuple[int, int, int, int, int]
Entries = dict[str, tuple[int, object]]
_U64 = (1 << 64) - 1


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def packed(key: StatKey) -> int:
    """The five fields in one integer, 64 bits each: equal exactly when the keys are equal."""
    out = 0
    for value in key:
        out = (out << 64) | (value & _U64)
    return out


@dataclass(slots=True)
class StatCache:
    """In-memory view of one prefix's cache file; `save()` writes it back atomically."""

    path: str | None
    """The cache file; None disables the cache (``--no-cache``)."""
    warnings: list[str] = field(default_factory=list)
    """At most one line per problem with the cache file itself."""
    _spaces: dict[str, Entries] = field(default_factory=dict)
    _raw: dict[str, bytes] = field(default_factory=dict)
    """Spaces as stored, not yet decoded."""
    _dirty: bool = False

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def load(self) -> StatCache:
        if self.path is None:
            return self
        problem = dir_problem(os.path.dirname(self.path))
        if problem:
            fix = (
                f" (chmod 700 {os.path.dirname(self.path)} if that is yours alone)"
                if "writable by" in problem
                else ""
            )
            self.warnings.append(f"not using stat cache {self.path}: {problem}{fix}")
            self.path = None  # neither read nor written this run
            return self
        try:
            payload = read_sealed(self.path, _MAGIC, MAX_BYTES)
            if payload is None:
                return self  # none yet (an unwritable place is reported once, by save()), or
                # another version's: rebuilt silently on save
            spaces = marshal.loads(payload)
            if not isinstance(spaces, dict) or not all(
                isinstance(v, bytes) for v in spaces.values()
            ):
                raise ValueError("unknown layout")
            self._raw = spaces
        except (OSError, ValueError, EOFError, TypeError) as exc:
            self.warnings.append(f"ignoring unreadable stat cache {self.path}: {exc}")
            self._spaces, self._raw = {}, {}
        return self

    def _space(self, space: str) -> Entries:
        entries = self._spaces.get(space)
        if entries is None:
            raw = self._raw.pop(space, None)
            entries = {}
            if raw is not None:
                try:
                    loaded = marshal.loads(raw)
                except (ValueError, EOFError, TypeError):
                    loaded = None
                if isinstance(loaded, dict):
                    entries = loaded
                else:  # checksummed yet unreadable: written by a bug, not by a disk
                    self.warnings.append(
                        f"ignoring unreadable stat cache {self.path}: "
                        f"space {space!r} does not decode"
                    )
                    self._dirty = True
            self._spaces[space] = entries
        return entries

    def fact(self, space: str, location: str, key: StatKey) -> object | None:
        """What was remembered in ``space`` for this exact state of ``location``."""
        entry = self._space(space).get(location)
        if entry is None or entry[0] != packed(key):
            return None
        cached(location)
        return entry[1]

    def remember(self, space: str, location: str, key: StatKey, value: object) -> None:
        if self.path is not None:
            self._space(space)[location] = (packed(key), value)
            self._dirty = True

    def get(self, location: str, key: StatKey, style: str) -> str | None:
        """The digest remembered for this exact file state, spelled as ``style`` says."""
        value = self.fact(style, location, key)
        return value if isinstance(value, str) else None

    def put(self, location: str, key: StatKey, style: str, digest: str) -> None:
        self.remember(style, location, key, digest)

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        try:
            spaces = dict(self._raw)
            spaces.update((name, marshal.dumps(entries)) for name, entries in self._spaces.items())
            write_sealed(self.path, _MAGIC, marshal.dumps(spaces))
        except (OSError, ValueError) as exc:
            self.warnings.append(f"could not write stat cache {self.path}: {exc}")
