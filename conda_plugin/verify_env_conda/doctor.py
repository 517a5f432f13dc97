"""The ``conda doctor`` health check and its ``--fix``.

``conda doctor`` exits 0 whatever its checks find, so the check only reports (``conda verify``
is where the exit status lives). The fixer reinstalls, through conda, the conda packages whose
files are damaged. Files are hard-linked from the package cache, so bytes damaged in place are
damaged in ``pkgs/`` too and a plain ``--force-reinstall`` would relink them: a cache copy that
differs from its ``paths.json`` is dropped first, so conda extracts the package afresh.
Damage to what pip owns is reported with pip's command; conda does not own those files.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from verify_env_conda.records import PackageRef

if TYPE_CHECKING:
    from verify_env.report import Report

__all__ = ["Damage", "damage_of", "fix", "health_check", "run_checks"]

OK_MARK, X_MARK = "\u2705", "\u274c"
_DAMAGE = frozenset({"hash-mismatch", "size-mismatch", "missing-file"})
NAME = "verify-env"


@dataclass(frozen=True, slots=True)
class Damage:
    """What a repair needs to know from one report."""

    conda: tuple[PackageRef, ...]
    """Conda packages with damaged or missing files (conda-meta records)."""
    other_hints: tuple[str, ...]
    """The repair commands for damage no conda record owns (pip's, the OS's)."""


def run_checks(prefix: str, plugins: object = None) -> Report:
    """The default checks, with what the configuration accepts marked accepted."""
    from verify_env.target.model import resolve_target
    from verify_env.verify import DEFAULT_CHECKS, verify
    from verify_env_conda.settings import acceptance

    rules, _ = acceptance(plugins, sys.stdout)
    return rules.apply(verify(resolve_target(prefix=prefix), DEFAULT_CHECKS))


def damage_of(report: Report, prefix: str) -> Damage:
    """The conda packages to reinstall (read from their conda-meta records), and the other
    repairs, from a report's file damage."""
    import json

    names = {
        f.distribution
        for f in report.findings
        if f.code in _DAMAGE and f.installer == "conda" and f.distribution and f.accepted is None
    }
    refs: list[PackageRef] = []
    meta = os.path.join(prefix, "conda-meta")
    try:
        records = sorted(n for n in os.listdir(meta) if n.endswith(".json"))
    except OSError:
        records = []
    for entry in records:
        try:
            with open(os.path.join(meta, entry), "rb") as fh:
                doc = json.loads(fh.read().decode("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("name") in names:
            refs.append(PackageRef.of(_Fields(doc)))
    hints = []
    for f in report.findings:
        if f.installer != "conda" and f.hint and f.severity == "error" and f.hint not in hints:
            hints.append(f.hint)
    return Damage(tuple(refs), tuple(hints))


class _Fields:
    """Attribute access to a conda-meta JSON object, the way conda's records offer it."""

    def __init__(self, doc: dict[str, object]) -> None:
        self.__dict__.update({k: v for k, v in doc.items() if isinstance(k, str)})


def health_check(prefix: str, verbose: bool, plugins: object = None) -> None:
    """``conda doctor``'s report: one line when whole, else the findings and their repairs."""
    from verify_env.errors import VerifyEnvError

    try:
        report = run_checks(prefix, plugins)
    except VerifyEnvError as exc:
        print(f"{X_MARK} verify-env could not verify {prefix}: {exc}\n")
        return
    if len(report.findings) == report.accepted:
        accepted = f", {report.accepted} accepted finding(s)" if report.accepted else ""
        print(
            f"{OK_MARK} verify-env: {report.summary.distributions} distributions whole "
            f"({', '.join(report.checks)}{accepted}).\n"
        )
        return
    print(
        f"{X_MARK} verify-env: {report.errors} error(s), {report.warnings} warning(s), "
        f"{report.accepted} accepted ({', '.join(report.checks)}):\n"
    )
    shown = report.findings if verbose else report.findings[:20]
    for f in shown:
        who = f"{f.distribution} {f.version}".strip() if f.distribution else ""
        why = f" (accepted: {f.accepted})" if f.accepted else ""
        print(f"  {f.severity}: {who + ': ' if who else ''}[{f.check}/{f.code}] {f.message}{why}")
    if len(shown) < len(report.findings):
        print(f"  … and {len(report.findings) - len(shown)} more (--verbose, or conda verify)")
    hints = sorted({f.hint for f in report.findings if f.hint and f.accepted is None})
    for hint in hints:
        print(f"  fix: {hint}")
    from verify_env_conda.transaction import hardlink_notes

    for note in hardlink_notes(report):
        print(f"  note: {note}")
    print(
        "`conda doctor --fix` reinstalls the damaged conda packages; "
        "`conda verify` exits 1 on errors.\n"
    )


def drop_damaged_cache(refs: Sequence[PackageRef], pkgs_dirs: Sequence[str]) -> list[str]:
    """Remove the extracted cache dirs of ``refs`` whose files differ from their
    ``paths.json``; return what was removed. Tarballs stay: conda extracts them again (and
    checks them against the channel's sha256)."""
    from verify_env_conda.cache_check import check_cache

    removed = sorted({p.extracted for p in check_cache(refs, pkgs_dirs) if p.extracted})
    for path in removed:
        shutil.rmtree(path)
    return removed


def fix(
    prefix: str,
    confirm: Callable[[str], None],
    *,
    pkgs_dirs: Sequence[str],
    reinstall: Callable[[list[str]], int],
    plugins: object = None,
) -> int:
    """``conda doctor --fix``: drop damaged cache copies, then reinstall through conda the
    conda packages whose files are damaged. Returns the reinstall's exit status."""
    from verify_env.errors import VerifyEnvError

    try:
        report = run_checks(prefix, plugins)
    except VerifyEnvError as exc:
        print(f"verify-env could not verify {prefix}: {exc}")
        return 1
    damage = damage_of(report, prefix)
    for hint in damage.other_hints:
        print(f"verify-env: not conda's to repair: {hint}")
    if not damage.conda:
        print("verify-env: no conda package has damaged files.")
        return 0
    specs = [f"{r.name}={r.version}={r.build}" if r.build else r.spec for r in damage.conda]
    print(f"verify-env: {len(specs)} conda package(s) with damaged files: {', '.join(specs)}")
    confirm("Drop their damaged package-cache copies and reinstall them?")
    for path in drop_damaged_cache(damage.conda, pkgs_dirs):
        print(f"verify-env: removed the damaged cache copy {path}")
    return reinstall(specs)
