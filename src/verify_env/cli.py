"""The ``verify-env`` command: parse, call the core, render, exit. No logic of its own.

Exit status: 0 whole (warnings allowed unless ``--strict``), 1 error findings, 2 usage errors or
the tool's own failure (one line on stderr; a traceback only with ``--debug``). Every option
that takes a value has a ``VERIFY_ENV_*`` twin, validated like the flag.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from verify_env import __version__
from verify_env.argtypes import env_flag, jobs, seconds

__all__ = ["build_parser", "main"]

FORMATS = ("text", "json", "junit", "sarif")


def _env(name: str, default: str | None = None) -> str | None:
    """The ``VERIFY_ENV_<name>`` twin of an option; set but empty counts as unset."""
    return os.environ.get(f"VERIFY_ENV_{name}") or default


def _flag_env(name: str) -> bool:
    try:
        return env_flag(name)
    except ValueError as exc:
        raise SystemExit(f"verify-env: {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verify-env",
        description="Verify that a Python environment is whole, before anything imports it.")
    parser.add_argument("--version", action="version", version=f"verify-env {__version__}")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--python", metavar="PATH",
                       help="verify the environment of this interpreter")
    where.add_argument("--prefix", metavar="DIR", help="verify this prefix (venv or conda env)")
    parser.add_argument("--checks", default=_env("CHECKS", None),
                        help="comma-separated checks, or 'all' (default: tags,record) "
                             "[VERIFY_ENV_CHECKS]")
    parser.add_argument("--format", choices=FORMATS, default=_env("FORMAT", "text"),
                        help="report format (default: text) [VERIFY_ENV_FORMAT]")
    parser.add_argument("-o", "--output", metavar="FILE", default=_env("OUTPUT"),
                        help="write the report to FILE ('-' for stdout) [VERIFY_ENV_OUTPUT]")
    parser.add_argument("--strict", action="store_true", default=None,
                        help="warnings fail too [VERIFY_ENV_STRICT]")
    parser.add_argument("--no-cache", action="store_true", default=None,
                        help="rehash every file; ignore the stat cache [VERIFY_ENV_NO_CACHE]")
    parser.add_argument("--jobs", type=jobs, default=None, metavar="N",
                        help="hashing processes (default: usable cores) [VERIFY_ENV_JOBS]")
    parser.add_argument("--blas-probe", action="store_true", default=None,
                        help="also run a numeric probe of each BLAS/LAPACK provider, in a "
                             "subprocess [VERIFY_ENV_BLAS_PROBE]")
    parser.add_argument("--import-timeout", type=seconds, default=None, metavar="SECONDS",
                        help="how long one module's import may take under --checks imports "
                             "(default: 30) [VERIFY_ENV_IMPORT_TIMEOUT]")
    parser.add_argument("--explain", metavar="CODE",
                        help="explain a finding code (what it means, why it matters, how to "
                             "fix it) and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="list what was not judged")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of our own failures")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.explain is not None:
        from verify_env.explain import explain

        return explain(args.explain)
    if args.format not in FORMATS:  # from VERIFY_ENV_FORMAT, which argparse does not check
        parser.error(f"VERIFY_ENV_FORMAT={args.format!r}: choose from {', '.join(FORMATS)}")
    if args.jobs is None and _env("JOBS"):
        try:
            args.jobs = jobs(str(_env("JOBS")))
        except argparse.ArgumentTypeError as exc:
            parser.error(f"VERIFY_ENV_JOBS: {exc}")
    if args.import_timeout is None and _env("IMPORT_TIMEOUT"):
        try:
            args.import_timeout = seconds(str(_env("IMPORT_TIMEOUT")))
        except argparse.ArgumentTypeError as exc:
            parser.error(f"VERIFY_ENV_IMPORT_TIMEOUT: {exc}")
    try:
        strict = args.strict or _flag_env("STRICT")
        no_cache = args.no_cache or _flag_env("NO_CACHE")
        args.blas_probe = args.blas_probe or _flag_env("BLAS_PROBE")
    except SystemExit as exc:
        print(exc.code, file=sys.stderr)
        return 2
    from verify_env.errors import VerifyEnvError

    try:
        return _run(args, strict=strict, no_cache=no_cache)
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
        print(f"verify-env: internal error: {type(exc).__name__}: {exc} "
              "(--debug shows the traceback)", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, *, strict: bool, no_cache: bool) -> int:
    from verify_env.target import start_target

    pending = start_target(args.python, args.prefix)  # the probe runs during the imports below
    from verify_env.checks.interface import Options
    from verify_env.output import write_report
    from verify_env.progress import ProgressBar
    from verify_env.render import OutputFormat, render
    from verify_env.verify import DEFAULT_CHECKS, parse_checks, verify

    checks = parse_checks(args.checks) if args.checks else DEFAULT_CHECKS
    target = pending()
    bar = ProgressBar() if sys.stderr.isatty() else None
    try:
        options = Options(strict=strict, blas_probe=args.blas_probe)
        if args.import_timeout is not None:
            import dataclasses

            options = dataclasses.replace(options, import_timeout=args.import_timeout)
        report = verify(target, checks, jobs=args.jobs, use_cache=not no_cache, progress=bar,
                        options=options)
    finally:
        if bar is not None:
            bar.close()
    for note in report.notes:
        print(f"verify-env: {note}", file=sys.stderr)
    to_terminal = args.output in (None, "-") and sys.stdout.isatty()
    text = render(report, OutputFormat(args.format), strict=strict, verbose=args.verbose,
                  color=to_terminal and "NO_COLOR" not in os.environ)
    write_report(text, args.output)
    return report.exit_status(strict)
