"""Project names compared as PEP 503 says, in a module light enough for a front door's first
milliseconds (the inventory package, which also has it, imports every record reader)."""

from __future__ import annotations

import re

__all__ = ["canonical_name"]

_SEPARATORS = re.compile(r"[-_.]+")


def canonical_name(name: str) -> str:
    """PEP 503 normalization. packaging.utils has it too, but importing that module pulls in
    packaging.tags (~15 ms), and every front door pays start-up on each install."""
    return _SEPARATORS.sub("-", name).lower()
