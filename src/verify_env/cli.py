"""The ``verify-env`` command: parse, call the core, render, exit. No logic of its own.

Exit status: 0 whole (warnings allowed unless ``--strict``; accepted findings never count), 1
error findings, 2 usage errors, bad configuration or the tool's own failure (one line on
stderr; a traceback only with ``--debug``). Every option that takes a value has a
``VERIFY_ENV_*`` twin and a key in the configuration files; `verify_env.settings.config` holds
the one precedence, read only after the arguments are parsed (``--version`` reads no file).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from verify_env import __version__
from verify_env.settings.argtypes import jobs, seconds

# typing itself costs ~3 ms of every start (`verify-env --version` <= 40 ms, issue 3); mypy
# treats any TYPE_CHECKING constant as true
TYPE_CHECKING = False
if TYPE_CHECKING:
    from verify_env.report import Report
    from verify_env.settings.accept import Baseline
    from verify_env.settings.config import Settings

__all__ = ["build_parser", "main"]

FORMATS = ("text", "json", "junit", "sarif")
# The registry's default checks, spelled here so that --help and --version import no check
# (tests/unit/test_registry.py holds it equal to verify.DEFAULT_CHECKS).
DEFAULT_CHECKS = "record,tags,linkage,requirements,paths"
# Options whose value comes from verify_env.settings.config when not given: Settings field names.
_SETTINGS = (
    "checks",
    "format",
    "output",
    "strict",
    "no_cache",
    "jobs",
    "blas_probe",
    "import_timeout",
    "ignore",
    "baseline",
)


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
        "--checks",
        help=f"comma-separated checks, or 'all' (default: {DEFAULT_CHECKS}; "
        "'imports' runs only when asked) [VERIFY_ENV_CHECKS]",
    )
    parser.add_argument(
        "--format", choices=FORMATS, help="report format (default: text) [VERIFY_ENV_FORMAT]"
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the report to FILE ('-' for stdout) [VERIFY_ENV_OUTPUT]",
    )
    parser.add_argument(
        "--strict", action="store_true", default=None, help="warnings fail too [VERIFY_ENV_STRICT]"
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        default=None,
        help="rehash every file; ignore the stat cache [VERIFY_ENV_NO_CACHE]",
    )
    parser.add_argument(
        "--jobs",
        type=jobs,
        default=None,
        metavar="N",
        help="hashing processes (default: usable cores) [VERIFY_ENV_JOBS]",
    )
    parser.add_argument(
        "--blas-probe",
        action="store_true",
        default=None,
        help="also run a numeric probe of each BLAS/LAPACK provider, in a "
        "subprocess [VERIFY_ENV_BLAS_PROBE]",
    )
    parser.add_argument(
        "--import-timeout",
        type=seconds,
        default=None,
        metavar="SECONDS",
        help="how long one module's import may take under --checks imports "
        "(default: 30) [VERIFY_ENV_IMPORT_TIMEOUT]",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        metavar="RULE",
        help="accept the findings a check:code:distribution:path rule matches "
        "(fnmatch globs; fewer parts mean '*'; repeatable): reported as "
        "info, never failing [VERIFY_ENV_IGNORE, comma-separated]",
    )
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        help="accept what FILE records, unless its file changed since; "
        "'--baseline write FILE' accepts everything found now and writes "
        "FILE [VERIFY_ENV_BASELINE]",
    )
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
        help="explain a finding code (what it means, why it matters, how to fix it) and exit",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list what was not judged")
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_baseline_write(sys.argv[1:] if argv is None else argv))
    if args.explain is not None:
        from verify_env.commands.explain import explain

        return explain(args.explain)
    from verify_env.errors import VerifyEnvError

    try:
        from verify_env.settings.config import load

        settings = load({k: getattr(args, k) for k in _SETTINGS}, isolated=args.isolated)
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
    from verify_env.target.model import start_target

    baseline = None if args.write_baseline else settings.read_baseline()  # bad: exit 2 now
    pending = start_target(args.python, args.prefix)  # the probe runs during the imports below
    from verify_env.checks.interface import Options
    from verify_env.render import OutputFormat, render
    from verify_env.render.output import write_report
    from verify_env.render.progress import ProgressBar
    from verify_env.verify import DEFAULT_CHECKS, parse_checks, verify

    checks = parse_checks(settings.checks) if settings.checks else DEFAULT_CHECKS
    target = pending()
    bar = ProgressBar() if sys.stderr.isatty() else None
    try:
        options = Options(strict=settings.strict, blas_probe=settings.blas_probe)
        if settings.import_timeout is not None:
            import dataclasses

            options = dataclasses.replace(options, import_timeout=settings.import_timeout)
        report = verify(
            target,
            checks,
            jobs=settings.jobs,
            use_cache=not settings.no_cache,
            progress=bar,
            options=options,
        )
    finally:
        if bar is not None:
            bar.close()
    if args.write_baseline or settings.ignore or baseline is not None:
        report = _accepted(report, args.write_baseline, settings, baseline)
    for note in report.notes:
        print(f"verify-env: {note}", file=sys.stderr)
    to_terminal = settings.output in (None, "-") and sys.stdout.isatty()
    text = render(
        report,
        OutputFormat(settings.format),
        strict=settings.strict,
        verbose=args.verbose,
        color=to_terminal and "NO_COLOR" not in os.environ,
    )
    write_report(text, settings.output)
    return report.exit_status(settings.strict)


def _accepted(
    report: Report, write_baseline: str | None, settings: Settings, baseline: Baseline | None
) -> Report:
    """The report with what ``--ignore`` / ``--baseline`` accept (imported only when asked:
    ~6 ms of every other run)."""
    from verify_env.settings import accept

    if write_baseline:
        count = accept.write_baseline(report, write_baseline)
        print(f"verify-env: {write_baseline}: accepted {count} finding(s)", file=sys.stderr)
        return accept.accept_all(
            accept.apply(report, settings.ignore), f"baseline {write_baseline} (written now)"
        )
    return accept.apply(report, settings.ignore, baseline)
