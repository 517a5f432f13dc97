"""Full-verify figures for issue 3, against baselines measured in the same alternated run.

    python bench/record_bench.py /path/to/venv [--rounds 7] [--inside]

``--inside``: run the ``verify-env`` installed in that venv, with no ``--python``: the way a
Dockerfile step runs it (the target is the running interpreter, described in-process). Without
it, this interpreter's verify-env verifies the venv through ``--python`` (one probe subprocess).

Builds the list of files verify-env hashes in that venv (every RECORD entry with a digest),
then runs ``../shared/tools/abbench.py`` (commands alternated each round, medians of paired
ratios) over:

- ``openssl-2p``: two parallel ``openssl dgst -sha256`` processes over the same files, split
  by bytes — the physical limit of SHA-256 on two cores;
- ``record-cold``: ``verify-env --checks record --no-cache``   (target <= 1.25x openssl-2p);
- ``core-cold``: ``verify-env --checks tags,record --no-cache`` (issue 3's default; target
  <= 1.5x openssl-2p);
- ``full-cold``: ``verify-env --no-cache``, today's default (linkage, requirements and paths
  too);
- ``pip-check``: ``python -m pip check`` in the venv;
- ``warm-core``: ``verify-env --checks tags,record`` with the stat cache filled, nothing
  changed (target <= 0.5x pip-check);
- ``warm``: the same with today's default checks (issue 15: target <= 0.5x pip-check). A
  warm full run replays the verdict an earlier one stored while every path it read holds
  (``cache/verdict.py``): the working directory is one of them (what shadows a module from
  it), so the commands run in a fresh empty directory, not in this checkout;
- ``version``: ``verify-env --version`` against ``python -c pass``  (target <= 40 ms).

The page cache is warm for all of them (a warm-up round runs first). The environment itself is
never written.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def file_list(python: str) -> list[tuple[str, int]]:
    from verify_env.inventory import build_inventory
    from verify_env.target.model import resolve_target

    inventory = build_inventory(resolve_target(python))
    seen: dict[str, int] = {}
    for dist in inventory.distributions:
        if dist.judged_by is not None:
            continue
        for f in dist.files:
            if f.digest is not None and os.path.isfile(f.location):
                seen.setdefault(f.location, os.path.getsize(f.location))
    return sorted(seen.items())


def halves(files: list[tuple[str, int]]) -> tuple[list[str], list[str]]:
    a: list[str] = []
    b: list[str] = []
    load = [0, 0]
    for path, size in sorted(files, key=lambda x: -x[1]):
        k = 0 if load[0] <= load[1] else 1
        (a if k == 0 else b).append(path)
        load[k] += size
    return a, b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("venv", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--abbench", default=str(ROOT.parent / "shared/tools/abbench.py"))
    parser.add_argument("--json", help="write abbench's JSON results here")
    parser.add_argument(
        "--inside",
        action="store_true",
        help="run the venv's own verify-env (installed there), no --python",
    )
    args = parser.parse_args()
    python = str(args.venv / "bin" / "python")
    files = file_list(python)
    total = sum(s for _, s in files)
    print(f"{len(files)} files, {total / 1e9:.2f} GB to hash", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="verify-env-bench-"))
    one, two = halves(files)
    (work / "a.list").write_text("\0".join(one))
    (work / "b.list").write_text("\0".join(two))
    me = shlex.quote(sys.executable)
    if args.inside:
        ve = shlex.quote(str(args.venv / "bin" / "verify-env"))
    else:
        ve = (
            f"{shlex.quote(str(Path(sys.executable).parent / 'verify-env'))} "
            f"--python {shlex.quote(python)}"
        )
    cold_cache = f"VERIFY_ENV_CACHE_DIR={shlex.quote(str(work / 'cold'))}"
    warm_cache = f"VERIFY_ENV_CACHE_DIR={shlex.quote(str(work / 'warm'))}"
    quiet = work / "cwd"  # the working directory every command runs in: nothing changes it
    quiet.mkdir()
    (work / "cold").mkdir()
    (work / "warm").mkdir()
    subprocess.run(f"{warm_cache} {ve} >/dev/null", shell=True, check=False, cwd=quiet)  # fill
    a, b = shlex.quote(str(work / "a.list")), shlex.quote(str(work / "b.list"))
    openssl = (
        f"xargs -0 -a {a} openssl dgst -sha256 >/dev/null & "
        f"xargs -0 -a {b} openssl dgst -sha256 >/dev/null; wait"
    )
    commands = [
        f"openssl-2p::{openssl}",
        f"record-cold::{cold_cache} {ve} --checks record --no-cache >/dev/null",
        f"core-cold::{cold_cache} {ve} --checks tags,record --no-cache >/dev/null",
        f"full-cold::{cold_cache} {ve} --no-cache >/dev/null",
        f"pip-check::{shlex.quote(python)} -m pip check >/dev/null",
        f"warm-core::{warm_cache} {ve} --checks tags,record >/dev/null",
        f"warm::{warm_cache} {ve} >/dev/null",
    ]
    cmd = [
        sys.executable,
        args.abbench,
        "-n",
        str(args.rounds),
        "--pair",
        "warm-core/pip-check",
        "--pair",
        "warm/pip-check",
        "--ref",
        "openssl-2p",
        "--ok-rc",
        "0,1",
    ]
    if args.json:
        cmd += ["--json", args.json]
    subprocess.run(cmd + commands, check=False, cwd=quiet)
    verify_env_script = (
        shlex.quote(str(args.venv / "bin" / "verify-env"))
        if args.inside
        else shlex.quote(str(Path(sys.executable).parent / "verify-env"))
    )
    subprocess.run(
        [
            sys.executable,
            args.abbench,
            "-n",
            "20",
            f"python-pass::{me} -c pass",
            f"version::{verify_env_script} --version",
        ],
        check=False,
    )
    print(json.dumps({"files": len(files), "bytes": total}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
