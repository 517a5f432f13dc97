"""``pipv``: pip, then verification of what the transaction changed and what it could break.

Every command runs as ``<target python> -m pip ARGS`` with pip's own output, live; pip's exit
status is kept when pip fails (and nothing is verified then). ``install`` and ``uninstall`` are
bracketed by two cheap snapshots; their difference, widened by the core (`scope_for`), is what
gets verified. ``pipv verify`` is ``verify-env`` on the same environment; ``pipv repair``
reinstalls, through pip, what verification found damaged among pip's own distributions.

pipv's own options, taken out before pip sees the line: ``--python PATH`` (or
``PIPV_PYTHON``), ``--no-verify``, ``--allow-conda-overwrite``. ``PIPV_ON_ERROR=warn`` (or
``on-error = "warn"`` under ``[tool.pipv]`` in ./pyproject.toml) reports but keeps pip's exit
status.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

__all__ = ["main"]

VERIFIED_CHECKS = ("record", "tags", "linkage", "requirements")


def _say(message: str) -> None:
    print(f"pipv: {message}", file=sys.stderr, flush=True)


def _settings() -> dict[str, object]:
    """``[tool.pipv]`` of ./pyproject.toml (3.11+, or with tomli installed)."""
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - 3.10
        try:
            import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:
            return {}
    if not os.path.isfile("pyproject.toml"):
        return {}
    try:
        with open("pyproject.toml", "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, ValueError):
        return {}
    tool = data.get("tool", {}).get("pipv", {})
    return tool if isinstance(tool, dict) else {}


def _on_error(settings: dict[str, object]) -> str | None:
    value = os.environ.get("PIPV_ON_ERROR") or settings.get("on-error") or "fail"
    value = str(value).strip().lower()
    return value if value in ("fail", "warn") else None


def main(argv: Sequence[str] | None = None) -> int:
    from verify_env_pip.pip_args import parse

    cmd = parse(list(sys.argv[1:] if argv is None else argv))
    settings = _settings()
    on_error = _on_error(settings)
    if on_error is None:
        _say(f"PIPV_ON_ERROR / [tool.pipv] on-error must be 'fail' or 'warn', not "
             f"{os.environ.get('PIPV_ON_ERROR') or settings.get('on-error')!r}")
        return 2
    from verify_env.interpreter import default_interpreter

    python = cmd.python or os.environ.get("PIPV_PYTHON") or default_interpreter()[0]
    if cmd.subcommand == "verify":
        from verify_env import cli

        rest = list(cmd.args[cmd.args.index("verify") + 1:])
        if not any(a.startswith(("--python", "--prefix")) for a in rest):
            rest = ["--python", python, *rest]
        return cli.main(rest)
    if cmd.subcommand == "repair":
        from verify_env_pip.repair import repair

        return repair(python, cmd.args[cmd.args.index("repair") + 1:])
    verify = not cmd.no_verify and settings.get("verify", True) is not False
    if not (verify and cmd.changes_environment):
        return _pass_through(python, cmd)
    from verify_env_pip.transaction import run_transaction

    return run_transaction(python, cmd, warn_only=on_error == "warn")


def _pass_through(python: str, cmd: object) -> int:
    """Anything that changes nothing: pip alone — and the verification an earlier, killed
    transaction still owes."""
    from verify_env_pip.pip_args import PipCommand

    assert isinstance(cmd, PipCommand)
    from verify_env_pip.runner import run_pip

    status = run_pip(python, cmd.args)
    if cmd.subcommand is None or cmd.no_verify:
        return status
    from verify_env_pip.journal import Journal

    if Journal.for_python(python).unfinished() is None:
        return status
    from verify_env_pip.transaction import settle_unfinished

    owed = settle_unfinished(python)
    return status or owed


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
