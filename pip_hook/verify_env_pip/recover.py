"""Finishing a pip transaction that was killed: the install it was making, at the versions pip
had resolved (its own report, `verify_env_pip.journal`), then the ``~`` stashes it left.

The install is run again as a reinstall of exactly those versions, without dependencies (the
report lists every package the transaction installs, dependencies included) and with the
original command's options that say where packages come from and go to (`carried_options`).
Only when that pip succeeds are the stashes removed: they hold the files of the versions being
replaced, which pip itself would have deleted on success, and which are the only copy left if it
fails. Only ``~`` entries of the site dirs that were not there before the transaction began are
the transaction's; older ones are left to the leftovers check.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Callable, Sequence

from verify_env.repair.execute import run_installer
from verify_env.target.interpreter import module_command
from verify_env_pip.journal import Interrupted
from verify_env_pip.pip_args import carried_options

__all__ = ["DONE", "IMPOSSIBLE", "PENDING", "finish", "leftovers_of"]

DONE, PENDING, IMPOSSIBLE = "done", "pending", "impossible"


def leftovers_of(interrupted: Interrupted, site_dirs: Sequence[str]) -> list[str]:
    """pip's ``~`` stashes in ``site_dirs`` that appeared during the interrupted transaction."""
    out = []
    for site in site_dirs:
        try:
            names = sorted(os.listdir(site))
        except OSError:
            continue
        for name in names:
            path = os.path.join(site, name)
            if name.startswith("~") and path not in interrupted.tildes_before:
                out.append(path)
    return out


def _install_args(interrupted: Interrupted) -> list[str]:
    args = interrupted.args
    after = list(args[args.index("install") + 1 :]) if "install" in args else list(args)
    assert interrupted.installs is not None
    return [
        "install",
        "--force-reinstall",
        "--no-deps",
        *carried_options(after),
        *(f"{name}=={version}" for name, version in interrupted.installs),
    ]


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def finish(
    python: str,
    interrupted: Interrupted,
    site_dirs: Sequence[str],
    say: Callable[[str], None],
    *,
    dry_run: bool = False,
) -> str:
    """Finish ``interrupted`` in the environment of ``python``: `DONE`; `PENDING` (a dry run,
    or pip failed: a later repair may succeed); `IMPOSSIBLE` (nothing this tool can run
    finishes it; the user was told what to run instead)."""
    say(f"an earlier `{interrupted.command}` was interrupted before it finished")
    if not interrupted.args:
        say(f"cannot finish it: {interrupted.what}")
        return IMPOSSIBLE
    if not interrupted.is_install:
        again = " ".join(shlex.quote(a) for a in (python, "-m", "pip", *interrupted.args))
        say(f"cannot finish it: pipv repair finishes installs only. Run it again: {again}")
        return IMPOSSIBLE
    if interrupted.installs is None:
        again = " ".join(shlex.quote(a) for a in (python, "-m", "pip", *interrupted.args))
        say(
            "cannot finish it: the versions it was installing are not known (pip writes its "
            "installation report from version 23.0 on, once it has resolved; this pip wrote "
            f"none). Run it again: {again}"
        )
        return IMPOSSIBLE
    stashes = leftovers_of(interrupted, site_dirs)
    if interrupted.installs:
        args = _install_args(interrupted)
        shown = " ".join(shlex.quote(a) for a in (python, "-m", "pip", *args))
        say(f"finish it: {shown}   ({interrupted.what})")
    for path in stashes:
        say(f"then remove pip's leftover {path} (its stash of what the install replaced)")
    if dry_run:
        return PENDING
    if interrupted.installs:
        status = run_installer(module_command(python, "pip", args))
        if status != 0:
            kept = f"; its stashes are kept: {', '.join(stashes)}" if stashes else ""
            say(f"pip could not finish it (exit status {status}){kept}")
            return PENDING
    for path in stashes:
        try:
            _remove(path)
        except OSError as exc:
            say(f"could not remove {path}: {exc.strerror or exc}")
            return PENDING
        say(f"removed {path}")
    return DONE
