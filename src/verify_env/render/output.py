"""Writing the report: stdout for ``-``, or a file replaced atomically so a reader (or a failed
run) never sees half a report; and `present`, how the full-run front doors (``verify-env``,
``conda verify``) show an outcome."""

from __future__ import annotations

import os
import sys

from verify_env.errors import VerifyEnvError
from verify_env.files import replace_atomically

TYPE_CHECKING = False
if TYPE_CHECKING:
    from verify_env.session import Outcome
    from verify_env.settings.config import Settings

__all__ = ["present", "write_report"]


def present(outcome: Outcome, settings: Settings, tool: str, *, verbose: bool = False) -> int:
    """The outcome's notes on stderr (``TOOL: note``), the report rendered in the configured
    format to the configured output; returns the exit status."""
    from verify_env.render import OutputFormat, render

    for note in (*outcome.report.notes, *outcome.notes):
        print(f"{tool}: {note}", file=sys.stderr)
    to_terminal = settings.output in (None, "-") and sys.stdout.isatty()
    text = render(
        outcome.report,
        OutputFormat(settings.format),
        strict=settings.strict,
        verbose=verbose,
        color=to_terminal and "NO_COLOR" not in os.environ,
    )
    write_report(text, settings.output)
    return outcome.status


def write_report(text: str, destination: str | None) -> None:
    if destination in (None, "-"):
        # A stdout that is not UTF-8 gets escapes, never a UnicodeEncodeError; a reader that
        # went away (``| head``) is not our failure: the exit status still tells the verdict.
        try:
            sys.stdout.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        return
    assert destination is not None
    try:
        replace_atomically(destination, text.encode("utf-8"))
    except OSError as exc:
        raise VerifyEnvError(f"cannot write {destination!r}: {exc.strerror or exc}") from None
