"""After conda linked a transaction: verify what it changed and what that could break.

The scope is the linked and unlinked packages, widened as the core does for any transaction:
dependents through Requires-Dist / ``depends``, consumers of a shared library the transaction
replaced, and every distribution with compiled files when the interpreter changed. When the
interpreter's X.Y changed (``conda install python=3.12``), the old ``lib/python3.11/
site-packages`` is verified too: what pip put there is left behind, and its extension modules
are dead in the new interpreter.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from verify_env_conda.records import PackageRef

if TYPE_CHECKING:
    from verify_env.inventory import Inventory
    from verify_env.report import Report
    from verify_env.target.model import Target
    from verify_env.transaction.scope import Scope

__all__ = ["Outcome", "left_behind_site", "scope_of", "transaction_checks", "verify_transaction"]

_XY = re.compile(r"^(\d+)\.(\d+)")
_DAMAGE = frozenset({"hash-mismatch", "size-mismatch", "clobbered-file"})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What verifying one transaction found."""

    report: Report
    """The core's report on the scope."""
    changed: int
    """Distributions in scope because the transaction linked or unlinked them."""
    affected: int
    """Distributions in scope because the change could break them."""
    notes: tuple[str, ...] = ()
    """Facts beside the findings: pip distributions left behind, hard-linked damage."""


def transaction_checks() -> tuple[str, ...]:
    """The default checks but ``paths``: what shadows a module depends on the working
    directory and PYTHONPATH of whoever runs Python later, not on what conda linked, and
    judging it from conda's own working directory costs a third of the time for nothing.
    ``conda verify`` runs it."""
    from verify_env.verify import DEFAULT_CHECKS

    return tuple(c for c in DEFAULT_CHECKS if c != "paths")


def _xy(version: str) -> str | None:
    m = _XY.match(version)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def left_behind_site(
    prefix: str, linked: Sequence[PackageRef], unlinked: Sequence[PackageRef]
) -> str | None:
    """The old interpreter's site-packages when the transaction changed python's X.Y and the
    directory is still there (what conda did not install in it stays behind)."""
    old = [_xy(r.version) for r in unlinked if r.name == "python"]
    new = [_xy(r.version) for r in linked if r.name == "python"]
    if not old or not old[0] or (new and new[0] == old[0]):
        return None
    site = os.path.join(prefix, "lib", f"python{old[0]}", "site-packages")
    return site if os.path.isdir(site) else None


def scope_of(
    inventory: Inventory,
    linked: Sequence[PackageRef],
    unlinked: Sequence[PackageRef],
    extra: frozenset[str] = frozenset(),
) -> Scope:
    """The packages the transaction touched, widened to what the change could break."""
    from verify_env.binary.extensions import is_shared_object
    from verify_env.inventory.model import canonical_name
    from verify_env.transaction.scope import Scope

    touched = frozenset(canonical_name(r.name) for r in (*linked, *unlinked) if r.name) | extra
    parts = [
        f"{n} {label}" for n, label in ((len(linked), "linked"), (len(unlinked), "unlinked")) if n
    ]
    scope = Scope(touched, "conda transaction: " + ", ".join(parts or ["nothing"]))
    if any(r.name == "python" for r in linked):
        scope = scope.with_binaries(inventory)
    scope = scope.with_dependents(inventory, touched)
    libraries = [
        f.location
        for d in inventory.distributions
        if d.source == "conda-meta" and d.key in touched
        for f in d.files
        if _is_library(f.location) and is_shared_object(f.location)
    ]
    # Libraries an unlinked package took away are gone from disk: their names still match.
    libraries += [os.path.basename(f) for r in unlinked for f in r.files if _is_library(f)]
    if libraries:
        scope = scope.with_consumers(inventory, libraries)
    return scope


def _is_library(path: str) -> bool:
    base = os.path.basename(path)
    return base.startswith("lib") and (base.endswith(".so") or ".so." in base)


def _target_with(target: Target, old_site: str | None) -> Target:
    if old_site is None or old_site in target.site_dirs:
        return target
    return dataclasses.replace(target, site_dirs=(*target.site_dirs, old_site))


def verify_transaction(
    prefix: str,
    linked: Sequence[PackageRef],
    unlinked: Sequence[PackageRef],
    checks: Sequence[str] | None = None,
) -> Outcome:
    """Verify ``prefix`` after conda linked ``linked`` and unlinked ``unlinked``.

    Raises `verify_env.errors.VerifyEnvError` when the core cannot run (no interpreter probe);
    a damaged prefix is findings, never an exception.
    """
    from verify_env.inventory import build_inventory
    from verify_env.target.model import resolve_target
    from verify_env.verify import verify

    old_site = left_behind_site(prefix, linked, unlinked)
    target = _target_with(resolve_target(prefix=prefix), old_site)
    inventory = build_inventory(target)
    stranded = [
        d
        for d in inventory.distributions
        if old_site and d.site_dir == old_site and d.judged_by is None
    ]
    scope = scope_of(inventory, linked, unlinked, frozenset(d.key for d in stranded))
    report = verify(target, tuple(checks or transaction_checks()), scope=scope, inventory=inventory)
    notes: list[str] = []
    if stranded:
        names = ", ".join(sorted(f"{d.name} {d.version}" for d in stranded))
        notes.append(
            f"{len(stranded)} distribution(s) conda did not install stay in {old_site}, "
            f"which the new python does not read: {names}; reinstall them with pip "
            "in this environment"
        )
    notes += hardlink_notes(report)
    touched = {
        d.key
        for d in inventory.distributions
        if d.source == "conda-meta" and any(d.name == r.name for r in linked)
    }
    touched |= {r.name for r in unlinked}
    changed = len(touched & (scope.keys or frozenset()))
    return Outcome(report, changed, max(report.summary.distributions - changed, 0), tuple(notes))


def hardlink_notes(report: Report) -> list[str]:
    """A damaged file with other hard links is damaged in the package cache or in other
    environments too: reinstalling from that cache relinks the same bytes."""
    notes = []
    seen: set[str] = set()
    for f in report.findings:
        if f.code not in _DAMAGE or not f.path or f.path in seen:
            continue
        seen.add(f.path)
        location = f.path if os.path.isabs(f.path) else os.path.join(report.target.prefix, f.path)
        try:
            links = os.lstat(location).st_nlink
        except OSError:
            continue
        if links > 1:
            notes.append(
                f"{f.path} has {links - 1} other hard link(s) (the package cache, other "
                "environments): the damage is there too"
            )
    return notes
