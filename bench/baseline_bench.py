"""The cost of a baseline comparison (issue 8): ``verify-env --baseline F`` against the same run
without it, alternated by ``../shared/tools/abbench.py`` (target: <= 1.05x).

    python bench/baseline_bench.py /path/to/venv [--rounds 15] [--keep]

The venv is cloned with hard links (``cp -al``) into a temporary dir and damaged there, each
damaged file first given its own inode (the source venv is never written): the certificate
bundle of certifi if present (a warning), two small ``.py`` files of pure-Python distributions
(errors), and a byte flipped in the largest ``.so`` of numpy if present (an error, and the
largest file a baseline would hash). A baseline is written, then both runs go with the stat
cache warm (filled by a warm-up round), output to /dev/null:

- ``plain``:    ``verify-env --python CLONE/bin/python``        (exit 1: the damage fails it)
- ``baseline``: ``verify-env --python CLONE/bin/python --baseline F``   (exit 0: all accepted)

plus ``ignore`` (``--ignore`` rules that accept the same findings: no hashing at all) for
scale. The whole-run ratio drowns in a busy machine's noise, so the comparison itself is also
timed in-process, where nothing else varies: reading and validating the baseline and applying
it to the report of one verification (hashing the candidate files), median of 30.
Use a non-editable install (see README).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _own_inode(path: str) -> None:
    data = Path(path).read_bytes()
    mode = os.stat(path).st_mode
    os.unlink(path)
    Path(path).write_bytes(data)
    os.chmod(path, mode)


def damage(clone: Path) -> list[str]:
    """Damage a few files of the clone; return what was damaged."""
    (site,) = glob.glob(str(clone / "lib" / "python3.*" / "site-packages"))
    done = []
    bundle = os.path.join(site, "certifi", "cacert.pem")
    if os.path.isfile(bundle):
        _own_inode(bundle)
        with open(bundle, "ab") as fh:
            fh.write(b"\n# a local CA would go here\n")
        done.append(bundle)
    small = [
        p
        for p in (
            "six.py",
            "typing_extensions.py",
            "packaging/version.py",
            "idna/core.py",
            "sympy/__init__.py",
        )
        if os.path.isfile(os.path.join(site, p))
    ]
    for candidate in small[:2]:
        path = os.path.join(site, candidate)
        _own_inode(path)
        with open(path, "ab") as fh:
            fh.write(b"\n# patched\n")
        done.append(path)
    libs = sorted(
        glob.glob(os.path.join(site, "numpy", "**", "*.so"), recursive=True), key=os.path.getsize
    )
    if libs:
        _own_inode(libs[-1])
        with open(libs[-1], "r+b") as fh:
            fh.seek(os.path.getsize(libs[-1]) // 2)
            byte = fh.read(1)
            fh.seek(-1, os.SEEK_CUR)
            fh.write(bytes([byte[0] ^ 0x01]))
        done.append(libs[-1])
    return done


def in_process(clone: Path, baseline: Path, work: Path) -> None:
    """The baseline comparison alone: `Baseline.read` + `apply` on one run's report."""
    import statistics
    import time

    os.environ["VERIFY_ENV_CACHE_DIR"] = str(work / "cache")
    from verify_env.session import Session
    from verify_env.settings.accept import Baseline, apply

    session = Session()
    report = session.run(session.target(str(clone / "bin" / "python"))).report
    times = []
    for _ in range(30):
        started = time.perf_counter()
        accepted = apply(report, (), Baseline.read(str(baseline)))
        times.append(time.perf_counter() - started)
    hashed = sum(
        os.path.getsize(f.location)
        for f in report.findings
        if f.location and os.path.isfile(f.location)
    )
    print(
        f"in-process: {len(report.findings)} findings, {accepted.accepted} accepted, "
        f"{hashed / 1e6:.1f} MB hashed; read+apply median "
        f"{statistics.median(times) * 1000:.1f} ms (min {min(times) * 1000:.1f} ms); "
        f"the run itself took {report.summary.seconds * 1000:.0f} ms in-process"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("venv", type=Path)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--abbench", default=str(ROOT.parent / "shared/tools/abbench.py"))
    parser.add_argument("--json", help="write abbench's JSON results here")
    parser.add_argument("--keep", action="store_true", help="keep the clone (printed)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="verify-env-baseline-bench-"))
    clone = work / "venv"
    subprocess.run(["cp", "-al", str(args.venv), str(clone)], check=True)
    try:
        damaged = damage(clone)
        print(f"damaged: {', '.join(os.path.relpath(p, clone) for p in damaged)}", file=sys.stderr)
        ve = (
            f"{shlex.quote(str(Path(sys.executable).parent / 'verify-env'))} "
            f"--python {shlex.quote(str(clone / 'bin' / 'python'))}"
        )
        cache = (
            f"VERIFY_ENV_CACHE_DIR={shlex.quote(str(work / 'cache'))} "
            f"XDG_CONFIG_HOME={shlex.quote(str(work / 'config'))}"
        )
        baseline = work / "baseline.json"
        subprocess.run(
            f"{cache} {ve} --baseline write {shlex.quote(str(baseline))} >/dev/null",
            shell=True,
            check=True,
        )
        entries = json.loads(baseline.read_text())["accepted"]
        print(f"baseline: {len(entries)} entries", file=sys.stderr)
        rules = " ".join(
            f"--ignore {shlex.quote(e['check'] + ':' + e['code'] + ':' + e['distribution'] + ':' + (e['path'] or '*'))}"  # noqa: E501
            for e in entries
        )
        commands = [
            f"plain::{cache} {ve} >/dev/null",
            f"baseline::{cache} {ve} --baseline {shlex.quote(str(baseline))} >/dev/null",
            f"ignore::{cache} {ve} {rules} >/dev/null",
        ]
        cmd = [
            sys.executable,
            args.abbench,
            "-n",
            str(args.rounds),
            "-w",
            "2",
            "--pair",
            "baseline/plain",
            "--pair",
            "ignore/plain",
            "--ok-rc",
            "plain=0,1",
        ]
        if args.json:
            cmd += ["--json", args.json]
        subprocess.run(cmd + commands, check=False)
        in_process(clone, baseline, work)
    finally:
        if args.keep:
            print(f"clone kept: {clone}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
