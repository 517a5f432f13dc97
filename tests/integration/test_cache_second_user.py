"""The stat cache with a real second local user (issue 18, §2): a cache dir that user B wrote,
found on a shared path (``VERIFY_ENV_CACHE_DIR`` on /tmp, a CI-restored cache), is not used by
user A; A is told so, and B's entries — a lie that would pass a damaged file — change nothing.

Needs root (to add the user) and ``useradd``; B writes its cache with Debian's python3 and
verify-env's own cache module, read from where verify-env is installed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import verify_env
from tests.support.envs import run_cli, site_packages
from tests.support.six import six_env

SYSTEM_PYTHON = "/usr/bin/python3"
USERADD = shutil.which("useradd")
SETPRIV = shutil.which("setpriv")

LIE = r"""
import os, sys
from verify_env.cache.statcache import StatCache, cache_path_for, stat_key
prefix, location, digest, directory = sys.argv[1:5]
cache = StatCache(cache_path_for(prefix, directory)).load()
cache.put(location, stat_key(os.stat(location)), "sha256:b64", digest)
cache.save()
assert not cache.warnings, cache.warnings
"""

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or USERADD is None or SETPRIV is None or not os.path.exists(SYSTEM_PYTHON),
    reason="needs root, useradd and setpriv to run as a real second local user, and "
    f"{SYSTEM_PYTHON} for that user",
)


@pytest.fixture
def other_user() -> Iterator[tuple[int, int]]:
    """A real local user (uid, gid), removed afterwards."""
    assert USERADD is not None
    name = f"vet{uuid.uuid4().hex[:8]}"
    made = subprocess.run(
        [USERADD, "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"useradd could not add a user here: {made.stderr.strip()}")
    try:
        import pwd

        entry = pwd.getpwnam(name)
        yield entry.pw_uid, entry.pw_gid
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)


def _as(user: tuple[int, int], *cmd: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert SETPRIV is not None
    uid, gid = user
    return subprocess.run(
        [SETPRIV, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *cmd],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        check=False,
    )


def test_cache_written_by_another_user_is_not_used(
    other_user: tuple[int, int], six_wheel: Path, py311: str
) -> None:
    shared = Path(tempfile.mkdtemp(prefix="vet-shared-", dir="/tmp"))
    try:
        shared.chmod(0o1777)  # where both users write: a shared /tmp, a CI-restored path
        env = six_env(py311, shared / "env", six_wheel)
        for path in [env, *env.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        six = site_packages(env) / "six.py"
        recorded = (
            "sha256="
            + base64.urlsafe_b64encode(hashlib.sha256(six.read_bytes()).digest())
            .rstrip(b"=")
            .decode()
        )
        data = bytearray(six.read_bytes())
        data[100] ^= 0x01  # same size, other bytes: only a digest can tell
        six.write_bytes(bytes(data))
        cache = shared / "cache"
        code_dir = str(Path(verify_env.__file__).resolve().parents[1])
        b_env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": code_dir, "HOME": str(shared)}
        probe = _as(other_user, SYSTEM_PYTHON, "-c", "import verify_env.cache", env=b_env)
        if probe.returncode != 0:
            pytest.skip(f"the second user cannot read verify-env at {code_dir}: {probe.stderr}")
        # B writes a cache that says the damaged file is as recorded, in B's own dir
        lie = _as(
            other_user,
            SYSTEM_PYTHON,
            "-c",
            LIE,
            str(env),
            str(six),
            recorded.removeprefix("sha256="),
            str(cache),
            env=b_env,
        )
        assert lie.returncode == 0, lie.stderr
        written = next(cache.glob("stat-cache/*.bin"))
        assert written.stat().st_uid == other_user[0]
        args = ("--python", str(env / "bin" / "python"), "--checks", "record", "--format", "json")
        run = run_cli(*args, cache_dir=cache)
        assert run.returncode == 1, run.stdout
        assert run.find("hash-mismatch", "six.py")["distribution"] == "six"
        assert "not using stat cache" in run.stderr
        assert f"owned by uid {other_user[0]}, not by the running user" in run.stderr
        assert written.stat().st_uid == other_user[0]  # neither used nor rewritten
        # the same entries in a dir of A's own would have passed the damaged file: the owner
        # check is what stopped them
        for path in [cache, *cache.rglob("*")]:
            os.chown(path, 0, 0)
        trusted = run_cli(*args, cache_dir=cache)
        assert trusted.returncode == 0, trusted.stdout
        assert "not using stat cache" not in trusted.stderr
    finally:
        shutil.rmtree(shared, ignore_errors=True)
