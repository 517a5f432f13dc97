"""Renderers: each turns a `Report` into a string and does nothing else.

`OutputFormat` is the enum of choices; `render` dispatches with ``match`` and
``assert_never`` so a new member without a renderer fails type checking.
"""

from __future__ import annotations

import enum
import sys

from verify_env.report import Report

if sys.version_info >= (3, 11):
    from typing import assert_never
else:  # pragma: no cover - 3.10
    from typing import NoReturn

    def assert_never(value: NoReturn) -> NoReturn:
        raise AssertionError(f"unhandled value: {value!r}")


__all__ = ["OutputFormat", "render", "safe_text"]

_CONTROL = {c: f"\\x{c:02x}" for c in range(32) if chr(c) not in "\n\t"}


def safe_text(value: str) -> str:
    """Text any terminal, JSON or XML consumer can take: undecodable bytes of file names
    (kept as surrogates) and control characters shown escaped."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8").translate(_CONTROL)


class OutputFormat(str, enum.Enum):
    """``--format`` choices."""

    TEXT = "text"
    JSON = "json"
    JUNIT = "junit"
    SARIF = "sarif"

    def __str__(self) -> str:
        return self.value


def render(
    report: Report,
    fmt: OutputFormat,
    *,
    strict: bool = False,
    verbose: bool = False,
    color: bool = False,
    quiet: bool = False,
) -> str:
    """``quiet`` shapes the text report only: the machine formats are whole whatever the
    terminal wants."""
    match fmt:
        case OutputFormat.TEXT:
            from verify_env.render import text

            return text.render(report, strict=strict, verbose=verbose, color=color, quiet=quiet)
        case OutputFormat.JSON:
            from verify_env.render import json

            return json.render(report)
        case OutputFormat.JUNIT:
            from verify_env.render import junit

            return junit.render(report)
        case OutputFormat.SARIF:
            from verify_env.render import sarif

            return sarif.render(report)
        case _:
            assert_never(fmt)
