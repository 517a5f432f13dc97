"""The registry of checks: a tuple, in the order they run and report.

Adding a check = adding a module with ``NAME``, ``CODES`` and ``run(ctx)``, its codes in
`verify_env.finding.CODES`, and a line here. A check's module is imported only when the check
runs: ``pipv`` runs on every install, and ``--checks tags,requirements`` should not pay for the
imports and linkage machinery (~30 ms of imports here).
"""

from __future__ import annotations

from verify_env.checks.interface import Check, CheckResult, Context
from verify_env.errors import UsageError

__all__ = ["CHECKS", "DEFAULT_CHECKS", "Check", "CheckResult", "Context", "by_name", "parse_checks"]

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


DEFAULT_CHECKS: tuple[str, ...] = tuple(c.name for c in CHECKS if c.default)


def parse_checks(text: str) -> tuple[str, ...]:
    """``tags,record`` or ``all`` -> check names in registry order; unknown names refused."""
    known = [c.name for c in CHECKS]
    if text.strip() == "all":
        return tuple(known)
    asked = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in asked if p not in known]
    if unknown or not asked:
        raise UsageError(
            f"--checks {text!r}: unknown check(s) {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(known)} or all"
        )
    return tuple(n for n in known if n in asked)
