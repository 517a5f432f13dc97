"""verify_env.inventory.bounded: header blocks and RECORD lines read with caps, on real files."""

from __future__ import annotations

import os
from pathlib import Path

from verify_env.inventory import bounded


def test_read_head_stops_at_the_first_empty_line(tmp_path: Path) -> None:
    f = tmp_path / "METADATA"
    f.write_bytes(b"Name: a\r\nVersion: 1\r\n\r\nbody\n" + b"x" * (4 << 20))
    assert bounded.read_head(str(f)) == ("Name: a\r\nVersion: 1\r\n", False)


def test_read_head_of_a_file_without_body(tmp_path: Path) -> None:
    f = tmp_path / "PKG-INFO"
    f.write_bytes(b"Name: a\nVersion: 1\n")
    assert bounded.read_head(str(f)) == ("Name: a\nVersion: 1\n", False)


def test_read_head_cut_at_the_cap(tmp_path: Path) -> None:
    f = tmp_path / "METADATA"
    f.write_bytes(b"Name: a\nX: " + b"y" * 5000 + b"\n")
    text, cut = bounded.read_head(str(f), cap=1000) or ("", False)
    assert cut and len(text) == 1000 and text.startswith("Name: a\n")
    exact = tmp_path / "EXACT"
    exact.write_bytes(b"z" * 1000)  # exactly the cap, nothing after: not cut
    assert bounded.read_head(str(exact), cap=1000) == ("z" * 1000, False)


def test_read_head_of_a_fifo_is_none(tmp_path: Path) -> None:
    fifo = tmp_path / "METADATA"
    os.mkfifo(fifo)
    assert bounded.read_head(str(fifo)) is None  # never blocks


def test_record_lines_replace_an_overlong_line_and_go_on(tmp_path: Path) -> None:
    f = tmp_path / "RECORD"
    f.write_text("a.py,,\n" + "w" * (bounded.LINE_CAP * 3) + ",,\nb.py,,\n")
    cut: list[str] = []
    lines = list(bounded.record_lines(str(f), cut) or ())
    assert lines == ["a.py,,\n", bounded.OVERLONG + "\n", "b.py,,\n"]
    assert cut == []
