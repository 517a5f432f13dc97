"""The engine under every run: build the inventory, run the selected checks, return a `Report`.

Front doors never call it: they go through `verify_env.session.Session`, which maps their
settings to these arguments, so every door runs the same way. It prints nothing and exits
nothing; what a check starts early (the record check's hashing) is started through that check's
own ``prepare``, so this module knows no check's machinery.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Sequence

from verify_env.cache.statcache import StatCache, cache_path_for
from verify_env.checks import CHECKS, DEFAULT_CHECKS, CheckResult, Context, parse_checks
from verify_env.checks.interface import Options, Preparation, ProgressFn, Start
from verify_env.finding import CODES, Finding
from verify_env.gcpolicy import few_collections
from verify_env.inventory import Distribution, Inventory, build_inventory
from verify_env.pool.hashing import default_jobs
from verify_env.report import Report, Summary
from verify_env.target.model import Target
from verify_env.transaction.scope import Scope

__all__ = ["DEFAULT_CHECKS", "parse_checks", "verify"]


@few_collections
def verify(
    target: Target,
    checks: Sequence[str] = DEFAULT_CHECKS,
    scope: Scope | None = None,
    jobs: int | None = None,
    use_cache: bool = True,
    progress: ProgressFn | None = None,
    options: Options | None = None,
    inventory: Inventory | None = None,
    cache_dir: str | None = None,
    cache: StatCache | None = None,
) -> Report:
    """Verify ``target`` with the named checks within ``scope``; nothing is printed.

    ``inventory``: one the caller already built for this target (to compute the scope), so it
    is not read twice; the checks' early work starts only when the inventory is read here.
    ``cache_dir``: where the stat cache lives (None: `cache_path_for`'s default).
    ``cache``: the stat cache that inventory was built with (loaded and saved once a run)."""
    started = time.perf_counter()
    scope = scope or Scope.full()
    if cache is None:
        cache = StatCache(cache_path_for(target.prefix, cache_dir) if use_cache else None).load()
    jobs = jobs or default_jobs()
    selected = [check for check in CHECKS if check.name in checks]
    prepared: dict[str, Preparation] = {}
    try:
        if inventory is None:
            start = Start(target, scope, cache, jobs, progress is not None)
            for check in selected:
                early = check.prepare(start)
                if early is not None:
                    prepared[check.name] = early
            inventory = build_inventory(
                target, cache=cache, on_distribution=_feeder(prepared) if prepared else None
            )
        ctx = Context(
            target, inventory, scope, jobs, cache, progress, options or Options(), prepared
        )
        total = CheckResult()
        outcomes = [check.run(ctx) for check in selected]
        for outcome in outcomes:
            result = outcome if isinstance(outcome, CheckResult) else outcome()
            total.findings += result.findings
            total.skips += result.skips
            total.files = max(total.files, result.files)
            total.bytes_hashed += result.bytes_hashed
            total.facts.update(result.facts)
            total.details += result.details
        if target.fallback is not None and not any(c.name == "paths" for c in selected):
            # an interpreter that cannot start is damage whatever was asked (a transaction
            # runs no paths check): the finding that says so comes with every run
            from verify_env.checks.startup import cannot_start

            total.findings += cannot_start(target)
    finally:
        for early in prepared.values():
            early.abort()  # a no-op once its check has taken the results
    cache.save()
    findings = sorted(
        _located(total.findings, inventory),
        key=lambda f: (
            (f.distribution or "").lower(),
            f.path or "",
            CODES[f.code].check,
            f.code,
        ),
    )
    in_scope = sum(1 for d in inventory.distributions if scope.includes(d))
    summary = Summary(
        in_scope, total.files, total.bytes_hashed, round(time.perf_counter() - started, 3)
    )
    return Report(
        target,
        tuple(c.name for c in selected),
        tuple(findings),
        tuple(total.skips),
        summary,
        tuple(cache.warnings),
        total.facts,
        tuple(total.details),
    )


def _feeder(prepared: dict[str, Preparation]) -> Callable[[Distribution], None]:
    def feed(dist: Distribution) -> None:
        for early in prepared.values():
            early.feed(dist)

    return feed


def _located(findings: Iterable[Finding], inventory: Inventory) -> list[Finding]:
    """Each finding with the absolute path of its file, so that a baseline can hash it and SARIF
    can point at it. A relative path is relative to the root of the record that names it."""
    roots: dict[tuple[str, str], str] = {}
    for d in inventory.distributions:
        roots.setdefault((d.name, d.version), d.root)
    out = []
    for f in findings:
        if f.path is None or f.location is not None:
            out.append(f)
            continue
        if os.path.isabs(f.path):
            location: str | None = os.path.normpath(f.path)
        else:
            root = roots.get((f.distribution or "", f.version or ""))
            location = None if root is None else os.path.normpath(os.path.join(root, f.path))
        out.append(dataclasses.replace(f, location=location) if location else f)
    return out
