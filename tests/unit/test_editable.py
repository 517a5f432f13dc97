"""verify_env.inventory.editable: editable hooks read as text, never run, and confined to the
project the install points at."""

from __future__ import annotations

import json
from pathlib import Path

from verify_env.inventory.editable import editable_dirs, project_dir
from verify_env.inventory.model import RecordedFile


def _meta(tmp_path: Path, doc: object | str) -> str:
    meta = tmp_path / "demo-1.0.dist-info"
    meta.mkdir(parents=True)
    text = doc if isinstance(doc, str) else json.dumps(doc)
    (meta / "direct_url.json").write_text(text)
    return str(meta)


def test_project_dir_of_an_editable_install(tmp_path: Path) -> None:
    url = "file:///work/my%20project"
    meta = _meta(tmp_path, {"url": url, "dir_info": {"editable": True}})
    assert project_dir(meta) == "/work/my project"


def test_not_editable_or_not_local_is_none(tmp_path: Path) -> None:
    for n, doc in enumerate(
        [
            {"url": "file:///p", "dir_info": {}},
            {"url": "file:///p", "dir_info": {"editable": "yes"}},
            {"url": "https://example.org/p", "dir_info": {"editable": True}},
            {"url": "file://host/p", "dir_info": {"editable": True}},
            ["not", "an", "object"],
            "{not json",
            '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}",
        ]
    ):
        assert project_dir(_meta(tmp_path / str(n), doc)) is None, doc


def _row(path: Path) -> RecordedFile:
    return RecordedFile(path.name, str(path), None, None, None)


def test_hooks_are_read_not_run_and_stay_in_the_project(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    project = tmp_path / "project"
    (project / "src" / "pkg").mkdir(parents=True)
    (project / "flat").mkdir()
    outside = tmp_path / "elsewhere" / "other"
    outside.mkdir(parents=True)
    pth = site / "__editable__.demo-1.0.pth"
    pth.write_text(f"import os; os.system('false')\n{project / 'src'}\n{outside.parent}\n")
    finder = site / "__editable___demo_1_0_finder.py"
    finder.write_text(
        "import sys\n"
        f"MAPPING: dict[str, str] = {{'flat': {str(project / 'flat')!r}, 'o': {str(outside)!r}}}\n"
        "NAMESPACES = {}\n"
    )
    computed = site / "__editable___other_finder.py"
    computed.write_text("MAPPING = dict(evil=__import__('os').getcwd())\n")
    dirs = editable_dirs(str(site), str(project), [_row(pth), _row(finder), _row(computed)])
    assert dirs == (str(project / "src" / "pkg"), str(project / "flat"))
