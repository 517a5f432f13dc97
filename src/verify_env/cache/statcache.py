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

import hashlib
import hmac
import marshal
import os
import stat
from dataclasses import dataclass, field

from verify_env.cache.location import cache_path_for, user_cache_dir

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
_TAG = 32
MAX_BYTES = 256 << 20
"""A cache file larger than this is not read (a torch venv's is ~5 MB)."""
StatKey = tuple[int, int, int, int, int]
Entries = dict[str, tuple[int, object]]
_U64 = (1 << 64) - 1
_OPEN = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def packed(key: StatKey) -> int:
    """The five fields in one integer, 64 bits each: equal exactly when the keys are equal."""
    out = 0
    for value in key:
        out = (out << 64) | (value & _U64)
    return out


def _untrusted(st: os.stat_result) -> str | None:
    """Why a cache dir or file of this stat cannot be trusted, or None."""
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        return f"owned by uid {st.st_uid}, not by the running user"
    if st.st_mode & 0o022:
        return f"writable by {'group' if st.st_mode & 0o020 else 'others'}"
    return None


def _read_bounded(path: str, cap: int) -> bytes | None:
    """A regular file's bytes, read non-blocking, not through a symlink; None if absent.
    Raises ValueError for anything else (a FIFO, a device, too big, untrusted)."""
    try:
        fd = os.open(path, _OPEN)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ValueError(exc.strerror or str(exc)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        why = _untrusted(st)
        if why:
            raise ValueError(why)
        if st.st_size > cap:
            raise ValueError(f"{st.st_size} bytes, more than the {cap >> 20} MiB a cache may be")
        chunks, left = [], st.st_size
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _dir_problem(directory: str) -> str | None:
    try:
        st = os.stat(directory)
    except (FileNotFoundError, NotADirectoryError):
        return None  # created by save, ours (or save says why it cannot be)
    except OSError as exc:
        return exc.strerror or str(exc)
    why = _untrusted(st)
    return f"its directory is {why}" if why else None


def _key(directory: str, create: bool) -> bytes | None:
    """The per-user key that authenticates cache files in ``directory``."""
    path = os.path.join(directory, "key")
    try:
        data = _read_bounded(path, 1024)
    except ValueError:
        return None
    if data is not None and len(data) == 32:
        return data
    if not create:
        return None
    fresh = os.urandom(32)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(fresh)
    return fresh


def _tag(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.blake2b).digest()[:_TAG]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale(path: str) -> None:
    """Remove ``NAME.PID.tmp`` files beside ``path`` whose process is gone (a SIGKILL in save)."""
    directory, base = os.path.split(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(base + ".") and name.endswith(".tmp")):
            continue
        pid = name[len(base) + 1 : -4]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


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
        problem = _dir_problem(os.path.dirname(self.path))
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
            blob = _read_bounded(self.path, MAX_BYTES)
            if blob is None:
                return self  # no cache yet; an unwritable place is reported once, by save()
            n = len(_MAGIC)
            head, tag, payload = blob[:n], blob[n : n + _TAG], blob[n + _TAG :]
            if head != _MAGIC and blob.startswith(_MAGIC[:-2]):
                return self  # another version's cache: rebuilt silently on save
            if head != _MAGIC:
                raise ValueError("not a stat cache of this version, or damaged")
            key = _key(os.path.dirname(self.path), create=False)
            if key is None or not hmac.compare_digest(_tag(key, payload), tag):
                raise ValueError("damaged, or not written by this user's verify-env")
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
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            spaces = dict(self._raw)
            spaces.update((name, marshal.dumps(entries)) for name, entries in self._spaces.items())
            payload = marshal.dumps(spaces)
            directory = os.path.dirname(self.path)
            os.makedirs(os.path.dirname(directory) or ".", exist_ok=True)
            try:
                os.mkdir(directory, 0o700)
            except FileExistsError:
                pass
            problem = _dir_problem(directory)
            if problem:
                raise ValueError(problem)
            _clean_stale(self.path)
            key = _key(directory, create=True)
            assert key is not None
            try:
                os.unlink(tmp)  # our pid: a dead run's leftover
            except FileNotFoundError:
                pass
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            with os.fdopen(os.open(tmp, flags, 0o600), "wb") as fh:
                fh.write(_MAGIC + _tag(key, payload) + payload)
            os.replace(tmp, self.path)
        except (OSError, ValueError) as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            self.warnings.append(f"could not write stat cache {self.path}: {exc}")
