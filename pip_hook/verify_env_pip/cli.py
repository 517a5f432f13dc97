"""``pipv``: pip, then verification of what the transaction changed and what it could break.

Every command runs as ``<target python> -m pip ARGS`` does (install/uninstall: started at once
and held until the snapshot is taken, `runner.HeldPip`), with pip's own output, live; pip's exit
status is kept when pip fails (and nothing is verified then). ``install`` and ``uninstall`` are
bracketed by two cheap snapshots; their difference, widened by the core (`scope_for`), is what
gets verified. ``pipv verify`` is ``verify-env`` on the same environment; ``pipv repair``
reinstalls, through pip, what verification found damaged among pip's own distributions.

pipv's own options, taken out before pip sees the line: ``--python PATH`` (or
``PIPV_PYTHON``), ``--no-verify``, ``--allow-conda-overwrite``. Everything else comes from
verify-env's configuration (`verify_env.settings.config`: ``VERIFY_ENV_*``,
``[tool.verify-env]`` in the project's pyproject.toml, the user file): ``ignore``, ``baseline``,
``strict``, ``jobs``, ``no-cache``, and pipv's own ``pipv.on-error`` (``PIPV_ON_ERROR``; ``warn``
reports but keeps pip's exit status) and ``pipv.verify`` (false: pip alone); ``[tool.pipv]``
still works. The configuration is read only when pipv is about to verify: ``pipv --version``
and ``pipv list`` read no file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

TYPE_CHECKING = False  # typing itself: ~3 ms of every pip command

if TYPE_CHECKING:
    from verify_env.settings.config import Settings

__all__ = ["HELP", "main", "run"]

HELP = """pipv: pip, then verification of what the command changed (verify-env).

pipv's own options (taken out before pip sees the line):
  --python PATH            the interpreter whose pip runs [PIPV_PYTHON]
  --no-verify              pip alone, for this command
  --allow-conda-overwrite  let pip replace files conda manages (reported afterwards)

pipv's own commands:
  pipv verify [verify-env options]   verify-env on this environment (verify-env --help)
  pipv repair [--dry-run]            finish an interrupted install, repair what a
                                     reinstall mends, then verify again

Every other command is pip's; install and uninstall are verified afterwards. Settings:
[tool.verify-env] / [tool.verify-env.pipv] in pyproject.toml, VERIFY_ENV_*, PIPV_ON_ERROR.

pip's own help follows.

"""

VERIFIED_CHECKS = ("record", "tags", "linkage", "requirements")


def _say(message: str) -> None:
    print(f"pipv: {message}", file=sys.stderr, flush=True)


def _settings() -> Settings | None:
    """The configuration, its baseline read now so that a bad one fails before pip runs (the
    baseline reader is imported only when one is configured: ~50 ms before pip starts); None
    (said on stderr) when it is malformed."""
    from verify_env.errors import VerifyEnvError
    from verify_env.settings.config import load

    try:
        settings = load()
        settings.read_baseline()
        return settings
    except VerifyEnvError as exc:
        _say(str(exc))
        return None


def main(argv: Sequence[str] | None = None) -> int:
    from verify_env_pip.pip_args import parse

    cmd = parse(list(sys.argv[1:] if argv is None else argv))
    from verify_env.target.interpreter import default_interpreter

    python = cmd.python or os.environ.get("PIPV_PYTHON") or default_interpreter()[0]
    if cmd.subcommand is None and any(a in ("--version", "-V") for a in cmd.args):
        # pipv's own version line, then pip's (pip is exec'd below: flush first)
        from verify_env import __version__

        print(f"pipv (verify-env {__version__})", flush=True)
    elif cmd.subcommand is None and any(a in ("--help", "-h") for a in cmd.args):
        sys.stdout.write(HELP)
        sys.stdout.flush()
    if cmd.subcommand == "verify":
        from verify_env import cli

        _note_interrupted(python)
        rest = list(cmd.args[cmd.args.index("verify") + 1 :])
        if not any(a.startswith(("--python", "--prefix")) for a in rest):
            rest = ["--python", python, *rest]
        return cli.main(rest)
    if cmd.subcommand == "repair":
        from verify_env_pip.repair import repair

        return repair(python, cmd.args[cmd.args.index("repair") + 1 :])
    if cmd.no_verify or not cmd.changes_environment:
        return _pass_through(python, cmd)
    from verify_env_pip.runner import HeldPip

    report = ""
    if cmd.subcommand == "install":
        from verify_env_pip.journal import Journal

        report = f"{cmd.at}:{Journal.for_python(python).report_path}"
    held = HeldPip(python, cmd.args, cmd.subcommand, report)  # importing while pipv sets up
    try:
        settings = _settings()
        if settings is None:
            return 2
        if not settings.pipv_verify:
            held.cancel()
            return _pass_through(python, cmd)
        from verify_env_pip.transaction import run_transaction

        return run_transaction(python, cmd, settings, held)
    finally:
        held.cancel()  # pip never ran unless told to
        held.reap()  # told to: it may still be tearing down after saying its status


def _pass_through(python: str, cmd: object) -> int:
    """Anything that changes nothing: pip alone (exec: no process in between). A transaction
    killed earlier is named on stderr first, and nothing else changes: pip's stdout and exit
    status are the command's (`pipv repair` finishes the transaction)."""
    from verify_env_pip.pip_args import PipCommand

    assert isinstance(cmd, PipCommand)
    from verify_env_pip.runner import exec_pip

    if cmd.subcommand is not None and not cmd.no_verify:
        _note_interrupted(python)
    return exec_pip(python, cmd.args)


def _note_interrupted(python: str) -> None:
    from verify_env_pip.journal import Journal

    interrupted = Journal.for_python(python).interrupted()
    if interrupted is not None:
        _say(interrupted.note())


def run() -> None:
    """The ``pipv`` command: `main`, then out without tearing the interpreter down
    (`verify_env.render.output.leave`) once pip is reaped."""
    status = main()
    from verify_env.render.output import leave

    leave(status)


if __name__ == "__main__":  # pragma: no cover
    run()
