"""Digests remembered between runs, keyed by everything that changes when a file does.

The key is (device, inode, size, ``mtime_ns``, ``ctime_ns``): a file rewritten and then
``touch -r``'d back to its old mtime still gets a new ctime, which no unprivileged tool can set
back, so it is hashed again. The cache lives under the user cache dir, one file per verified
prefix, never in the environment. A corrupt or unwritable cache costs one warning and a full
hash, never an error.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from dataclasses import dataclass, field

__all__ = ["StatCache", "cache_path_for", "stat_key"]

VERSION = 1
# marshal loads the ~30k entries of a large env in ~10 ms where json took ~100 ms; the payload
# is checksummed first, so a damaged file is rejected before marshal ever sees it.
_MAGIC = b"verify-env stat cache %d\n" % VERSION
StatKey = tuple[int, int, int, int, int]


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def cache_path_for(prefix: str) -> str:
    """The cache file for one prefix (``VERIFY_ENV_CACHE_DIR`` overrides the location)."""
    base = os.environ.get("VERIFY_ENV_CACHE_DIR")
    if not base:
        import platformdirs

        base = platformdirs.user_cache_dir("verify-env", appauthor=False)
    tag = hashlib.sha256(os.path.realpath(prefix).encode("utf-8", "surrogateescape"))
    return os.path.join(base, "stat-cache", tag.hexdigest()[:24] + ".bin")


@dataclass(slots=True)
class StatCache:
    """In-memory view of one prefix's cache file; `save()` writes it back atomically."""

    path: str | None
    """The cache file; None disables the cache (``--no-cache``)."""
    warnings: list[str] = field(default_factory=list)
    """At most one line per problem with the cache file itself."""
    _entries: dict[str, tuple[object, ...]] = field(default_factory=dict)
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
            head, digest, payload = blob[:n], blob[n:n + 32], blob[n + 32:]
            if head != _MAGIC or hashlib.sha256(payload).digest() != digest:
                raise ValueError("not a stat cache of this version, or damaged")
            entries = marshal.loads(payload)
            if not isinstance(entries, dict):
                raise ValueError("unknown layout")
            self._entries = entries
        except (FileNotFoundError, NotADirectoryError):
            pass  # no cache yet; an unwritable place is reported once, by save()
        except (OSError, ValueError, EOFError, TypeError) as exc:
            self.warnings.append(f"ignoring unreadable stat cache {self.path}: {exc}")
            self._entries = {}
        return self

    def get(self, location: str, key: StatKey, style: str) -> str | None:
        """The digest remembered for this exact file state, spelled as ``style`` says."""
        entry = self._entries.get(location)
        if not entry or len(entry) != 7 or entry[5] != style or entry[:5] != key:
            return None
        return str(entry[6])

    def put(self, location: str, key: StatKey, style: str, digest: str) -> None:
        if self.path is not None:
            self._entries[location] = (*key, style, digest)
            self._dirty = True

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        directory = os.path.dirname(self.path)
        tmp = None
        try:
            payload = marshal.dumps(self._entries)
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".bin")
            with os.fdopen(fd, "wb") as fh:
                fh.write(_MAGIC + hashlib.sha256(payload).digest() + payload)
            os.replace(tmp, self.path)
            tmp = None
        except (OSError, ValueError) as exc:
            self.warnings.append(f"could not write stat cache {self.path}: {exc}")
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
