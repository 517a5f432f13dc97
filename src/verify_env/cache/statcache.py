"""What earlier runs learned about files, keyed by everything that changes when a file does.

The key is (device, inode, size, ``mtime_ns``, ``ctime_ns``): a file rewritten and then
``touch -r``'d back to its old mtime still gets a new ctime, which no unprivileged tool can set
back, so it is read again. Besides digests, checks keep other facts that cost a read (a
RECORD's parsed rows, an ELF file's header and glibc needs, a directory's listing) under the
same rule. The cache lives under the user cache dir, one file per verified prefix, never in the
environment. A corrupt or unwritable cache costs one warning and a full run, never an error.
"""

from __future__ import annotations

import marshal
import os
import zlib
from dataclasses import dataclass, field

from verify_env.cache.location import cache_path_for, user_cache_dir
from verify_env.files import replace_atomically

__all__ = ["StatCache", "StatKey", "cache_path_for", "stat_key", "user_cache_dir"]

VERSION = 3
# marshal, checksummed: a damaged file is rejected before marshal ever sees it. Each entry is
# (fingerprint of the stat key, value): tuples of Python ints hash the same in every process,
# and one int per entry loads ~3x faster than the five (json took ~100 ms for 30k entries).
# Each space is marshalled on its own and decoded only when a check asks for it: a run of
# `--checks tags,requirements` never pays the ~35 ms of decoding 23k digests.
_MAGIC = b"verify-env stat cache %d\n" % VERSION
StatKey = tuple[int, int, int, int, int]
Entries = dict[str, tuple[int, object]]


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


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
        try:
            with open(self.path, "rb") as fh:
                blob = fh.read()
            n = len(_MAGIC)
            head, check, payload = blob[:n], blob[n : n + 4], blob[n + 4 :]
            if head != _MAGIC and blob.startswith(_MAGIC[:-2]):
                return self  # another version's cache: rebuilt silently on save
            if head != _MAGIC or zlib.crc32(payload).to_bytes(4, "little") != check:
                raise ValueError("not a stat cache of this version, or damaged")
            spaces = marshal.loads(payload)
            if not isinstance(spaces, dict) or not all(
                isinstance(v, bytes) for v in spaces.values()
            ):
                raise ValueError("unknown layout")
            self._raw = spaces
        except (FileNotFoundError, NotADirectoryError):
            pass  # no cache yet; an unwritable place is reported once, by save()
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
        if entry is None or entry[0] != hash(key):
            return None
        return entry[1]

    def remember(self, space: str, location: str, key: StatKey, value: object) -> None:
        if self.path is not None:
            self._space(space)[location] = (hash(key), value)
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
            payload = marshal.dumps(spaces)
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            replace_atomically(
                self.path, _MAGIC + zlib.crc32(payload).to_bytes(4, "little") + payload, mode=0o600
            )
        except (OSError, ValueError) as exc:
            self.warnings.append(f"could not write stat cache {self.path}: {exc}")
