"""The ``verify-env`` command: parse, call the core, render, exit. No logic of its own.

Exit status: 0 whole (warnings allowed unless ``--strict``; accepted findings never count), 1
error findings, 2 usage errors, bad configuration or the tool's own failure (one line on
stderr; a traceback only with ``--debug``). Every option that takes a value has a
``VERIFY_ENV_*`` twin and a key in the configuration files; `verify_env.settings.config` holds
the one precedence, read only after the arguments are parsed (``--version`` reads no file).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from verify_env import __version__
from verify_env.settings.argtypes import RUN_SETTINGS, add_run_options

# typing itself costs ~3 ms of every start (`verify-env --version` <= 40 ms, issue 3); mypy
# treats any TYPE_CHECKING constant as true
TYPE_CHECKING = False
if TYPE_CHECKING:
    from verify_env.settings.config import Settings

__all__ = ["build_parser", "main", "run"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verify-env",
        description="Verify that a Python environment is whole, before anything imports it.",
    )
    parser.add_argument("--version", action="version", version=f"verify-env {__version__}")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--python", metavar="PATH", help="verify the environment of this interpreter"
    )
    where.add_argument("--prefix", metavar="DIR", help="verify this prefix (venv or conda env)")
    parser.add_argument(
        "--root",
        metavar="DIR",
        help="verify the Python environments of the image unpacked at DIR (every one found, or "
        "the one --python names inside it) without running anything from it, any architecture",
    )
    add_run_options(parser)
    parser.add_argument("--write-baseline", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument(
        "--isolated",
        action="store_true",
        default=None,
        help="read no configuration file and no other VERIFY_ENV_* variable: only the "
        "command line counts [VERIFY_ENV_ISOLATED]",
    )
    parser.add_argument(
        "--explain",
        metavar="CODE",
        nargs="?",
        const="",
        help="explain a finding code (CODE or CHECK/CODE: what it means, why it matters, how "
        "to fix it) and exit; alone, list the codes",
    )
    parser.add_argument(
        "--fix",
        action="store_true",
        help="repair what a reinstall of the same version mends, through the installer that "
        "owns each package (pip, conda, apt); show the plan first, verify again after, "
        "exit 1 while errors remain",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="with --fix: show the plan, change nothing"
    )
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument("-v", "--verbose", action="store_true", help="list what was not judged")
    loud.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="text: print only what fails the run, and nothing when it passes",
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="color the text report: auto (on a terminal, unless NO_COLOR is set; FORCE_COLOR "
        "forces it), always, never",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of our own failures")
    commands = parser.add_subparsers(
        dest="command", metavar="{config}", title="subcommands (default: verify the environment)"
    )
    from verify_env.commands import config as config_cmd

    config_cmd.configure_parser(
        commands.add_parser("config", help="print the effective settings and where each came from")
    )
    return parser


def _baseline_write(argv: Sequence[str]) -> list[str]:
    """``--baseline write FILE`` as ``--write-baseline FILE`` (argparse takes one value per
    option; a baseline file named ``write`` is ``./write``)."""
    out = list(argv)
    for i in range(len(out) - 2):
        if out[i] == "--baseline" and out[i + 1] == "write":
            out[i : i + 2] = ["--write-baseline"]
            break
    return out


def _unknown_option(parser: argparse.ArgumentParser, argv: Sequence[str]) -> str | None:
    """The first option ``argv`` gives that the parser does not know, said with a close match
    (argparse alone reports the value after it as an invalid subcommand: ``--fromat json`` ->
    "invalid choice: 'json' (choose from 'config')")."""
    known = set(parser._option_string_actions)  # argparse has no public accessor for this
    takes_value = {
        opt
        for opt, action in parser._option_string_actions.items()
        if action.nargs != 0 and action.option_strings
    }
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--" or not arg.startswith("-") or arg == "-":
            if arg in ("config",):
                return None  # the subcommand parses its own options
            continue
        name = arg.split("=", 1)[0]
        if name in known:
            skip = name in takes_value and "=" not in arg and name != "--explain"
            continue
        if not name.startswith("--") and len(name) > 2 and name[:2] in known:
            continue  # -o/path, -fjson: a short option with its value attached
        import difflib

        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"unrecognized option {name!r}{hint}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    given = _baseline_write(sys.argv[1:] if argv is None else argv)
    unknown = _unknown_option(parser, given)
    if unknown is not None:
        parser.error(unknown)
    args = parser.parse_args(given)
    if args.explain is not None:
        from verify_env.commands.explain import explain

        return explain(args.explain)
    from verify_env.errors import VerifyEnvError

    try:
        from verify_env.settings.config import load

        settings = load({k: getattr(args, k) for k in RUN_SETTINGS}, isolated=args.isolated)
        if args.command == "config":
            from verify_env.commands import config as config_cmd

            return config_cmd.execute(args, settings)
        return _run(args, settings)
    except VerifyEnvError as exc:
        if args.debug:
            raise
        print(f"verify-env: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("verify-env: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of ours: one line and exit 2, the traceback on request
        if args.debug:
            raise
        print(
            f"verify-env: internal error: {type(exc).__name__}: {exc} "
            "(--debug shows the traceback)",
            file=sys.stderr,
        )
        return 2


def _run(args: argparse.Namespace, settings: Settings) -> int:
    import sys

    from verify_env.session import Session

    if args.dry_run and not args.fix:
        from verify_env.errors import UsageError

        raise UsageError("--dry-run goes with --fix")
    bar = None
    if sys.stderr.isatty():
        from verify_env.render.progress import ProgressBar

        bar = ProgressBar()
    session = Session(settings, progress=bar, write_baseline=args.write_baseline)
    from verify_env.render.output import present

    if args.root is not None:
        if args.prefix is not None or args.fix:
            from verify_env.errors import UsageError

            what = "--prefix" if args.prefix is not None else "--fix"
            raise UsageError(
                f"--root takes --python PATH-IN-ROOT to name one environment, not {what}"
            )
        try:
            outcome = session.run_root(args.root, args.python)
        finally:
            if bar is not None:
                bar.close()
        return present(
            outcome,
            settings,
            "verify-env",
            verbose=args.verbose,
            quiet=args.quiet,
            color=args.color,
        )
    pending = session.start(args.python, args.prefix)
    target = pending()
    try:
        outcome = session.run(target)
    finally:
        if bar is not None:
            bar.close()
    if args.fix:
        from verify_env.repair.execute import repair

        _, outcome = repair(
            session,
            target,
            outcome,
            lambda line: print(f"verify-env --fix: {line}", file=sys.stderr, flush=True),
            dry_run=args.dry_run,
        )
    return present(
        outcome, settings, "verify-env", verbose=args.verbose, quiet=args.quiet, color=args.color
    )


def run() -> None:
    """The ``verify-env`` command: `main`, then out without tearing the interpreter down
    (`verify_env.render.output.leave`)."""
    status = main()
    from verify_env.render.output import leave

    leave(status)
