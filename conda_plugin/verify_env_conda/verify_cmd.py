"""``conda verify``: the full verifier on a conda environment, with verify-env's options,
configuration (`verify_env.settings.config`, conda's ``plugins.verify_env_ignore``/``_baseline``
between the ``VERIFY_ENV_*`` variables and the project file), output formats and exit status
(0 whole, 1 error findings, 2 our own failure, bad usage or bad configuration)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verify_env.settings.config import Settings

__all__ = ["configure_parser", "execute"]

FORMATS = ("text", "json", "junit", "sarif")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """The options of ``verify-env``, with conda's ``-n``/``-p`` instead of ``--prefix``."""
    from verify_env.settings.argtypes import (  # lazily: conda builds parsers at start-up
        jobs,
        seconds,
    )

    where = parser.add_mutually_exclusive_group()
    where.add_argument("-n", "--name", metavar="ENV", help="verify the environment named ENV")
    where.add_argument("-p", "--prefix", metavar="PATH", help="verify the environment at PATH")
    parser.add_argument(
        "--checks",
        help="comma-separated checks (record, tags, linkage, requirements, "
        "paths, imports) or 'all' [VERIFY_ENV_CHECKS]",
    )
    parser.add_argument(
        "--format", choices=FORMATS, help="report format (default: text) [VERIFY_ENV_FORMAT]"
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the report to FILE [VERIFY_ENV_OUTPUT]"
    )
    parser.add_argument(
        "--strict", action="store_true", default=None, help="warnings fail too [VERIFY_ENV_STRICT]"
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        default=None,
        help="rehash every file [VERIFY_ENV_NO_CACHE]",
    )
    parser.add_argument(
        "--jobs", type=jobs, metavar="N", help="hashing processes [VERIFY_ENV_JOBS]"
    )
    parser.add_argument(
        "--blas-probe",
        action="store_true",
        default=None,
        help="run a numeric probe of each BLAS/LAPACK provider [VERIFY_ENV_BLAS_PROBE]",
    )
    parser.add_argument(
        "--import-timeout",
        type=seconds,
        metavar="SECONDS",
        help="per-module timeout under --checks imports [VERIFY_ENV_IMPORT_TIMEOUT]",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        metavar="RULE",
        help="accept the findings a check:code:distribution:path rule matches "
        "(globs; repeatable) [VERIFY_ENV_IGNORE]",
    )
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        help="accept what the baseline FILE records [VERIFY_ENV_BASELINE]",
    )
    parser.add_argument(
        "--write-baseline", metavar="FILE", help="accept everything found now and write it to FILE"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list what was not judged")


def target_prefix(
    args: argparse.Namespace, locate_name: Callable[[str], str], default_prefix: Callable[[], str]
) -> str:
    """``-p``, else ``-n`` through conda's env lookup, else the active environment."""
    if args.prefix:
        return str(os.path.abspath(os.path.expanduser(args.prefix)))
    if args.name:
        return locate_name(args.name)
    return default_prefix()


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
    from verify_env_conda.settings import load_settings

    try:
        settings = load_settings(plugins, {k: getattr(args, k, None) for k in _SETTINGS})
        return _run(args, settings, target_prefix(args, locate_name, default_prefix))
    except VerifyEnvError as exc:
        print(f"conda verify: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, settings: Settings, prefix: str) -> int:
    from verify_env.checks.interface import Options
    from verify_env.render import OutputFormat, render
    from verify_env.render.output import write_report
    from verify_env.settings import accept
    from verify_env.target.model import resolve_target
    from verify_env.verify import DEFAULT_CHECKS, parse_checks, verify

    checks = parse_checks(settings.checks) if settings.checks else DEFAULT_CHECKS
    write_to = getattr(args, "write_baseline", None)
    rules = accept.Acceptance(settings.ignore) if write_to else accept.Acceptance.of(settings)
    target = resolve_target(prefix=prefix)
    options = Options(strict=settings.strict, blas_probe=settings.blas_probe)
    if settings.import_timeout is not None:
        options = dataclasses.replace(options, import_timeout=settings.import_timeout)
    report = verify(
        target, checks, jobs=settings.jobs, use_cache=not settings.no_cache, options=options
    )
    if write_to:
        count = accept.write_baseline(report, write_to)
        print(f"conda verify: {write_to}: accepted {count} finding(s)", file=sys.stderr)
        report = accept.accept_all(rules.apply(report), f"baseline {write_to} (written now)")
    else:
        report = rules.apply(report)
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
