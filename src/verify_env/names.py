"""Project names compared as PEP 503 says, in a module light enough for a front door's first
milliseconds (the inventory package, which also has it, imports every record reader)."""

from __future__ import annotations

import re

__all__ = ["canonical_name", "requirement_name"]

_SEPARATORS = re.compile(r"[-_.]+")
_REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical_name(name: str) -> str:
    """PEP 503 normalization. packaging.utils has it too, but importing that module pulls in
    packaging.tags (~15 ms), and every front door pays start-up on each install."""
    return _SEPARATORS.sub("-", name).lower()


def requirement_name(line: str, *, extras: bool = True) -> str | None:
    """The canonical project name a Requires-Dist (or conda ``depends``) line starts with; None
    when it names none. ``extras=False``: also None when only an ``extra`` marker asks for it
    (not installed by default, so not imported first) — other markers are not evaluated here,
    by the checks that only schedule or widen with the answer."""
    match = _REQUIREMENT_NAME.match(line)
    if match is None:
        return None
    if not extras and "extra" in line.partition(";")[2]:
        return None
    return canonical_name(match.group(1))
