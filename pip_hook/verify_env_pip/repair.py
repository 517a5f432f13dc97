"""``pipv repair [--dry-run]``: the core's repair plan (`verify_env.repair`) for this environment.

What pip (or uv) installed and a reinstall of the same version mends is reinstalled through the
environment's own pip; what conda or the OS owns is named with its own repair command, not run;
what a reinstall cannot mend is named with its finding's hint. Then the environment is verified
again with the same checks as ``verify-env``, and the exit status is that run's: 1 while errors
remain. What the configuration accepts (an admin's CA bundle) is left alone.

A pip transaction that was killed is finished first (`verify_env_pip.recover`): the versions pip
was installing, then its ``~`` stashes removed; the verification that follows sees the result.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["repair"]

USAGE = """usage: pipv repair [--dry-run]

Finish a pip install that was interrupted (to the versions it was installing, removing
pip's ~ leftovers of it); reinstall, at the same versions and through this environment's
pip, the distributions pip installed whose files are damaged; name the repairs of
everything else; verify again.

  --dry-run   show the plan, change nothing
exit status: 0 whole afterwards, 1 errors remain, 2 usage or configuration error
"""


def _say(message: str) -> None:
    print(f"pipv repair: {message}", file=sys.stderr, flush=True)


def repair(python: str, args: Sequence[str]) -> int:
    if "-h" in args or "--help" in args:
        sys.stdout.write(USAGE)
        return 0
    unknown = [a for a in args if a != "--dry-run"]
    if unknown:
        _say(f"unknown argument(s): {' '.join(unknown)} (see pipv repair --help)")
        return 2
    from verify_env.errors import VerifyEnvError
    from verify_env.render import OutputFormat, render
    from verify_env.repair import execute
    from verify_env.repair.plan import Step
    from verify_env.session import Session
    from verify_env.settings.config import load

    def not_pips(step: Step) -> int:
        _say(f"not pip's to repair ({step.installer} owns it); run: {' '.join(step.argv)}")
        return 0

    from verify_env_pip.journal import Journal
    from verify_env_pip.recover import DONE, IMPOSSIBLE, PENDING, finish

    dry_run = "--dry-run" in args
    try:
        session = Session(load())
        target = session.target(python)
        journal = Journal.for_python(python)
        interrupted = journal.interrupted()
        state = PENDING if interrupted is not None else None
        if interrupted is not None:
            state = finish(python, interrupted, target.site_dirs, _say, dry_run=dry_run)
            if state != PENDING:  # finished, or told what to run: no more notes about it
                journal.finished()
        finished = state == DONE
        first = session.run(target)
        plan, after = execute.repair(
            session,
            target,
            first,
            _say,
            dry_run=dry_run,
            runners={"conda": not_pips, "dpkg": not_pips},
        )
        if finished and not plan.steps:
            # execute.repair ran nothing: ``first``, taken after finishing, is the new verdict
            _say(
                "verified again: whole"
                if after.status == 0
                else f"verified again: {after.report.errors} error finding(s) remain"
            )
    except VerifyEnvError as exc:
        _say(str(exc))
        return 2
    if after.report.findings and after.status:
        sys.stderr.write(render(after.report, OutputFormat.TEXT, strict=session.strict))
    if state in (PENDING, IMPOSSIBLE):
        _say("the interrupted install is not finished")
        return 1
    return after.status
