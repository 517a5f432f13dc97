"""Carrying out a repair plan: show it, run each step through the installer that owns the
packages, verify again with the same settings, and say what remains.

The verdict afterwards is a fresh run's, never assumed: a step that failed, a finding the plan
could not repair, or damage a reinstall did not mend (a cache holding the same bad bytes) keeps
the exit status at 1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping

from verify_env.repair.plan import Plan, Step, plan_for
from verify_env.session import Outcome, Session
from verify_env.target.model import Target

__all__ = ["Runner", "repair", "run_installer", "run_step"]

Runner = Callable[[Step], int]
"""Runs one step; returns the installer's exit status (127: the installer is not there)."""


def run_step(step: Step) -> int:
    """The step's own command, non-interactively: pip as planned, conda through ``$CONDA_EXE``
    or ``conda`` on PATH with ``--yes``, apt-get with ``-y`` (as root only); what it prints goes
    to stderr."""
    argv = list(step.argv)
    match step.installer:
        case "pip" if argv[1:3] == ["-m", "pip"]:
            # no -P before 3.11: a launcher keeps the working directory off sys.path instead
            from verify_env.target.interpreter import module_command

            argv = module_command(argv[0], "pip", argv[3:])
        case "conda":
            exe = os.environ.get("CONDA_EXE") or shutil.which("conda")
            if not exe:
                return 127
            argv = [exe, *argv[1:], "--yes"]
        case "dpkg":
            if os.geteuid() != 0 or not shutil.which("apt-get"):
                return 127
            argv = [argv[0], "install", "-y", *argv[2:]]
    return run_installer(argv)


def run_installer(argv: list[str]) -> int:
    """An installer's command, non-interactive, its output on stderr (stdout is the
    report's: ``--format json``); its exit status, 127 when it cannot be started."""
    try:
        out: int | None = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        out = subprocess.DEVNULL
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, check=False).returncode
    except OSError:
        return 127


def repair(
    session: Session,
    target: Target,
    first: Outcome,
    say: Callable[[str], None],
    *,
    dry_run: bool = False,
    runners: Mapping[str, Runner] | None = None,
    before_step: Callable[[Step], None] | None = None,
) -> tuple[Plan, Outcome]:
    """Repair what ``first`` found in ``target``; return the plan and the outcome of the
    verification after it (``first`` itself when nothing ran). ``runners``: a front door's own
    way to run an installer's steps (conda's fixer), by installer name; ``before_step``: what
    a front door does first (conda drops damaged package-cache copies)."""
    plan = plan_for(first.report, session.inventory(target))
    if not plan.steps:
        for line in plan.lines():
            say(line)
        if not plan.manual:
            say("nothing to repair" if first.status == 0 else "no repair this tool can run")
        return plan, first
    for line in plan.lines():
        say(line)
    if dry_run:
        say("dry run: nothing was changed")
        return plan, first
    for step in plan.steps:
        if before_step is not None:
            before_step(step)
        runner = (runners or {}).get(step.installer, run_step)
        status = runner(step)
        if status == 127:
            say(f"could not run {step.installer}: it is not available here (or not as root)")
        elif status != 0:
            say(f"{step.installer} exited with status {status}")
    after = session.run(target)
    errors = after.report.errors
    if after.status == 0:
        say("verified again: whole")
    else:
        say(f"verified again: {errors} error finding(s) remain")
    return plan, after
