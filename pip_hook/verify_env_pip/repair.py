"""``pipv repair``: reinstall, through pip and at the same versions, what verification found
damaged — only distributions pip itself installed; others are named with their own repair.
What the configuration accepts (an admin's CA bundle) is left alone."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

__all__ = ["repair"]

_DAMAGE = frozenset({"hash-mismatch", "size-mismatch", "missing-file"})


def _say(message: str) -> None:
    print(f"pipv repair: {message}", file=sys.stderr, flush=True)


def repair(python: str, args: Sequence[str]) -> int:
    if args:
        _say(f"takes no arguments (got {' '.join(args)})")
        return 2
    from verify_env.errors import VerifyEnvError
    from verify_env.settings.accept import Acceptance
    from verify_env.settings.config import load
    from verify_env.target.model import resolve_target
    from verify_env.verify import verify

    try:
        acceptance = Acceptance.of(load())
    except VerifyEnvError as exc:
        _say(str(exc))
        return 2
    target = resolve_target(python)
    report = acceptance.apply(verify(target, ("record",)))
    damaged: dict[str, str] = {}
    others: dict[str, str] = {}
    for f in report.findings:
        if (
            f.code not in _DAMAGE
            or f.distribution is None
            or f.version is None
            or f.accepted is not None
        ):
            continue
        if f.installer == "pip":
            damaged[f.distribution] = f.version
        else:
            others[f"{f.distribution} {f.version} ({f.installer})"] = f.hint or "its installer"
    for what, hint in sorted(others.items()):
        _say(f"not touching {what}: another installer owns it; run: {hint}")
    if not damaged:
        _say("nothing pip installed is damaged" if not others else "nothing for pip to repair")
        return 1 if others else 0
    specs = [f"{name}=={version}" for name, version in sorted(damaged.items())]
    from verify_env.target.interpreter import module_command

    # not ``-m pip``: a pip/ or pip.py in the working directory must not run (issue 18, §10)
    pip_args = ["install", "--force-reinstall", "--no-deps", *specs]
    argv = module_command(python, "pip", pip_args)
    _say("plan: " + " ".join(["-m", "pip", *pip_args]))
    status = subprocess.run(argv, check=False).returncode
    if status != 0:
        _say(f"pip exited with status {status}")
        return status
    after = acceptance.apply(verify(target, ("record", "tags")))
    left = [f for f in after.findings if f.severity.value == "error"]
    if left or others:
        _say(
            f"{len(left)} error finding(s) remain"
            + (" (other installers' damage above)" if others else "")
        )
        return 1
    _say(f"repaired {', '.join(specs)}: the environment is whole")
    return 0
