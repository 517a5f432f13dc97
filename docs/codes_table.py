"""Rewrite the finding codes table in README.md and docs/*.md from verify_env.finding.CODES.

    python docs/codes_table.py          # rewrite the tables between the markers
    python docs/codes_table.py --check  # exit 1 if a table is stale (tests/unit/test_docs.py)

The table sits between the TABLE_START and TABLE_END markers of verify_env.commands.explain.
"""

from __future__ import annotations

import sys
from pathlib import Path

from verify_env.commands.explain import TABLE_END, TABLE_START, codes_table

ROOT = Path(__file__).resolve().parent.parent


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def updated(text: str) -> str:
    """``text`` with the table between its markers regenerated (unchanged without markers)."""
    out, rest = [], text
    while TABLE_START in rest:
        before, _, after = rest.partition(TABLE_START)
        if TABLE_END not in after:
            raise SystemExit(f"a {TABLE_START!r} without {TABLE_END!r}")
        out.append(f"{before}{TABLE_START}\n{codes_table()}")
        rest = TABLE_END + after.partition(TABLE_END)[2]
    return "".join(out) + rest


def main(argv: list[str]) -> int:
    stale = []
    for doc in documents():
        text = doc.read_text(encoding="utf-8")
        new = updated(text)
        if new != text:
            stale.append(doc)
            if "--check" not in argv:
                doc.write_text(new, encoding="utf-8")
    verb = "stale" if "--check" in argv else "rewritten"
    for doc in stale:
        print(f"{doc.relative_to(ROOT)}: codes table {verb}")
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
