"""verify_env.cache.statcache on real files: what is saved comes back, only for the exact file
state, and a damaged or unwritable cache costs one warning, never an exception."""

from __future__ import annotations

import marshal
import os
import random
import sys
import time
import zlib
from pathlib import Path

import pytest

from tests.support.guard import deadline
from verify_env.cache.statcache import VERSION, StatCache, StatKey, cache_path_for, stat_key

STYLE = "sha256:b64"
DIGEST = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"


def magic() -> bytes:
    """The header a valid cache file starts with: its first line."""
    return b"verify-env stat cache %d\n" % VERSION


def key_of(path: Path) -> StatKey:
    return stat_key(os.stat(path))


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    p = tmp_path / "env" / "lib" / "mod.py"
    p.parent.mkdir(parents=True)
    p.write_bytes(b"print('hello')\n")
    return p


@pytest.fixture
def saved(tmp_path: Path, data_file: Path) -> Path:
    """A valid cache file holding one entry for `data_file`."""
    path = tmp_path / "cache" / "one.bin"
    cache = StatCache(str(path))
    cache.put(str(data_file), key_of(data_file), STYLE, DIGEST)
    cache.save()
    assert cache.warnings == []
    assert path.is_file()
    return path


def test_round_trip_through_the_env_var(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_file: Path
) -> None:
    cache_root = tmp_path / "user-cache"
    monkeypatch.setenv("VERIFY_ENV_CACHE_DIR", str(cache_root))
    prefix = str(tmp_path / "env")
    where = cache_path_for(prefix)
    assert Path(where).is_relative_to(cache_root)
    assert not Path(where).is_relative_to(prefix)  # never inside the environment

    first = StatCache(where).load()
    assert first.get(str(data_file), key_of(data_file), STYLE) is None
    first.put(str(data_file), key_of(data_file), STYLE, DIGEST)
    first.save()
    assert first.warnings == []
    assert os.path.isfile(where)

    second = StatCache(cache_path_for(prefix)).load()
    assert second.warnings == []
    assert second.get(str(data_file), key_of(data_file), STYLE) == DIGEST


def test_round_trip_with_a_path(saved: Path, data_file: Path) -> None:
    cache = StatCache(str(saved)).load()
    assert cache.warnings == []
    assert cache.get(str(data_file), key_of(data_file), STYLE) == DIGEST
    assert cache.get(str(data_file) + ".other", key_of(data_file), STYLE) is None


def test_many_entries_and_odd_names_survive(tmp_path: Path) -> None:
    path = tmp_path / "c.bin"
    cache = StatCache(str(path))
    names = [f"/env/lib/m{i}.py" for i in range(2000)] + ["/env/bad\udcff.so", "/env/\u00e9t\u00e9"]
    for i, name in enumerate(names):
        cache.put(name, (1, i, i * 3, 10**18 + i, 10**18 + 2 * i), "md5:hex", f"{i:032x}")
    cache.save()
    again = StatCache(str(path)).load()
    assert again.warnings == []
    for i, name in enumerate(names):
        assert again.get(name, (1, i, i * 3, 10**18 + i, 10**18 + 2 * i), "md5:hex") == f"{i:032x}"


def test_save_replaces_the_previous_contents(saved: Path, data_file: Path) -> None:
    cache = StatCache(str(saved)).load()
    cache.put(str(data_file), key_of(data_file), STYLE, "other")
    cache.save()
    assert StatCache(str(saved)).load().get(str(data_file), key_of(data_file), STYLE) == "other"
    assert sorted(p.name for p in saved.parent.iterdir()) == ["key", saved.name]  # no temp files


def test_nothing_written_when_nothing_changed(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "x.bin"
    cache = StatCache(str(path)).load()
    cache.save()
    assert not path.exists()
    assert not path.parent.exists()
    assert cache.warnings == []


def test_a_missing_cache_file_is_simply_empty(tmp_path: Path, data_file: Path) -> None:
    cache = StatCache(str(tmp_path / "nope" / "x.bin")).load()
    assert cache.warnings == []
    assert cache.get(str(data_file), key_of(data_file), STYLE) is None


@pytest.mark.parametrize("field", ["size", "mtime_ns", "ctime_ns", "dev", "ino"])
def test_any_key_mismatch_misses(saved: Path, data_file: Path, field: str) -> None:
    dev, ino, size, mtime, ctime = key_of(data_file)
    changed: StatKey = {
        "dev": (dev + 1, ino, size, mtime, ctime),
        "ino": (dev, ino + 1, size, mtime, ctime),
        "size": (dev, ino, size + 1, mtime, ctime),
        "mtime_ns": (dev, ino, size, mtime + 1, ctime),
        "ctime_ns": (dev, ino, size, mtime, ctime + 1),
    }[field]
    cache = StatCache(str(saved)).load()
    assert cache.get(str(data_file), key_of(data_file), STYLE) == DIGEST
    assert cache.get(str(data_file), changed, STYLE) is None


def test_another_digest_style_misses(saved: Path, data_file: Path) -> None:
    cache = StatCache(str(saved)).load()
    assert cache.get(str(data_file), key_of(data_file), "sha256:hex") is None
    assert cache.get(str(data_file), key_of(data_file), "md5:b64") is None


def test_stat_key_fields(data_file: Path) -> None:
    st = os.stat(data_file)
    assert stat_key(st) == (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def test_a_file_rewritten_and_touched_back_gets_a_new_key(data_file: Path, saved: Path) -> None:
    before = os.stat(data_file)
    old_key = stat_key(before)
    # Let the coarse filesystem clock tick so the new ctime cannot equal the old one.
    time.sleep(0.05)
    data_file.write_bytes(b"print('HELLO')\n")  # same length, same inode, new bytes
    os.utime(data_file, ns=(before.st_atime_ns, before.st_mtime_ns))  # `touch -r` back
    after = os.stat(data_file)
    assert after.st_ino == before.st_ino
    assert after.st_size == before.st_size
    assert after.st_mtime_ns == before.st_mtime_ns
    assert after.st_ctime_ns != before.st_ctime_ns
    assert stat_key(after) != old_key
    cache = StatCache(str(saved)).load()
    assert cache.get(str(data_file), stat_key(after), STYLE) is None


def valid_blob(tmp_path: Path, data_file: Path) -> bytes:
    path = tmp_path / "blob-source.bin"
    cache = StatCache(str(path))
    cache.put(str(data_file), key_of(data_file), STYLE, DIGEST)
    cache.save()
    return path.read_bytes()


def checksum(payload: bytes) -> bytes:
    """The cache's own integrity check, so these blobs pass it and fail later."""
    return zlib.crc32(payload).to_bytes(4, "little")


def corrupt(kind: str, good: bytes) -> bytes:
    head = magic()
    assert good.startswith(head)
    match kind:
        case "random":
            return random.Random(7).randbytes(4096)
        case "empty":
            return b""
        case "truncated":
            return good[: len(good) // 2]
        case "header-only":
            return head
        case "wrong-magic":
            return b"some-other-tool cache 2\n" + good[len(head) :]
        case "bad-checksum":
            digest = bytearray(good[len(head) : len(head) + 4])
            digest[0] ^= 0xFF
            return head + bytes(digest) + good[len(head) + 4 :]
        case "flipped-payload":
            blob = bytearray(good)
            blob[-1] ^= 0x01
            return bytes(blob)
        case "checksummed-garbage":  # passes the checksum, fails marshal
            payload = b"\xff\xfe not marshal data"
            return head + checksum(payload) + payload
        case "checksummed-list":  # passes checksum and marshal, wrong layout
            payload = marshal.dumps([1, 2, 3])
            return head + checksum(payload) + payload
        case "checksummed-truncated-marshal":
            payload = marshal.dumps({STYLE: marshal.dumps({"a": (1, DIGEST)})})[:-3]
            return head + checksum(payload) + payload
        case "checksummed-garbage-space":  # the layout holds, one space's bytes do not
            payload = marshal.dumps({STYLE: b"\xff\xfe not marshal data"})
            return head + checksum(payload) + payload
    raise AssertionError(kind)


CORRUPTIONS = [
    "random",
    "empty",
    "truncated",
    "header-only",
    "wrong-magic",
    "bad-checksum",
    "flipped-payload",
    "checksummed-garbage",
    "checksummed-list",
    "checksummed-truncated-marshal",
    "checksummed-garbage-space",
]


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_a_corrupt_cache_is_one_warning_and_empty(
    tmp_path: Path, data_file: Path, kind: str
) -> None:
    path = tmp_path / "cache" / "x.bin"
    path.parent.mkdir()
    path.write_bytes(corrupt(kind, valid_blob(tmp_path, data_file)))
    cache = StatCache(str(path)).load()
    assert cache.get(str(data_file), key_of(data_file), STYLE) is None
    assert len(cache.warnings) == 1, cache.warnings  # at load, or at first use of the space
    assert str(path) in cache.warnings[0]
    # ... and the next save repairs it.
    cache.put(str(data_file), key_of(data_file), STYLE, DIGEST)
    cache.save()
    assert len(cache.warnings) == 1
    fresh = StatCache(str(path)).load()
    assert fresh.warnings == []
    assert fresh.get(str(data_file), key_of(data_file), STYLE) == DIGEST


def test_a_directory_where_the_cache_file_should_be(tmp_path: Path, data_file: Path) -> None:
    path = tmp_path / "cache" / "x.bin"
    path.mkdir(parents=True)
    cache = StatCache(str(path)).load()
    assert len(cache.warnings) == 1
    cache.put(str(data_file), key_of(data_file), STYLE, DIGEST)
    cache.save()  # os.replace onto a directory fails
    assert len(cache.warnings) == 2
    assert "could not write" in cache.warnings[1]
    assert sorted(p.name for p in path.parent.iterdir()) == ["key", "x.bin"]  # temp file removed


def test_an_unwritable_location_is_one_warning_on_save(tmp_path: Path, data_file: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_bytes(b"a regular file")
    path = blocker / "stat-cache" / "x.bin"  # makedirs must fail: its parent is a file
    cache = StatCache(str(path)).load()
    loaded_warnings = len(cache.warnings)
    cache.put(str(data_file), key_of(data_file), STYLE, DIGEST)
    cache.save()
    assert len(cache.warnings) == loaded_warnings + 1
    assert "could not write stat cache" in cache.warnings[-1]
    assert str(path) in cache.warnings[-1]
    assert blocker.read_bytes() == b"a regular file"
    # The in-memory view still works for this run.
    assert cache.get(str(data_file), key_of(data_file), STYLE) == DIGEST


def test_an_unwritable_location_costs_one_warning_per_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_file: Path
) -> None:
    """A whole run (load, put, save) against a cache dir that is a regular file: the module's
    contract is "a corrupt or unwritable cache costs one warning". There is no cache file to
    be unreadable, so the only line is the one about writing."""
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    monkeypatch.setenv("VERIFY_ENV_CACHE_DIR", str(blocker))
    cache = StatCache(cache_path_for(str(tmp_path / "env"))).load()
    cache.put(str(data_file), key_of(data_file), STYLE, DIGEST)
    cache.save()
    assert len(cache.warnings) == 1, cache.warnings
    assert "could not write stat cache" in cache.warnings[0]


def test_path_none_disables_everything(data_file: Path) -> None:
    cache = StatCache(None).load()
    cache.put(str(data_file), key_of(data_file), STYLE, DIGEST)
    assert cache.get(str(data_file), key_of(data_file), STYLE) is None
    cache.save()
    assert cache.warnings == []


def test_cache_path_is_per_prefix_and_follows_symlinks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VERIFY_ENV_CACHE_DIR", str(tmp_path / "c"))
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    link = tmp_path / "link-to-a"
    link.symlink_to(a)
    assert cache_path_for(str(a)) == cache_path_for(str(link))
    assert cache_path_for(str(a)) != cache_path_for(str(b))
    assert cache_path_for(str(a)).endswith(".bin")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_CACHE_HOME is Linux's")
def test_cache_path_defaults_to_the_user_cache_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("VERIFY_ENV_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    where = Path(cache_path_for(str(tmp_path / "env")))
    assert where.is_relative_to(tmp_path / "xdg" / "verify-env")


def test_another_versions_cache_is_replaced_silently(tmp_path: Path, data_file: Path) -> None:
    """After an upgrade the old format is not damage: no warning, rebuilt on save."""
    path = tmp_path / "cache" / "x.bin"
    path.parent.mkdir()
    path.write_bytes(b"verify-env stat cache 1\n" + b"\0" * 40)
    cache = StatCache(str(path)).load()
    assert cache.warnings == []
    cache.put(str(data_file), key_of(data_file), STYLE, DIGEST)
    cache.save()
    assert StatCache(str(path)).load().get(str(data_file), key_of(data_file), STYLE) == DIGEST


def test_a_file_changed_within_a_clock_tick_is_not_remembered(tmp_path: Path) -> None:
    """Racily clean files (git's term): checked, but their digest is not cached yet."""
    from verify_env.checks.record import _racy

    f = tmp_path / "f"
    f.write_bytes(b"x")
    st = os.stat(f)
    newest = max(st.st_mtime_ns, st.st_ctime_ns)
    assert _racy(st, newest + 5_000_000)
    assert not _racy(st, newest + 3_000_000_000)


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the rule is written out for Linux"
)
@pytest.mark.parametrize("xdg", [None, "/tmp/xdg-cache-here"])
def test_user_cache_dir_is_platformdirs_own(
    monkeypatch: pytest.MonkeyPatch, xdg: str | None
) -> None:
    import platformdirs

    from verify_env.cache.statcache import user_cache_dir

    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    assert user_cache_dir() == platformdirs.user_cache_dir("verify-env", appauthor=False)


# --- a cache someone else can write, or that is not a file (issue 18, §2) ----------------------


def _one_entry(path: Path, data_file: Path) -> StatCache:
    cache = StatCache(str(path))
    cache.put(str(data_file), key_of(data_file), STYLE, DIGEST)
    cache.save()
    assert cache.warnings == []
    return cache


@pytest.mark.parametrize("mode", [0o775, 0o757])
def test_a_cache_dir_others_may_write_is_not_used(
    tmp_path: Path, data_file: Path, mode: int
) -> None:
    path = tmp_path / "cache" / "x.bin"
    _one_entry(path, data_file)
    path.parent.chmod(mode)
    before = path.read_bytes()
    cache = StatCache(str(path)).load()
    assert cache.get(str(data_file), key_of(data_file), STYLE) is None
    assert len(cache.warnings) == 1 and "not using stat cache" in cache.warnings[0]
    assert "writable by" in cache.warnings[0]
    cache.put(str(data_file), key_of(data_file), STYLE, DIGEST)
    cache.save()  # nor written
    assert path.read_bytes() == before and len(cache.warnings) == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
@pytest.mark.parametrize("what", ["file", "dir"])
def test_a_cache_another_user_owns_is_not_used(tmp_path: Path, data_file: Path, what: str) -> None:
    """A real other owner (uid 4242, as root can give any file): a cache planted by another
    user is never believed, however valid its contents."""
    path = tmp_path / "cache" / "x.bin"
    _one_entry(path, data_file)
    os.chown(path if what == "file" else path.parent, 4242, 4242)
    cache = StatCache(str(path)).load()
    assert cache.get(str(data_file), key_of(data_file), STYLE) is None
    assert len(cache.warnings) == 1 and "uid 4242" in cache.warnings[0]


def test_a_crafted_cache_is_discarded_before_marshal_sees_it(
    tmp_path: Path, data_file: Path
) -> None:
    """A right header, a checksum-shaped field and a marshal list that claims 2**31 items:
    marshal would allocate 16 GB before noticing; it never gets the bytes."""
    path = tmp_path / "cache" / "x.bin"
    _one_entry(path, data_file)
    path.write_bytes(magic() + b"\0" * 32 + b"[\xff\xff\xff\x7f")
    with deadline(20):
        cache = StatCache(str(path)).load()
    assert len(cache.warnings) == 1 and "not written by this user" in cache.warnings[0]
    assert cache.get(str(data_file), key_of(data_file), STYLE) is None


def test_a_fifo_at_the_cache_path_does_not_hang(tmp_path: Path, data_file: Path) -> None:
    path = tmp_path / "cache" / "x.bin"
    path.parent.mkdir()
    os.mkfifo(path)
    with deadline(20):
        cache = StatCache(str(path)).load()
        cache.put(str(data_file), key_of(data_file), STYLE, DIGEST)
        cache.save()  # replaces the FIFO with a real cache
    assert len(cache.warnings) == 1 and "not a regular file" in cache.warnings[0]
    assert StatCache(str(path)).load().get(str(data_file), key_of(data_file), STYLE) == DIGEST


def test_dev_zero_linked_as_the_cache_is_not_read(tmp_path: Path, data_file: Path) -> None:
    path = tmp_path / "cache" / "x.bin"
    path.parent.mkdir()
    path.symlink_to("/dev/zero")
    with deadline(20):
        cache = StatCache(str(path)).load()
    assert len(cache.warnings) == 1
    assert cache.get(str(data_file), key_of(data_file), STYLE) is None


def test_a_huge_cache_file_is_not_read(tmp_path: Path, data_file: Path) -> None:
    from verify_env.cache.statcache import MAX_BYTES

    path = tmp_path / "cache" / "x.bin"
    _one_entry(path, data_file)
    with open(path, "r+b") as fh:
        fh.truncate(MAX_BYTES + 1)  # sparse: costs no disk
    with deadline(20):
        cache = StatCache(str(path)).load()
    assert len(cache.warnings) == 1 and "MiB" in cache.warnings[0]


def test_a_temp_file_of_a_killed_save_is_removed_by_the_next(
    tmp_path: Path, data_file: Path
) -> None:
    """What SIGKILL in the middle of a save leaves: ``x.bin.PID.tmp`` of a process now gone."""
    import subprocess

    path = tmp_path / "cache" / "x.bin"
    _one_entry(path, data_file)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = path.parent / f"x.bin.{dead.pid}.tmp"
    stale.write_bytes(b"\0" * (1 << 20))
    live = path.parent / f"x.bin.{os.getppid()}.tmp"  # a running save of another process
    live.write_bytes(b"")
    cache = StatCache(str(path)).load()
    cache.put(str(data_file), (1, 2, 3, 4, 5), STYLE, DIGEST)
    cache.save()
    assert not stale.exists() and live.exists()
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(["key", live.name, "x.bin"])
