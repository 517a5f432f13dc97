"""The registry of checks: a tuple, in the order they run and report.

Adding a check = adding a module with ``NAME``, ``CODES`` and ``run(ctx)``, and a line here.
"""

from __future__ import annotations

from verify_env.checks import imports, linkage, paths, record, requirements, tags
from verify_env.checks.interface import Check, CheckResult, Context

__all__ = ["CHECKS", "Check", "CheckResult", "Context", "by_name"]

# record first: it starts the hashing workers and finishes after the others have run.
CHECKS: tuple[Check, ...] = (
    Check(record.NAME, record.CODES, record.run),
    Check(tags.NAME, tags.CODES, tags.run),
    Check(linkage.NAME, linkage.CODES, linkage.run),
    Check(requirements.NAME, requirements.CODES, requirements.run),
    Check(paths.NAME, paths.CODES, paths.run),
    Check(imports.NAME, imports.CODES, imports.run, default=False),
)


def by_name() -> dict[str, Check]:
    return {c.name: c for c in CHECKS}
