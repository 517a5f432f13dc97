"""``verify-env --explain CODE``: what a finding code means, why it matters, how to fix it.

Everything printed comes from `verify_env.finding.CODES`, the one table that also feeds the
SARIF rules and the docs' codes table, so the three never disagree.
"""

from __future__ import annotations

import sys
import textwrap

from verify_env.finding import CODES, Code

__all__ = ["TABLE_END", "TABLE_START", "codes_table", "explain", "explanation", "severity_text"]

_WIDTH = 88
TABLE_START = "<!-- codes-table: generated from verify_env.finding.CODES by docs/codes_table.py -->"
TABLE_END = "<!-- codes-table end -->"


def severity_text(code: Code) -> str:
    """``error``, or ``error (warning when …)`` for a code judged per case."""
    note = f" ({code.severity_note})" if code.severity_note else ""
    return f"{code.severity}{note}"


def _wrap(text: str, indent: str = "") -> list[str]:
    # never split a command at its hyphens (`--force-reinstall`)
    return textwrap.wrap(
        text,
        _WIDTH,
        initial_indent=indent,
        subsequent_indent=indent,
        break_on_hyphens=False,
        break_long_words=False,
    )


def _para(label: str, text: str) -> list[str]:
    return [f"{label}:", *_wrap(text, "  "), ""]


def explanation(code: Code) -> str:
    """The text ``--explain`` prints for one code."""
    lines = [code.name, "", *_wrap(code.meaning[0].upper() + code.meaning[1:] + ".")]
    if code.detail:
        lines += _wrap(f"Judged: {code.detail}.")
    lines.append("")
    lines += _para("Severity", severity_text(code))
    lines += _para("Why it matters", code.why)
    lines += _para("How to fix", code.fix)
    lines.append(f"Reported by the {code.check!r} check (verify-env --checks {code.check}).")
    return "\n".join(lines) + "\n"


def codes_table() -> str:
    """The Markdown codes table of the README and docs/, one row per code, in table order."""
    rows = ["| check | code | severity | meaning |", "|---|---|---|---|"]
    for code in CODES.values():
        meaning = code.meaning + (f" — {code.detail}" if code.detail else "")
        rows.append(
            f"| {code.check} | `{code.name}` | {severity_text(code)} | "
            f"{meaning.replace('|', chr(92) + '|')} |"
        )
    return "\n".join(rows) + "\n"


def explain(name: str) -> int:
    """Print the explanation of ``name`` — ``hash-mismatch`` or, as reports print it,
    ``record/hash-mismatch`` — (exit 0); an empty name lists the codes (exit 0); an unknown one
    lists them on stderr (exit 2)."""
    wanted = name.strip().lower()
    if not wanted:
        sys.stdout.write(_listing())
        return 0
    check, _, bare = wanted.rpartition("/")
    code = CODES.get(bare)
    if code is None or (check and check != code.check):
        print(
            f"verify-env: --explain {name!r}: not a finding code; known codes: "
            f"{', '.join(sorted(CODES))}",
            file=sys.stderr,
        )
        return 2
    sys.stdout.write(explanation(code))
    return 0


def _listing() -> str:
    """Every code as ``check/code  severity  meaning``, one a line."""
    width = max(len(f"{c.check}/{c.name}") for c in CODES.values())
    lines = [
        f"{f'{c.check}/{c.name}':<{width}}  {c.severity:<7}  {c.meaning}" for c in CODES.values()
    ]
    return "\n".join([*lines, "", "verify-env --explain CODE tells more."]) + "\n"
