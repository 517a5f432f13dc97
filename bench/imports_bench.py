"""Figures of ``--checks imports`` (issue 4), against serial baselines in the same alternated run.

    python bench/imports_bench.py /path/to/venv/bin/python \
        [--verify-env /work/scratch/rel/bin/verify-env] [--rounds 5]

1. One run under ``/usr/bin/time -v``: wall time, CPU utilisation (user+sys over wall; 200 %
   is both cores busy all the time) and the check's own facts from the JSON report: modules
   imported, distinct names (equal: no module imported twice), worker processes, re-runs, and
   how many of the environment's modules were loaded by more than one worker (shared
   dependencies such as numpy: the price of running in parallel).
2. ``../shared/tools/abbench.py`` over the same module list:
   - ``imports``: ``verify-env --checks imports`` (target: both cores busy);
   - ``one-process``: ``python -c "import a; import b; …"``, every module once, serially in one
     process — the CPU floor of the work, with no timeout and no crash isolation;
   - ``per-module`` (one round, it is ~10x slower): ``python -c "import m"`` once per
     module, one after another — the naive isolated way.
All run with ``-B`` and ``PYTHONDONTWRITEBYTECODE=1`` in an empty directory: nothing is written
into the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_list(python: str) -> list[str]:
    from verify_env.checks.imports.names import import_units
    from verify_env.inventory import build_inventory
    from verify_env.target.model import resolve_target

    target = resolve_target(python)
    units = import_units(
        build_inventory(target).distributions, target.site_dirs, target.extension_suffixes
    )
    return [m for u in units for m in u.modules]


def timed_run(verify_env: str, python: str, cwd: str) -> dict[str, object]:
    proc = subprocess.run(
        [
            "/usr/bin/time",
            "-v",
            verify_env,
            "--python",
            python,
            "--checks",
            "imports",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    report = json.loads(proc.stdout)

    def field(name: str) -> str:
        match = re.search(rf"^\s*{re.escape(name)}: (.+)$", proc.stderr, re.MULTILINE)
        assert match, (name, proc.stderr[-2000:])
        return match.group(1).strip()

    user, system = float(field("User time (seconds)")), float(field("System time (seconds)"))
    clock = field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")
    wall = sum(float(p) * 60**i for i, p in enumerate(reversed(clock)))
    return {
        "exit": proc.returncode,
        "wall_s": round(wall, 2),
        "user_s": user,
        "sys_s": system,
        "cpu_percent": round(100 * (user + system) / wall),
        "max_rss_kb": int(field("Maximum resident set size (kbytes)")),
        "errors": report["summary"]["errors"],
        "warnings": report["summary"]["warnings"],
        **report["environment"].get("imports", {}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("python")
    parser.add_argument("--verify-env", default=str(Path(sys.executable).parent / "verify-env"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--abbench", default=str(ROOT.parent / "shared/tools/abbench.py"))
    parser.add_argument("--json", help="write abbench's JSON results here")
    args = parser.parse_args()
    modules = module_list(args.python)
    work = tempfile.mkdtemp(prefix="verify-env-imports-bench-")
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    os.chdir(work)
    facts = timed_run(args.verify_env, args.python, work)
    print(json.dumps({"module_list": len(modules), **facts}), flush=True)
    py = shlex.quote(args.python)
    # a failure must not stop the serial baseline (setuptools refuses to import after
    # distutils, for one): each import is tried, as the check tries each
    one = (
        f"import importlib\nfor m in {modules!r}:\n    try:\n"
        "        importlib.import_module(m)\n    except BaseException:\n        pass\n"
    )
    loop = "; ".join(f"{py} -B -W ignore -c 'import {m}'" for m in modules)
    commands = [
        f"imports::{shlex.quote(args.verify_env)} --python {py} --checks imports --format json",
        f"one-process::{py} -B -W ignore -c {shlex.quote(one)}",
    ]
    cmd = [sys.executable, args.abbench, "-n", str(args.rounds), "--ok-rc", "imports=0,1"]
    if args.json:
        cmd += ["--json", args.json]
    subprocess.run(cmd + commands, check=False)
    # ~10x slower: one round is enough to place it
    subprocess.run(
        [sys.executable, args.abbench, "-n", "1", "-w", "0", commands[0], f"per-module::{loop}"],
        check=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
