"""After conda linked a transaction: verify what it changed and what that could break.

conda's linked and unlinked records become the core's `Change` (`Change.of_packages`), and the
core's one scope rule (`verify_env.transaction.scope.scope_of`) widens it, as for pipv: dependents
through ``depends`` / Requires-Dist, consumers of a shared library the transaction replaced or
removed, and every distribution with compiled files when the interpreter changed. When the
interpreter's X.Y changed (``conda install python=3.12``), the old ``lib/python3.11/
site-packages`` is verified too: what pip put there is left behind, and its extension modules are
dead in the new interpreter.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from verify_env_conda.records import PackageRef

if TYPE_CHECKING:
    from verify_env.session import Outcome, Session
    from verify_env.target.model import Target
    from verify_env.transaction.snapshot import Change

__all__ = ["change_of", "left_behind_site", "verify_transaction"]

_XY = re.compile(r"^(\d+)\.(\d+)")


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


def change_of(linked: Sequence[PackageRef], unlinked: Sequence[PackageRef]) -> Change:
    """The transaction as the core's `Change`."""
    from verify_env.transaction.snapshot import Change

    return Change.of_packages(
        [(r.name, r.files) for r in linked if r.name],
        [(r.name, r.files) for r in unlinked if r.name],
    )


def _target_with(target: Target, old_site: str | None) -> Target:
    if old_site is None or old_site in target.site_dirs:
        return target
    return dataclasses.replace(target, site_dirs=(*target.site_dirs, old_site))


def verify_transaction(
    session: Session,
    prefix: str,
    linked: Sequence[PackageRef],
    unlinked: Sequence[PackageRef],
    also: Sequence[str] = (),
    target: Target | None = None,
) -> Outcome:
    """Verify ``prefix`` after conda linked ``linked`` and unlinked ``unlinked``; ``also``:
    keys of distributions known to be affected (those whose files the link overwrote).

    Raises `verify_env.errors.VerifyEnvError` when the core cannot run (no interpreter probe);
    a damaged prefix is findings, never an exception.
    """
    old_site = left_behind_site(prefix, linked, unlinked)
    target = _target_with(target or session.target(prefix=prefix), old_site)
    inventory = session.inventory(target)
    stranded = [
        d
        for d in inventory.distributions
        if old_site and d.site_dir == old_site and d.judged_by is None
    ]
    outcome = session.run(
        target,
        change=change_of(linked, unlinked),
        also=[*also, *(d.key for d in stranded)],
        inventory=inventory,
    )
    from verify_env_conda.present import cache_note

    outcome = dataclasses.replace(outcome, notes=(*outcome.notes, *cache_note(outcome.report)))
    if not stranded:
        return outcome
    names = ", ".join(sorted(f"{d.name} {d.version}" for d in stranded))
    note = (
        f"{len(stranded)} distribution(s) conda did not install stay in {old_site}, "
        f"which the new python does not read: {names}; reinstall them with pip "
        "in this environment"
    )
    return dataclasses.replace(outcome, notes=(note, *outcome.notes))
