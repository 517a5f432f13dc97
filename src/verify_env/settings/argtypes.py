"""Option values shared by every front door that takes verify-env's options (``verify-env``,
``conda verify``, ``pipv verify``): one rule for what a valid ``--jobs`` or ``--import-timeout``
is, and for how a ``VERIFY_ENV_*`` flag twin spells true and false."""

from __future__ import annotations

import argparse

__all__ = [
    "DEFAULT_CHECKS",
    "FORMATS",
    "RUN_SETTINGS",
    "add_run_options",
    "flag",
    "jobs",
    "seconds",
]

#: ``--format`` choices (`verify_env.render.OutputFormat`'s values; spelled here so that
#: parsing imports no renderer: tests/unit/test_registry.py holds the two equal).
FORMATS = ("text", "json", "junit", "sarif")
#: The registry's default checks, spelled here so that building a parser (``--help``,
#: ``--version``, conda's start-up) imports no check; tests/unit/test_registry.py holds it equal
#: to `verify_env.verify.DEFAULT_CHECKS`.
DEFAULT_CHECKS = "record,tags,linkage,requirements,paths"
#: The `verify_env.settings.config.Settings` fields a front door's options may set.
RUN_SETTINGS = (
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


def jobs(text: str) -> int:
    """``--jobs N``: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not positive")
    return value


def seconds(text: str) -> float:
    """``--import-timeout SECONDS``: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def flag(text: str) -> bool | None:
    """How a ``VERIFY_ENV_*`` flag twin spells yes and no (empty is no); None for anything
    else."""
    value = text.strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    return None


def add_run_options(parser: argparse.ArgumentParser, default_checks: str = DEFAULT_CHECKS) -> None:
    """The options of a run (`RUN_SETTINGS`), for every front door that takes them
    (``verify-env``, ``conda verify``): one spelling, one help text, one validation."""
    parser.add_argument(
        "--checks",
        help=f"comma-separated checks, or 'all' (default: {default_checks}; "
        "'imports' runs only when asked) [VERIFY_ENV_CHECKS]",
    )
    parser.add_argument(
        "-f",
        "--format",
        choices=FORMATS,
        help="report format (default: text) [VERIFY_ENV_FORMAT]",
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
