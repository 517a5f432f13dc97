"""verify_env.sandbox with real hostile processes: one that prints forever, one that forks a
child holding our pipes, one that hangs with grandchildren. Each must end within its deadline,
with its output capped and its whole group gone."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tests.support.guard import deadline
from verify_env import sandbox


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie not yet reaped by init counts as gone
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, seconds: float = 2.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


def test_printing_forever_is_cut_at_the_cap() -> None:
    code = "import sys\nwhile True: sys.stdout.write('x' * 65536)\n"
    with deadline(20):
        start = time.monotonic()
        done = sandbox.run([sys.executable, "-c", code], timeout=10, cap=1 << 20)
    assert done.overflowed and not done.timed_out and done.returncode is None
    assert len(done.stdout) == 1 << 20
    assert time.monotonic() - start < 5


def test_a_forked_child_holding_stdout_does_not_extend_the_wait(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    code = (
        "import os, sys, time\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        f"open({str(pidfile)!r}, 'w').write(str(pid))\n"
        "print('{}')\n"
    )
    with deadline(20):
        start = time.monotonic()
        done = sandbox.run([sys.executable, "-c", code], timeout=10, cap=1 << 20)
    elapsed = time.monotonic() - start
    assert done.returncode == 0 and not done.timed_out
    assert done.stdout.strip() == b"{}"
    assert elapsed < 3, elapsed
    assert _wait_gone(int(pidfile.read_text())), "the forked child outlived the run"


def test_a_hang_ends_at_the_deadline_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    code = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    with deadline(20):
        start = time.monotonic()
        done = sandbox.run([sys.executable, "-c", code], timeout=1.5, cap=1 << 20)
    assert done.timed_out and done.returncode is None
    assert 1.4 < time.monotonic() - start < 5
    assert _wait_gone(int(pidfile.read_text())), "the grandchild outlived the deadline"


def test_an_ordinary_process_is_reported_as_it_ran() -> None:
    code = "import sys; sys.stdout.write('out'); sys.stderr.write('err'); sys.exit(3)"
    with deadline(20):
        done = sandbox.run([sys.executable, "-c", code], timeout=10, cap=1 << 20)
    assert (done.returncode, done.stdout, done.stderr) == (3, b"out", b"err")
    assert not done.timed_out and not done.overflowed
