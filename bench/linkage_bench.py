"""Linkage figures for issue 5, against ``ldd`` over the same files in one alternated run.

    python bench/linkage_bench.py /path/to/venv/bin/python [--rounds 7]

In-process, once each (page cache warm, stat cache off), the parts of the check:

- *static pass*: the dynamic section of every ELF file of the environment (files, wall time,
  bytes read), then the loader model over every extension module and every library (closures
  with the ld.so search order);
- *BLAS facts*: the string/symbol tables of the files that name BLAS routines;
- *confirmation*: the files handed to the target's ld.so, and its time;
- *check*: ``linkage.run`` as a whole, cold (no stat cache) and warm.

Then ``../shared/tools/abbench.py`` alternates, each round:

- ``ldd``: ``ldd`` on every shared object the check looks at, one after another;
- ``cold``: ``verify-env --checks linkage --no-cache`` (start-up and inventory included);
- ``warm``: ``verify-env --checks linkage`` with the stat cache filled.

The environment itself is never written.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _object_tuple(path: str) -> tuple[object, ...] | str:
    from verify_env.loader.search import ObjectFacts, read_facts

    got = read_facts(path)
    return got.as_tuple() if isinstance(got, ObjectFacts) else got


def _in_process(python: str) -> tuple[list[str], list[str]]:
    from verify_env.binary import elf
    from verify_env.cache.statcache import StatCache
    from verify_env.checks.interface import Context, Options
    from verify_env.checks.linkage import check as linkage
    from verify_env.checks.linkage.facts import FileFacts
    from verify_env.checks.linkage.state import units as linkage_units
    from verify_env.inventory import build_inventory
    from verify_env.loader.search import (
        ObjectFacts,
        RealPaths,
        SearchMemo,
        closure,
        read_facts,
        search_setup,
    )
    from verify_env.pool.hashing import ForkMap, default_jobs
    from verify_env.target.model import resolve_target
    from verify_env.transaction.scope import Scope

    target = resolve_target(python)
    inventory = build_inventory(target)
    units = list(linkage_units(Context(target, inventory, Scope.full(), 1, StatCache(None))))
    files = [u.file.location for u in units]
    stats = elf.ReadStats()
    start = time.perf_counter()
    for path in files:
        try:
            elf.read_dynamic(path, stats=stats)
        except (OSError, elf.ElfFormatError):
            pass
    read_s = time.perf_counter() - start
    exe = os.path.realpath(target.executable or "")
    memo: dict[str, ObjectFacts | str] = {}

    def facts(path: str) -> ObjectFacts | str:
        got = memo.get(path)
        if got is None:
            got = memo[path] = read_facts(path)
        return got

    start = time.perf_counter()
    triple = facts(exe)
    assert isinstance(triple, ObjectFacts)
    setup = search_setup(target.machine, triple.triple[0], target.libc, target.env)
    searches: SearchMemo = {}
    real = RealPaths()  # one per run, as the check's FileFacts has
    for path in files:
        closure(path, setup, facts, realpath=real, memo=searches)
    static_s = time.perf_counter() - start
    elf._dynamic_memo.clear()  # the static pass again, as the check runs it: dynamic
    start = time.perf_counter()  # sections read in forked workers, then the same search
    pre = dict(
        ForkMap(_object_tuple, files, [os.path.getsize(f) for f in files], default_jobs()).results()
    )
    par_memo: dict[str, ObjectFacts | str] = {
        f: ObjectFacts.from_tuple(t) if isinstance(t, tuple) else str(t)
        for f, t in zip(files, (pre.get(i, "") for i in range(len(files))), strict=True)
    }

    def par_facts(path: str) -> ObjectFacts | str:
        got = par_memo.get(path)
        if got is None:
            got = par_memo[path] = read_facts(path)
        return got

    real, searches = RealPaths(), {}
    for path in files:
        closure(path, setup, par_facts, realpath=real, memo=searches)
    static_par_s = time.perf_counter() - start
    ff = FileFacts(StatCache(None))
    start = time.perf_counter()
    named = sum(1 for p in memo if ff.blas(p) is not None)
    blas_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:  # the static pass again, facts from the cache
        warm_cache = StatCache(os.path.join(tmp, "c"))
        for p in memo:
            FileFacts(warm_cache).object(p)
        warm_cache.save()
        warm_facts = FileFacts(StatCache(os.path.join(tmp, "c")).load())
        start = time.perf_counter()
        searches = {}
        for path in files:
            closure(path, setup, warm_facts.object, realpath=warm_facts.realpath, memo=searches)
        static_warm_s = time.perf_counter() - start
    lines = [
        f"ELF files: {len(files)}; dynamic sections read in {read_s * 1000:.0f} ms, "
        f"{stats.bytes_read / 1e6:.2f} MB read in {stats.reads} reads "
        f"(files total {sum(os.path.getsize(f) for f in files) / 1e6:.0f} MB)",
        f"static pass (dynamic sections + search over {len(memo)} objects, "
        f"system libraries included): {static_s * 1000:.0f} ms",
        f"static pass, dynamic sections read by {default_jobs()} forked workers (as in "
        f"the check, whose workers also read the BLAS names), then the same search: "
        f"{static_par_s * 1000:.0f} ms",
        f"static pass with the facts from the stat cache: {static_warm_s * 1000:.0f} ms",
        f"BLAS facts ({named} objects name BLAS routines; dynamic sections read again): "
        f"{blas_s * 1000:.0f} ms",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        runs: tuple[tuple[str, str | None], ...] = (
            ("cold", None),
            ("warm-fill", os.path.join(tmp, "c")),
            ("warm", os.path.join(tmp, "c")),
        )
        for label, cache_file in runs:
            cache = StatCache(cache_file).load()
            ctx = Context(
                target,
                build_inventory(target, cache=cache),
                Scope.full(),
                default_jobs(),
                cache,
                None,
                Options(),
            )
            start = time.perf_counter()
            result = linkage.run(ctx)
            took = time.perf_counter() - start
            cache.save()
            if label != "warm-fill":
                confirm = [d for d in result.details if "confirmed by" in d]
                lines.append(
                    f"check {label}: {took * 1000:.0f} ms, {len(result.findings)} "
                    f"findings; {confirm[0] if confirm else 'no confirmation'}"
                )
    return lines, files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("python")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    lines, files = _in_process(args.python)
    for line in lines:
        print(line)
    me = shlex.quote(sys.executable)
    py = shlex.quote(args.python)
    with tempfile.TemporaryDirectory() as tmp:
        listing = os.path.join(tmp, "files")
        Path(listing).write_text("\n".join(files) + "\n")
        cache = os.path.join(tmp, "cache")
        verify = f"{me} -m verify_env --python {py} --checks linkage"
        subprocess.run(f"VERIFY_ENV_CACHE_DIR={cache} {verify} >/dev/null", shell=True, check=False)
        cmds = [
            f"ldd::xargs -d '\\n' -n 1 ldd < {listing} >/dev/null 2>&1",
            f"cold::{verify} --no-cache >/dev/null",
            f"warm::VERIFY_ENV_CACHE_DIR={cache} {verify} >/dev/null",
        ]
        tool = ROOT.parent / "shared" / "tools" / "abbench.py"
        if not tool.exists():
            tool = Path("/work/shared/tools/abbench.py")
        return subprocess.run(
            [
                sys.executable,
                str(tool),
                "-n",
                str(args.rounds),
                "--quiet",
                "--ok-rc",
                "ldd=0,123",
                "--pair",
                "ldd/cold",
                "--pair",
                "ldd/warm",
                *cmds,
            ],
            check=False,
        ).returncode


if __name__ == "__main__":
    sys.exit(main())
