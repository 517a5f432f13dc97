"""Files only this user's verify-env wrote: the stat cache and stored verdicts.

Each is ``MAGIC`` + an authentication tag + a payload. The tag is a keyed BLAKE2b of the
payload under a per-user key (``key`` beside the files, 0600), checked before anything decodes
a byte: a damaged or crafted file is discarded, never decoded (issue 18, §2). A file is used only
when it and its directory belong to the running user and no one else may write them; it is read
non-blocking, regular files only, not through a symlink, at most ``cap`` bytes, and written to a
temp file (``NAME.PID.tmp``) that replaces it, so a reader never sees half a file; a temp file a
killed writer left behind is removed by the next write.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat

from verify_env.files import read_up_to

__all__ = ["dir_problem", "read_sealed", "write_sealed"]

_TAG = 32
_OPEN = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)


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
        return read_up_to(fd, st.st_size)
    finally:
        os.close(fd)


def dir_problem(directory: str) -> str | None:
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


def read_sealed(path: str, magic: bytes, cap: int) -> bytes | None:
    """The payload of the file at ``path`` if this user's verify-env wrote it with ``magic``;
    None when there is none, or it is another version's (``magic`` but for its last word).
    Raises ValueError saying why it cannot be used (damaged, too big, untrusted …)."""
    blob = _read_bounded(path, cap)
    if blob is None:
        return None
    n = len(magic)
    head, tag, payload = blob[:n], blob[n : n + _TAG], blob[n + _TAG :]
    if head != magic and blob.startswith(magic.rsplit(b" ", 1)[0] + b" "):
        return None
    if head != magic:
        raise ValueError("not a file of this version, or damaged")
    key = _key(os.path.dirname(path), create=False)
    if key is None or not hmac.compare_digest(_tag(key, payload), tag):
        raise ValueError("damaged, or not written by this user's verify-env")
    return payload


def write_sealed(path: str, magic: bytes, payload: bytes) -> None:
    """Write ``payload`` to ``path`` sealed (its directory made 0700 if missing). Raises
    OSError or ValueError (an untrusted directory); leaves no temp file behind."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        directory = os.path.dirname(path)
        os.makedirs(os.path.dirname(directory) or ".", exist_ok=True)
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass
        problem = dir_problem(directory)
        if problem:
            raise ValueError(problem)
        _clean_stale(path)
        key = _key(directory, create=True)
        assert key is not None
        try:
            os.unlink(tmp)  # our pid: a dead run's leftover
        except FileNotFoundError:
            pass
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(tmp, flags, 0o600), "wb") as fh:
            fh.write(magic + _tag(key, payload) + payload)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
