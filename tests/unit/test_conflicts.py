"""`conflicts.derive`: the verdict of a second record of one location, from the outcome of the
one hash job its location got (issue 18: no file is hashed twice in a run)."""

from __future__ import annotations

import base64

import pytest

from verify_env.checks.conflicts import HERE, derive
from verify_env.inventory import FileKind, RecordedFile

A = "a" * 43
B = "b" * 43
HEX_A = base64.urlsafe_b64decode(A + "=").hex()


def row(digest: str | None = A, size: int | None = 10, **kw: object) -> RecordedFile:
    algorithm = "sha256" if digest is not None else None
    return RecordedFile("p/x.py", "/env/p/x.py", algorithm, digest, size, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("first", "outcome", "second", "expected"),
    [
        (row(), None, row(), None),  # both rows name the bytes that are there
        (row(), None, row(B), ("cached-bad",)),  # the first's bytes are there, not the second's
        (row(), None, row(size=11), ("size", 10)),
        (row(), ("hashed", None, B, 10), row(B), None),  # the second's bytes are there
        (row(), ("hashed", None, B, 10), row(), ("cached-bad",)),
        (row(), ("size", 12), row(size=12), HERE),  # its size holds: only a hash can tell
        (row(), ("size", 12), row(size=10), ("size", 12)),
        (row(), ("cached-bad",), row(), ("cached-bad",)),
        (row(), ("cached-bad",), row(B), HERE),
        (row(), ("errno", 2, "No such file"), row(B), ("errno", 2, "No such file")),
        (row(), None, row(None, None), None),  # a row that records nothing to compare
        (row(), None, row(HEX_A, hex=True), None),  # conda's hex beside pip's base64
        (row(), None, row("0" * 64, hex=True), ("cached-bad",)),
        (row(), None, row(HEX_A, hex=True)._replace(algorithm="md5"), HERE),
        (row(), None, row(kind=FileKind.OPTIONAL), None),
        (row(kind=FileKind.SOFTLINK), None, row(), HERE),
    ],
)
def test_derive(
    first: RecordedFile, outcome: object, second: RecordedFile, expected: object
) -> None:
    assert derive(first, outcome, second) == expected
