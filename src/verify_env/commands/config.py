"""``verify-env config``: the effective settings, and where each one came from.

Options given before the subcommand count, as for a run (``verify-env --strict config``), so
the output answers "what would this command line do here". The files consulted are listed
first, then one ``key = value`` line per setting with its source: ``default``, ``command
line``, a ``VERIFY_ENV_*`` variable, or ``FILE:LINE``.
"""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False  # not typing's: its import costs ~3 ms of `verify-env --version`

if TYPE_CHECKING:
    from verify_env.settings.config import Settings

__all__ = ["configure_parser", "execute", "render"]

PRECEDENCE = "command line > VERIFY_ENV_* > pyproject.toml [tool.verify-env] > user file"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """No options of its own: those of ``verify-env`` go before the subcommand."""
    parser.description = (
        f"Print the effective settings and where each came from ({PRECEDENCE} > default)."
    )


def _value(value: object) -> str:
    import json

    from verify_env.settings.accept import IgnoreRule

    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, tuple):
        return (
            "["
            + ", ".join(json.dumps(v.text if isinstance(v, IgnoreRule) else str(v)) for v in value)
            + "]"
        )
    return json.dumps(str(value))


def render(settings: Settings) -> str:
    import os

    from verify_env.settings.config import KEYS, shown

    lines = [f"# precedence: {PRECEDENCE} > default"]
    project = settings.project_file
    lines.append(f"# project file: {shown(project) if project else '(none found)'}")
    user = settings.user_file
    if user:
        lines.append(f"# user file:    {user}" + ("" if os.path.isfile(user) else " (absent)"))
    width = max(len(k.name) for k in KEYS)
    rows = []
    for key in KEYS:
        value = _value(getattr(settings, key.attr))
        rows.append((f"{key.name:<{width}} = {value}", settings.origins.get(key.attr, "default")))
    column = min(max(len(r[0]) for r in rows), 48)
    lines += [f"{text:<{column}}  # {origin}" for text, origin in rows]
    rules = [r for r in settings.ignore if r.reason]
    lines += [f"#   ignore {r.text}: {r.reason}" for r in rules]
    return "\n".join(lines) + "\n"


def execute(args: argparse.Namespace, settings: Settings) -> int:
    from verify_env.render.output import write_report

    del args
    write_report(render(settings), "-")
    sys.stdout.flush()
    return 0
