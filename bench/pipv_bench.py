"""pipv's overhead over plain pip (issue 6), alternated in one run by abbench.

    python bench/pipv_bench.py VENV WHEEL [ROUNDS [SNAPSHOT_VENV]]

VENV has verify-env installed (a release install, not editable) and WHEEL installed; each
round force-reinstalls WHEEL with plain ``python -m pip`` and with ``pipv``, alternated, and
abbench prints the median of the paired ratios. Also: ``pipv --version`` vs ``pip
--version``, and the cost of one snapshot of SNAPSHOT_VENV (default VENV; the issue asks for
the torch venv's), which needs verify-env installed too.
"""

from __future__ import annotations

import os
import subprocess
import sys

ABBENCH = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "tools", "abbench.py")


def main() -> int:
    venv, wheel = sys.argv[1], sys.argv[2]
    rounds = sys.argv[3] if len(sys.argv) > 3 else "9"
    snapshot_venv = sys.argv[4] if len(sys.argv) > 4 else venv
    py, pipv = os.path.join(venv, "bin", "python"), os.path.join(venv, "bin", "pipv")
    install = f"install -q --disable-pip-version-check --force-reinstall --no-deps {wheel}"
    abbench = os.environ.get("ABBENCH", ABBENCH)
    subprocess.run(
        [
            sys.executable,
            abbench,
            "-n",
            rounds,
            "-w",
            "1",
            "--quiet",
            "--pair",
            "pipv/pip",
            f"pip::{py} -m pip {install}",
            f"pipv::{pipv} {install}",
        ],
        check=True,
    )
    subprocess.run(
        [
            sys.executable,
            abbench,
            "-n",
            "15",
            "-w",
            "2",
            "--quiet",
            "--pair",
            "pipv/pip",
            f"pip::{py} -m pip --version",
            f"pipv::{pipv} --version",
        ],
        check=True,
    )
    code = (
        "import time,sys;from verify_env.target.model import resolve_target;"
        "from verify_env.transaction.snapshot import Snapshot;t=resolve_target();"
        "s=time.perf_counter();n=[Snapshot.take(t) for _ in range(20)];"
        "print(f'snapshot: {(time.perf_counter()-s)/20*1000:.2f} ms, "
        "{len(n[0].entries)} distributions')"
    )
    subprocess.run([os.path.join(snapshot_venv, "bin", "python"), "-c", code], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
