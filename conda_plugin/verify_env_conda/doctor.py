"""The ``conda doctor`` health check and its ``--fix``.

``conda doctor`` exits 0 whatever its checks find, so the check only reports (``conda verify``
is where the exit status lives). The fixer reinstalls, through conda, the conda packages whose
files are damaged. Files are hard-linked from the package cache, so bytes damaged in place are
damaged in ``pkgs/`` too and a plain ``--force-reinstall`` would relink them: a cache copy that
differs from its ``paths.json`` is dropped first, so conda extracts the package afresh.
Damage to what pip owns is reported with pip's command; conda does not own those files.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from verify_env_conda.records import PackageRef

if TYPE_CHECKING:
    from verify_env.repair.plan import Step
    from verify_env.session import Outcome

__all__ = ["drop_damaged_cache", "fix", "health_check", "run_checks"]

OK_MARK, X_MARK = "\u2705", "\u274c"
NAME = "verify-env"


def run_checks(prefix: str, plugins: object = None) -> Outcome:
    """A full run with the configured checks, what the configuration accepts marked."""
    from verify_env_conda.settings import full_session

    session = full_session(plugins, sys.stdout)
    return session.run(session.target(prefix=prefix))


def health_check(prefix: str, verbose: bool, plugins: object = None) -> None:
    """``conda doctor``'s report: one line when whole, else the findings and their repairs."""
    from verify_env.errors import VerifyEnvError

    try:
        outcome = run_checks(prefix, plugins)
    except VerifyEnvError as exc:
        print(f"{X_MARK} verify-env could not verify {prefix}: {exc}\n")
        return
    report = outcome.report
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
    for note in outcome.notes:
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
    reinstall: Callable[[list[str], list[str]], int],
    plugins: object = None,
) -> int:
    """``conda doctor --fix``: the core's repair plan, its conda step run through ``reinstall``
    (specs ``name=version``, never a build pin; the channels their records name) after the
    damaged package-cache copies are dropped; then verified again. Returns 0 when the
    environment is whole afterwards, 1 while errors remain."""
    from verify_env.errors import VerifyEnvError
    from verify_env.repair.execute import repair
    from verify_env_conda.settings import full_session

    def say(line: str) -> None:
        print(f"verify-env: {line}", flush=True)

    session = full_session(plugins, sys.stdout)
    try:
        target = session.target(prefix=prefix)
        first = session.run(target)
    except VerifyEnvError as exc:
        say(f"could not verify {prefix}: {exc}")
        return 1

    confirmed: list[bool] = []

    def before(step: Step) -> None:
        if step.installer == "conda" and not confirmed:
            confirm("Drop their damaged package-cache copies and reinstall them?")
            confirmed.append(True)
        if step.installer != "conda":
            return
        refs = [PackageRef(p.name, p.version, p.build or "") for p in step.packages]
        for path in drop_damaged_cache(refs, pkgs_dirs):
            say(f"removed the damaged cache copy {path}")

    def run_conda(step: Step) -> int:
        specs = [f"{p.name}={p.version}" for p in step.packages]
        channels = sorted({p.channel for p in step.packages if p.channel})
        return reinstall(specs, channels)

    def not_condas(step: Step) -> int:
        # conda does not own these files: the doctor names the repair, the user runs it.
        say(f"not conda's to repair; run: {' '.join(step.argv)}")
        return 0

    runners = {"conda": run_conda, "pip": not_condas, "dpkg": not_condas}
    _, after = repair(session, target, first, say, runners=runners, before_step=before)
    return after.status
