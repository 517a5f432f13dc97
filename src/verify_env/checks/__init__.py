"""The registry of checks: a tuple, in the order they run and report.

Adding a check = adding a module with ``NAME``, ``CODES`` and ``run(ctx)``, its codes in
`verify_env.finding.CODES`, and a line here. A check's module is imported only when the check
runs: ``pipv`` runs on every install, and ``--checks tags,requirements`` should not pay for the
imports and linkage machinery (~30 ms of imports here).
"""

from __future__ import annotations

from verify_env.checks.interface import Check, CheckResult, Context

__all__ = ["CHECKS", "Check", "CheckResult", "Context", "by_name"]

# record first: it starts the hashing workers and finishes after the others have run.
CHECKS: tuple[Check, ...] = (
    Check("record", "verify_env.checks.record"),
    Check("tags", "verify_env.checks.tags"),
    Check("linkage", "verify_env.checks.linkage.check"),
    Check("requirements", "verify_env.checks.requirements"),
    Check("paths", "verify_env.checks.paths"),
    Check("imports", "verify_env.checks.imports.check", default=False),
)


def by_name() -> dict[str, Check]:
    return {c.name: c for c in CHECKS}
