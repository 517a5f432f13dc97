"""``conda verify``: the full verifier on a conda environment, with verify-env's options,
output formats and exit status (0 whole, 1 error findings, 2 our own failure or bad usage)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable

__all__ = ["configure_parser", "execute"]

FORMATS = ("text", "json", "junit", "sarif")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """The options of ``verify-env``, with conda's ``-n``/``-p`` instead of ``--prefix``."""
    from verify_env.argtypes import jobs, seconds  # lazily: conda builds parsers at start-up

    where = parser.add_mutually_exclusive_group()
    where.add_argument("-n", "--name", metavar="ENV", help="verify the environment named ENV")
    where.add_argument("-p", "--prefix", metavar="PATH",
                       help="verify the environment at PATH")
    env = os.environ.get
    parser.add_argument("--checks", default=env("VERIFY_ENV_CHECKS") or None,
                        help="comma-separated checks (record, tags, linkage, requirements, "
                             "paths, imports) or 'all' [VERIFY_ENV_CHECKS]")
    parser.add_argument("--format", choices=FORMATS, default=env("VERIFY_ENV_FORMAT") or "text",
                        help="report format (default: text) [VERIFY_ENV_FORMAT]")
    parser.add_argument("-o", "--output", metavar="FILE", default=env("VERIFY_ENV_OUTPUT"),
                        help="write the report to FILE [VERIFY_ENV_OUTPUT]")
    parser.add_argument("--strict", action="store_true", default=None,
                        help="warnings fail too [VERIFY_ENV_STRICT]")
    parser.add_argument("--no-cache", action="store_true", default=None,
                        help="rehash every file [VERIFY_ENV_NO_CACHE]")
    parser.add_argument("--jobs", type=jobs, metavar="N",
                        help="hashing processes [VERIFY_ENV_JOBS]")
    parser.add_argument("--blas-probe", action="store_true", default=None,
                        help="run a numeric probe of each BLAS/LAPACK provider "
                             "[VERIFY_ENV_BLAS_PROBE]")
    parser.add_argument("--import-timeout", type=seconds, metavar="SECONDS",
                        help="per-module timeout under --checks imports "
                             "[VERIFY_ENV_IMPORT_TIMEOUT]")
    parser.add_argument("-v", "--verbose", action="store_true", help="list what was not judged")


def _twins(args: argparse.Namespace) -> str | None:
    """Fill unset options from their ``VERIFY_ENV_*`` twins, validated like the flags;
    return what is wrong with one, if anything."""
    from verify_env.argtypes import env_flag, jobs, seconds

    for attr, name in (("strict", "STRICT"), ("no_cache", "NO_CACHE"),
                       ("blas_probe", "BLAS_PROBE")):
        if getattr(args, attr):
            continue
        try:
            setattr(args, attr, env_flag(name))
        except ValueError as exc:
            return str(exc)
    twins = (("jobs", "JOBS", jobs), ("import_timeout", "IMPORT_TIMEOUT", seconds))
    for attr, name, kind in twins:
        text = os.environ.get(f"VERIFY_ENV_{name}")
        if getattr(args, attr) is None and text:
            try:
                setattr(args, attr, kind(text))
            except argparse.ArgumentTypeError as exc:
                return f"VERIFY_ENV_{name}: {exc}"
    return None


def target_prefix(args: argparse.Namespace, locate_name: Callable[[str], str],
                  default_prefix: Callable[[], str]) -> str:
    """``-p``, else ``-n`` through conda's env lookup, else the active environment."""
    if args.prefix:
        return str(os.path.abspath(os.path.expanduser(args.prefix)))
    if args.name:
        return locate_name(args.name)
    return default_prefix()


def execute(args: argparse.Namespace, *, locate_name: Callable[[str], str],
            default_prefix: Callable[[], str]) -> int:
    """Verify the chosen environment and print the report; the exit status is verify-env's."""
    from verify_env.errors import VerifyEnvError

    if args.format not in FORMATS:  # VERIFY_ENV_FORMAT, which argparse does not check
        print(f"conda verify: VERIFY_ENV_FORMAT={args.format!r}: choose from "
              f"{', '.join(FORMATS)}", file=sys.stderr)
        return 2
    problem = _twins(args)
    if problem:
        print(f"conda verify: {problem}", file=sys.stderr)
        return 2
    try:
        return _run(args, target_prefix(args, locate_name, default_prefix))
    except VerifyEnvError as exc:
        print(f"conda verify: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, prefix: str) -> int:
    from verify_env.checks.interface import Options
    from verify_env.output import write_report
    from verify_env.render import OutputFormat, render
    from verify_env.target import resolve_target
    from verify_env.verify import DEFAULT_CHECKS, parse_checks, verify

    checks = parse_checks(args.checks) if args.checks else DEFAULT_CHECKS
    target = resolve_target(prefix=prefix)
    options = Options(strict=args.strict, blas_probe=args.blas_probe)
    if args.import_timeout is not None:
        options = dataclasses.replace(options, import_timeout=args.import_timeout)
    report = verify(target, checks, jobs=args.jobs, use_cache=not args.no_cache, options=options)
    for note in report.notes:
        print(f"verify-env: {note}", file=sys.stderr)
    to_terminal = args.output in (None, "-") and sys.stdout.isatty()
    text = render(report, OutputFormat(args.format), strict=args.strict, verbose=args.verbose,
                  color=to_terminal and "NO_COLOR" not in os.environ)
    write_report(text, args.output)
    return report.exit_status(args.strict)
