"""Time verify_env.binary.elf over every ELF file under a directory.

    python bench/elf_read.py DIR [--symbols] [--repeat N]

Finds ELF files by their magic (symlinks are not followed, so each file counts once), then
times `read_dynamic` (and with --symbols, `dynamic_symbols`) over all of them, and reports
the bytes the reader actually read next to the total size of the files.  The first pass
warms the page cache; with --repeat N the best of N passes is reported.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

from verify_env.binary.elf import ElfFormatError, ReadStats, read_dynamic
from verify_env.binary.elfsym import dynamic_symbols


def find_elf_files(root: str) -> list[str]:
    found = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            try:
                with open(path, "rb") as f:
                    if f.read(4) == b"\x7fELF":
                        found.append(path)
            except OSError:
                continue
    return sorted(found)


def run(label: str, reader: Callable[..., object], files: list[str], repeat: int) -> None:
    best = float("inf")
    stats = ReadStats()
    malformed = 0
    for _ in range(repeat):
        stats, malformed = ReadStats(), 0
        start = time.perf_counter()
        for path in files:
            try:
                reader(path, stats=stats)
            except (ElfFormatError, OSError):
                malformed += 1
        best = min(best, time.perf_counter() - start)
    per_file = best / len(files) * 1e6 if files else 0.0
    print(
        f"{label:16} {best:8.4f} s total  {per_file:8.1f} us/file  "
        f"{stats.bytes_read:>12,} bytes read in {stats.reads:,} reads  ({malformed} rejected)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="directory to search for ELF files")
    parser.add_argument("--symbols", action="store_true", help="also time dynamic_symbols")
    parser.add_argument("--repeat", type=int, default=3, help="passes; the best is reported")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    files = find_elf_files(args.root)
    scan = time.perf_counter() - start
    total = sum(os.path.getsize(p) for p in files)
    print(f"{len(files)} ELF files, {total:,} bytes on disk (found in {scan:.3f} s)")
    if not files:
        return 1
    run("read_dynamic", read_dynamic, files, args.repeat)
    if args.symbols:
        run("dynamic_symbols", dynamic_symbols, files, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
