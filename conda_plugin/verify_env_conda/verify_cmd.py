"""``conda verify``: the full verifier on a conda environment, with verify-env's options,
configuration (`verify_env.settings.config`, conda's ``plugins.verify_env_ignore``/``_baseline``
between the ``VERIFY_ENV_*`` variables and the project file), output formats and exit status
(0 whole, 1 error findings, 2 our own failure, bad usage or bad configuration)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verify_env.settings.config import Settings

__all__ = ["configure_parser", "execute"]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """The options of ``verify-env``, with conda's ``-n``/``-p`` instead of ``--prefix``."""
    # lazily: conda builds parsers at start-up
    from verify_env.settings.argtypes import add_run_options

    where = parser.add_mutually_exclusive_group()
    where.add_argument("-n", "--name", metavar="ENV", help="verify the environment named ENV")
    where.add_argument("-p", "--prefix", metavar="PATH", help="verify the environment at PATH")
    add_run_options(parser)
    parser.add_argument(
        "--write-baseline", metavar="FILE", help="accept everything found now and write it to FILE"
    )
    # dest is not ``verbose``: conda reads its own ``verbose``/``verbosity`` from the parsed
    # command line and refuses both at once (MultipleKeysError on `conda verify -v`).
    parser.add_argument(
        "-v",
        "--verbose",
        dest="verify_env_verbose",
        action="store_true",
        help="list what was not judged (conda's own -v before the subcommand does too)",
    )


def target_prefix(
    args: argparse.Namespace, locate_name: Callable[[str], str], default_prefix: Callable[[], str]
) -> str:
    """``-p``, else ``-n`` through conda's env lookup, else the active environment."""
    if args.prefix:
        return str(os.path.abspath(os.path.expanduser(args.prefix)))
    if args.name:
        return locate_name(args.name)
    return default_prefix()


def execute(
    args: argparse.Namespace,
    *,
    locate_name: Callable[[str], str],
    default_prefix: Callable[[], str],
    plugins: object = None,
) -> int:
    """Verify the chosen environment and print the report; the exit status is verify-env's.
    ``plugins``: conda's ``context.plugins``."""
    from verify_env.errors import VerifyEnvError
    from verify_env.settings.argtypes import RUN_SETTINGS
    from verify_env_conda.settings import load_settings

    try:
        settings = load_settings(plugins, {k: getattr(args, k, None) for k in RUN_SETTINGS})
        try:
            prefix = target_prefix(args, locate_name, default_prefix)
        except VerifyEnvError:
            raise
        except Exception as exc:  # conda's EnvironmentNameNotFound: a usage error here
            print(f"conda verify: {exc}".rstrip(), file=sys.stderr)
            return 2
        return _run(args, settings, prefix)
    except VerifyEnvError as exc:
        print(f"conda verify: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, settings: Settings, prefix: str) -> int:
    from verify_env.render.output import present
    from verify_env.session import Session

    session = Session(settings, write_baseline=getattr(args, "write_baseline", None))
    outcome = session.run(session.target(prefix=prefix))
    from verify_env_conda.present import cache_note

    note = cache_note(outcome.report)
    if note:
        import dataclasses

        outcome = dataclasses.replace(outcome, notes=(*outcome.notes, *note))
    verbose = bool(getattr(args, "verify_env_verbose", False) or getattr(args, "verbosity", 0))
    return present(outcome, settings, "conda verify", verbose=verbose)
