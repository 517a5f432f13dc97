"""The conda hooks. Imported only inside conda (``import conda`` works here), and cheap: conda
imports every plugin at start-up, so the core is imported inside the hook bodies only."""

from __future__ import annotations

import sys
from argparse import ArgumentParser, Namespace
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from conda.plugins import hookimpl
from conda.plugins import types as conda_types

from verify_env_conda.mode import DEFAULT_MODE, SETTING, Mode, parse_mode

if TYPE_CHECKING:
    from verify_env_conda.action import TransactionCheck

__all__ = [
    "HAS_TRANSACTION_ACTIONS",
    "conda_health_checks",
    "conda_post_commands",
    "conda_post_transaction_actions",
    "conda_pre_commands",
    "conda_settings",
    "conda_subcommands",
]

#: conda >= 25.5 has post-transaction actions; older conda gets the post-command fallback.
HAS_TRANSACTION_ACTIONS = hasattr(conda_types, "CondaPostTransactionAction")


def current_mode() -> Mode:
    """``plugins.verify_env_mode`` from conda's context; a bad value warns and means warn."""
    from conda.base.context import context

    try:
        return parse_mode(getattr(context.plugins, SETTING, None))
    except ValueError as exc:
        print(f"verify-env: {exc}; using {DEFAULT_MODE}", file=sys.stderr)
        return DEFAULT_MODE


def _stream() -> Any:
    """stdout, unless conda prints JSON there."""
    from conda.base.context import context

    return sys.stderr if context.json else sys.stdout


def _action_class() -> type[TransactionCheck]:
    from conda.base.context import context
    from conda.core.path_actions import Action
    from conda.exceptions import CondaError

    from verify_env_conda.action import TransactionCheck

    class VerifyEnvError(CondaError):
        """verify-env refused or rolled back the transaction."""

    class VerifyEnvAction(TransactionCheck, Action):
        error = VerifyEnvError

        def current_mode(self) -> Mode:
            self.pkgs_dirs = tuple(str(d) for d in context.pkgs_dirs)
            self.stream = _stream()
            self.json_lines = bool(context.json)
            self.allow_clobber = bool(getattr(context, "clobber", False))
            self.plugins = context.plugins
            self.rollback_enabled = bool(getattr(context, "rollback_enabled", True))
            return current_mode()

    return VerifyEnvAction


@hookimpl
def conda_settings() -> Iterable[Any]:
    from conda.common.configuration import PrimitiveParameter, SequenceParameter

    yield conda_types.CondaSetting(
        name=SETTING,
        description="What verify-env does after a transaction: off, warn (print the "
        "findings) or fail (an error finding rolls the transaction back).",
        parameter=PrimitiveParameter(str(DEFAULT_MODE), element_type=str),
    )
    yield conda_types.CondaSetting(
        name="verify_env_ignore",
        description="verify-env ignore rules (check:code:distribution:path globs): the "
        "findings they match are reported as accepted and never fail.",
        parameter=SequenceParameter(PrimitiveParameter("", element_type=str)),
    )
    yield conda_types.CondaSetting(
        name="verify_env_baseline",
        description="A verify-env baseline file (verify-env --baseline write FILE): what it "
        "records is accepted unless the file changed since.",
        parameter=PrimitiveParameter("", element_type=str),
    )


@hookimpl
def conda_post_transaction_actions() -> Iterable[Any]:
    if HAS_TRANSACTION_ACTIONS:
        yield conda_types.CondaPostTransactionAction(name="verify-env", action=_action_class())


_WATCH: Any = None


def _pre_command(command: str) -> None:
    global _WATCH
    if current_mode() is Mode.OFF:
        return
    from conda.base.context import context

    from verify_env_conda.postcommand import CommandWatch

    _WATCH = _WATCH or CommandWatch()
    try:
        _WATCH.before(str(context.target_prefix))
    except Exception as exc:  # our failure must not stop conda
        print(f"verify-env: could not look at the prefix before {command}: {exc}", file=sys.stderr)


def _post_command(command: str) -> None:
    mode = current_mode()
    if mode is Mode.OFF or _WATCH is None:
        return
    from conda.base.context import context

    from verify_env_conda.present import outcome_lines
    from verify_env_conda.settings import transaction_session

    session = transaction_session(context.plugins, _stream())
    try:
        outcome = _WATCH.after(session, str(context.target_prefix))
    except Exception as exc:
        print(f"verify-env: could not verify after {command}: {exc}", file=sys.stderr)
        return
    if outcome is None:
        return
    out = _stream()
    for line in outcome_lines(outcome):
        print(line, file=out)
    if context.json:
        from verify_env_conda.jsonline import after_link

        print(after_link(outcome, rolled_back=False), file=out)
    if mode is Mode.FAIL and outcome.status:
        # Without transaction actions there is nothing to roll back: the exit status says it.
        raise SystemExit(1)


@hookimpl
def conda_pre_commands() -> Iterable[Any]:
    if not HAS_TRANSACTION_ACTIONS:
        from verify_env_conda.postcommand import COMMANDS

        yield conda_types.CondaPreCommand(
            name="verify-env", action=_pre_command, run_for=set(COMMANDS)
        )


@hookimpl
def conda_post_commands() -> Iterable[Any]:
    if not HAS_TRANSACTION_ACTIONS:
        from verify_env_conda.postcommand import COMMANDS

        yield conda_types.CondaPostCommand(
            name="verify-env", action=_post_command, run_for=set(COMMANDS)
        )


def _verify_command(args: Namespace) -> int:
    from conda.base.context import context, locate_prefix_by_name

    from verify_env_conda.verify_cmd import execute

    return execute(
        args,
        locate_name=lambda n: str(locate_prefix_by_name(n)),
        default_prefix=lambda: str(context.target_prefix),
        plugins=context.plugins,
    )


def _configure(parser: ArgumentParser) -> None:
    from verify_env_conda.verify_cmd import configure_parser

    configure_parser(parser)


@hookimpl
def conda_subcommands() -> Iterable[Any]:
    yield conda_types.CondaSubcommand(
        name="verify",
        summary="Verify an environment: files, wheel tags, linkage and requirements (verify-env).",
        action=_verify_command,
        configure_parser=_configure,
    )


def _fix(prefix: str, args: Namespace, confirm: Any) -> int:
    from conda.base.context import context

    from verify_env_conda.doctor import fix

    def reinstall(specs: list[str], channels: list[str]) -> int:
        # A fresh conda process: conda's own reinstall_packages() sets args.force_reinstall,
        # but install() reads context.force_reinstall, fixed when the doctor's args were
        # parsed (conda 26.7), so the packages were "already installed" and nothing changed.
        import subprocess

        from verify_env.target.interpreter import module_command

        # not ``-m conda``: a conda/ or conda.py in the working directory must not run
        options = ["--force-reinstall", "--yes", "--prefix", prefix]
        options += [a for c in channels for a in ("-c", c)]
        if context.offline:
            options.insert(0, "--offline")
        command = module_command(sys.executable, "conda", ["install", *options, *specs])
        return subprocess.run(command, check=False).returncode

    return fix(
        prefix,
        confirm,
        pkgs_dirs=[str(d) for d in context.pkgs_dirs],
        reinstall=reinstall,
        plugins=context.plugins,
    )


def _health(prefix: str, verbose: bool) -> None:
    from conda.base.context import context

    from verify_env_conda.doctor import health_check

    health_check(prefix, verbose, plugins=context.plugins)


@hookimpl
def conda_health_checks() -> Iterable[Any]:
    from verify_env_conda.doctor import NAME

    kwargs: dict[str, Any] = {"name": NAME, "action": _health}
    fields = getattr(conda_types.CondaHealthCheck, "__dataclass_fields__", {})
    if "fixer" in fields:  # conda >= 26.1
        kwargs.update(
            fixer=_fix,
            summary="Verify files, wheel tags, linkage and requirements",
            fix="Reinstall conda packages with damaged files, from a clean cache",
        )
    yield conda_types.CondaHealthCheck(**kwargs)
