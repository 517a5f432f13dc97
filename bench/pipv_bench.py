"""pipv's overhead over plain pip (issue 6), alternated in one run by abbench.

    python bench/pipv_bench.py [--venv DIR] [--wheel FILE] [--rounds 21] [--snapshot-venv DIR]

Each round force-reinstalls WHEEL with plain ``python -m pip`` and with ``pipv``, alternated,
and abbench prints the median of the paired ratios (target: <= 1.05). Also: ``pipv --version``
vs ``pip --version``, and the cost of one snapshot of SNAPSHOT_VENV (default VENV; the issue
asks for the torch venv's), which needs verify-env installed too.

Defaults, all inside this checkout (git-ignored ``bench/.work/``): VENV ``bench/.work/pipv-venv``,
made on first use with this checkout installed in it as a release install (not editable: an
editable install's import finder adds ~10 ms to every start) and numpy 2.2.6; WHEEL numpy
2.2.6's wheel, downloaded into ``bench/.work/wheels`` from pip's configured index. A VENV of
your own must have verify-env (release install) and WHEEL installed.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "bench", ".work")
ABBENCH = os.path.join(ROOT, "..", "shared", "tools", "abbench.py")
WHEEL_REQUIREMENT = "numpy==2.2.6"


def _default_wheel() -> str:
    wheels = os.path.join(WORK, "wheels")
    found = glob.glob(os.path.join(wheels, "numpy-2.2.6-*.whl"))
    if not found:
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "-q", "--no-deps"),
                *("--only-binary", ":all:", "-d", wheels, WHEEL_REQUIREMENT),
            ],
            check=True,
        )
        found = glob.glob(os.path.join(wheels, "numpy-2.2.6-*.whl"))
    return found[0]


def _default_venv(wheel: str) -> str:
    venv = os.path.join(WORK, "pipv-venv")
    if not os.path.exists(os.path.join(venv, "bin", "pipv")):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        py = os.path.join(venv, "bin", "python")
        subprocess.run([py, "-m", "pip", "install", "-q", ROOT, wheel], check=True)
    return venv


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--venv", help="default: bench/.work/pipv-venv, made on first use")
    parser.add_argument("--wheel", help="default: numpy 2.2.6's wheel in bench/.work/wheels")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--snapshot-venv", help="default: --venv")
    parser.add_argument("--abbench", default=os.environ.get("ABBENCH", ABBENCH))
    return parser.parse_args()


def main() -> int:
    args = _arguments()
    wheel = args.wheel or _default_wheel()
    venv = args.venv or _default_venv(wheel)
    rounds = str(args.rounds)
    snapshot_venv = args.snapshot_venv or venv
    py, pipv = os.path.join(venv, "bin", "python"), os.path.join(venv, "bin", "pipv")
    install = f"install -q --disable-pip-version-check --force-reinstall --no-deps {wheel}"
    abbench = args.abbench
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
