"""CPU of the linkage check's prefetch workers, in one process (issue 17's cold-run figure).

    python bench/prefetch_cpu.py /path/to/venv/bin/python [--rounds 7]

Runs the linkage check once with the stat cache off, keeping the items its prefetch hands to
the forked workers (every object's facts, BLAS/OpenMP names and symbol names), then times, in
this process (``time.process_time``, best of the rounds): the workers' function over all of
them, as the forked workers run it together; and this process's share, turning the names the
workers send back into the binding pass's sets. Prints the binding pass's resolved-reference
count too, the figure a change to the readers must leave as it was. A cold run's wall time
on a 2-core machine follows the CPU of all its processes: this is the part of it the
symbol-table readers decide, measured without the noise of a shared machine's other runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from verify_env.cache.statcache import StatCache
from verify_env.checks.interface import Context, Options
from verify_env.checks.linkage import check as linkage
from verify_env.checks.linkage import facts
from verify_env.inventory import build_inventory
from verify_env.pool.hashing import ForkMap
from verify_env.target.model import resolve_target
from verify_env.transaction.scope import Scope

Item = tuple[str, bool, bool]


def _best_ms(func: Callable[[], object], rounds: int) -> float:
    took = []
    for _ in range(rounds):
        start = time.process_time()
        func()
        took.append(time.process_time() - start)
    return 1000 * min(took)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("python")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    items: list[Item] = []

    class Recording(ForkMap[Item]):
        """The check's ForkMap, run in this process, its items kept."""

        def __init__(
            self,
            func: Callable[[Item], object],
            todo: Sequence[Item],
            weights: Sequence[int],
            jobs: int | None = None,
        ) -> None:
            items.extend(todo)
            super().__init__(func, todo, weights, 1)

    vars(facts)["ForkMap"] = Recording  # the check forks through this name
    target = resolve_target(args.python)
    cache = StatCache(None)
    inventory = build_inventory(target, cache=cache)
    ctx = Context(target, inventory, Scope.full(), 1, cache, None, Options())
    result = linkage.run(ctx)
    resolved = [d for d in result.details if "resolved" in d]
    answers = [facts._read_packed(item) for item in items]
    worker = _best_ms(lambda: [facts._read_packed(item) for item in items], args.rounds)
    unpack = _best_ms(lambda: [facts._unpack_names(a[1]) for a in answers], args.rounds)
    print(f"{len(items)} objects prefetched; {len(result.findings)} findings")
    print(resolved[0] if resolved else "no binding pass")
    print(f"workers' function over all objects: {worker:.1f} ms CPU (best of {args.rounds})")
    print(f"this process's share (names to sets): {unpack:.1f} ms CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
