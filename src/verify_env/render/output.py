"""Writing the report: stdout for ``-``, or a file replaced atomically so a reader (or a failed
run) never sees half a report; and `present`, how the full-run front doors (``verify-env``,
``conda verify``) show an outcome."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import NoReturn, TextIO

from verify_env.errors import VerifyEnvError
from verify_env.files import replace_atomically

TYPE_CHECKING = False
if TYPE_CHECKING:
    from verify_env.session import Outcome
    from verify_env.settings.config import Settings

__all__ = ["leave", "present", "use_color", "write_report"]


def use_color(choice: str, stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """``--color auto|always|never``, as the ecosystem spells it: ``never`` or ``NO_COLOR`` (any
    value, https://no-color.org) mean none; ``always`` or ``FORCE_COLOR`` (a non-empty value)
    mean color even into a pipe; ``auto``: only on a terminal."""
    environ = os.environ if environ is None else environ
    if choice == "never":
        return False
    if choice == "always":
        return True
    if "NO_COLOR" in environ:
        return False
    if environ.get("FORCE_COLOR"):
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def present(
    outcome: Outcome,
    settings: Settings,
    tool: str,
    *,
    verbose: bool = False,
    quiet: bool = False,
    color: str = "auto",
) -> int:
    """The outcome's notes on stderr (``TOOL: note``), the report rendered in the configured
    format to the configured output, and — when that output is a file — the one-line verdict on
    stderr too, so that a CI log is never empty. Returns the exit status."""
    from verify_env.render import OutputFormat, render
    from verify_env.render.text import summary_counts

    for note in (*outcome.report.notes, *outcome.notes):
        print(f"{tool}: {note}", file=sys.stderr)
    to_file = settings.output not in (None, "-")
    text = render(
        outcome.report,
        OutputFormat(settings.format),
        strict=settings.strict,
        verbose=verbose,
        color=not to_file and use_color(color, sys.stdout),
        quiet=quiet,
    )
    write_report(text, settings.output)
    if to_file and not (quiet and outcome.status == 0):
        report = outcome.report
        verdict = "FAILED" if outcome.status else "OK"
        print(
            f"{tool}: {verdict}: {report.errors} error(s), {report.warnings} warning(s)"
            + (f", {report.accepted} accepted" if report.accepted else "")
            + f" — {summary_counts(report)}; report written to {settings.output}",
            file=sys.stderr,
        )
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


def leave(status: int) -> NoReturn:
    """End a front door's process without tearing the interpreter down: freeing what a run
    built (inventory, facts, caches) took tens of ms for nothing (14 to 22 ms of every ``pipv
    install``). stdout and stderr are flushed first; nothing of ours runs at exit (no atexit
    handler, no thread, every file closed where it was written)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said anyway
            pass
    os._exit(status)
