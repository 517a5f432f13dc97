"""WHEEL ``Tag:`` lines are read wherever they stand (issue 16 §3): Debian's python3-tables has
its second tag after a blank line, and reading only up to the blank line made a working
package a ``tag-mismatch``."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from tests.support.envs import make_venv, run_cli, site_packages


def _rerecord(site: Path, rel: str, data: bytes) -> None:
    """Write a file of the site dir and its RECORD row, as an installer that wrote it would."""
    (site / rel).write_bytes(data)
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record = site / rel.split("/")[0] / "RECORD"
    rows = [
        f"{rel},sha256={digest},{len(data)}" if line.startswith(rel + ",") else line
        for line in record.read_text().splitlines()
    ]
    record.write_text("\n".join(rows) + "\n")


def test_a_tag_after_a_blank_line_counts(tmp_path: Path, py311: str, cache_dir: Path) -> None:
    venv = make_venv(tmp_path / "venv", py311, ["six==1.17.0"])
    site = site_packages(venv)
    # pip's own pip dist-info would be judged too: only six is rewritten
    wheel = "six-1.17.0.dist-info/WHEEL"
    text = (site / wheel).read_text()
    assert "Tag: py2-none-any\nTag: py3-none-any" in text, text
    _rerecord(site, wheel, text.replace("py2-none-any\n", "py2-none-any\n\n").encode())
    # the record check holds the rewritten WHEEL to its new row: only the tags are judged
    run = run_cli("--python", str(venv / "bin" / "python"), "--format", "json", cache_dir=cache_dir)
    assert run.returncode == 0, run.findings
    assert run.findings == []
    # and the lone py2 tag is still a mismatch: the rule reads tags, it does not drop the check
    _rerecord(site, wheel, text.replace("Tag: py3-none-any\n", "").encode())
    run = run_cli("--python", str(venv / "bin" / "python"), "--format", "json", cache_dir=cache_dir)
    assert run.returncode == 1
    f = run.find("tag-mismatch")
    assert (f["distribution"], f["check"]) == ("six", "tags")
