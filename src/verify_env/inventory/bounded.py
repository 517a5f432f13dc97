"""Bounded, streaming reads of the metadata files an environment controls (issue 18 §7, §12).

Whoever writes the environment writes its METADATA and RECORD: a 100 MB description, a RECORD of
a million rows or with one 10 MB field must cost what a normal one costs, and come back as one
finding, never as gigabytes of memory or an exception that ends the run. METADATA is read up to
the end of its headers only (the description is never used); RECORD line by line, each line
and the whole file capped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from verify_env.files import open_regular

__all__ = [
    "HEADER_CAP",
    "LINE_CAP",
    "OVERLONG",
    "RECORD_CHARS_CAP",
    "RECORD_ROWS_CAP",
    "read_head",
    "record_lines",
]

HEADER_CAP = 1 << 20
"""Bytes of a METADATA/PKG-INFO header block read at most (real ones: a few KiB; a license text
folded into ``License:`` can reach ~100 KiB)."""
LINE_CAP = 128 << 10
"""Characters of one RECORD line, csv's own field limit (`csv.field_size_limit`)."""
RECORD_CHARS_CAP = 64 << 20
"""Characters of one RECORD read at most (torch's, the largest seen: ~3 MB)."""
RECORD_ROWS_CAP = 100_000
"""Rows of one RECORD read at most (the largest wheels seen list ~40k files)."""
OVERLONG = "\udcff\udcfeoverlong line\udcfe\udcff"
"""What `record_lines` yields (plus a newline) in place of a line over `LINE_CAP`."""

_CHUNK = 1 << 16


def read_head(path: str, cap: int = HEADER_CAP) -> tuple[str, bool] | None:
    """The header block of an RFC 822 style file (up to its first empty line, or all of a
    file without one) and whether it was cut at ``cap`` bytes; None if ``path`` is not a
    readable regular file."""
    opened = open_regular(path)
    if opened is None:
        return None
    fd, _ = opened
    buf = bytearray()
    try:
        while len(buf) < cap:
            chunk = os.read(fd, min(_CHUNK, cap - len(buf)))
            if not chunk:
                break
            start = max(0, len(buf) - 2)
            buf += chunk
            for blank in (b"\n\n", b"\n\r\n"):
                end = buf.find(blank, start)
                if end >= 0:
                    return buf[: end + 1].decode("utf-8", "surrogateescape"), False
        truncated = len(buf) >= cap and bool(os.read(fd, 1))
    except OSError:
        return None
    finally:
        os.close(fd)
    return buf.decode("utf-8", "surrogateescape"), truncated


def record_lines(path: str, cut: list[str]) -> Iterator[str] | None:
    """The lines of a RECORD, read as needed; None if it is not a readable regular file.

    A line longer than `LINE_CAP` is skipped and `OVERLONG` yielded in its place; when the
    file holds more than `RECORD_CHARS_CAP` characters, reading stops and a sentence saying so
    is appended to ``cut``."""
    opened = open_regular(path)
    if opened is None:
        return None
    return _lines(opened[0], cut)


def _lines(fd: int, cut: list[str]) -> Iterator[str]:
    total = lineno = 0
    with open(fd, encoding="utf-8", errors="surrogateescape", newline="") as stream:
        while True:
            try:
                line = stream.readline(LINE_CAP)
            except OSError:
                return
            if not line:
                return
            lineno += 1
            total += len(line)
            if total > RECORD_CHARS_CAP:
                cut.append(
                    f"RECORD is larger than {RECORD_CHARS_CAP >> 20} MiB of text: line {lineno} "
                    "and what follows are not read"
                )
                return
            if len(line) >= LINE_CAP and not line.endswith("\n"):
                rest = line
                while rest and not rest.endswith("\n"):  # skip the rest of the line
                    rest = stream.readline(LINE_CAP)
                    total += len(rest)
                    if total > RECORD_CHARS_CAP:
                        cut.append(
                            f"RECORD is larger than {RECORD_CHARS_CAP >> 20} MiB of text: line "
                            f"{lineno} and what follows are not read"
                        )
                        return
                yield OVERLONG + "\n"
                continue
            yield line
