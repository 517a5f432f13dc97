"""Option values shared by every front door that takes verify-env's options (``verify-env``,
``conda verify``, ``pipv verify``): one rule for what a valid ``--jobs`` or ``--import-timeout``
is, and for how a ``VERIFY_ENV_*`` flag twin spells true and false."""

from __future__ import annotations

import argparse
import os

__all__ = ["FORMATS", "RUN_SETTINGS", "env_flag", "flag", "jobs", "seconds"]

#: ``--format`` choices (`verify_env.render.OutputFormat`'s values; spelled here so that
#: parsing imports no renderer: tests/unit/test_registry.py holds the two equal).
FORMATS = ("text", "json", "junit", "sarif")
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


def env_flag(name: str) -> bool:
    """The ``VERIFY_ENV_<name>`` twin of a flag; unset or empty is false. Raises ValueError
    with the message to show for anything that is not a yes or a no."""
    value = (os.environ.get(f"VERIFY_ENV_{name}") or "").strip().lower()
    parsed = flag(value)
    if parsed is None:
        raise ValueError(f"VERIFY_ENV_{name}={value!r}: expected 1/0, true/false, yes/no")
    return parsed
