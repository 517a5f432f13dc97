"""Ignore rules and baselines on real `Finding`s and files: parsing, matching, the hash rule,
the line numbers that errors name; and the configuration's key-line scan."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from verify_env.errors import UsageError
from verify_env.finding import Finding, Severity
from verify_env.report import Report, Summary
from verify_env.settings.accept import Baseline, apply, file_sha256, parse_rule
from verify_env.settings.config import _line_of

FINDING = Finding(
    "record",
    "hash-mismatch",
    Severity.ERROR,
    "Scikit_Learn",
    "1.5.0",
    "pip",
    "sklearn/utils/_x.py",
    "sklearn/utils/_x.py content differs",
)


def test_rules_match_by_glob_with_names_normalized() -> None:
    assert parse_rule("record:hash-mismatch:scikit-learn:sklearn/*", "--ignore").matches(FINDING)
    assert parse_rule("record:*:SCIKIT.LEARN", "--ignore").matches(FINDING)
    assert parse_rule("*", "--ignore").matches(FINDING)
    assert (
        parse_rule("record:hash-mismatch:scikit-learn:sklearn/utils/_x.py:extra", "x").parts[3]
        == "sklearn/utils/_x.py:extra"
    )  # the path keeps its ':'
    assert not parse_rule("record:size-mismatch", "x").matches(FINDING)
    assert not parse_rule("record:hash-mismatch:scikit-learn:sklearn/*.so", "x").matches(FINDING)
    no_dist = dataclasses.replace(FINDING, distribution=None, path=None)
    assert parse_rule("record:hash-mismatch", "x").matches(no_dist)
    assert not parse_rule("record:hash-mismatch:numpy", "x").matches(no_dist)


def test_rule_reason_text() -> None:
    rule = parse_rule("record", "pyproject.toml [tool.verify-env] ignore", "vendor RECORD")
    assert rule.accepted == "pyproject.toml [tool.verify-env] ignore record — vendor RECORD"
    assert parse_rule("rec*:x*", "--ignore").text == "rec*:x*"  # globs are not validated


@pytest.mark.parametrize("text", ["nope", "record:nope", "paths:hash-mismatch", " "])
def test_bad_rules(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rule(text, "--ignore")


def test_baseline_matches_by_hash(tmp_path: Path) -> None:
    target = tmp_path / "_x.py"
    target.write_bytes(b"changed\n")
    found = dataclasses.replace(FINDING, location=str(target))
    entry = {
        "check": "record",
        "code": "hash-mismatch",
        "distribution": "scikit-learn",
        "version": "1.5.0",
        "path": "sklearn/utils/_x.py",
        "sha256": hashlib.sha256(b"changed\n").hexdigest(),
        "message": "old text",
    }
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"schema": 1, "accepted": [entry]}))
    baseline = Baseline.read(str(path), "b.json")
    assert file_sha256(str(target)) == entry["sha256"]
    assert file_sha256(str(tmp_path)) is None and file_sha256(None) is None

    def accepted(f: Finding) -> str | None:
        report = _report(f)
        return apply(report, (), baseline).findings[0].accepted

    assert accepted(found) == "baseline b.json"
    target.write_bytes(b"changed again\n")
    assert accepted(found) is None
    target.write_bytes(b"changed\n")
    assert accepted(dataclasses.replace(found, version="1.6.0")) is None
    assert accepted(dataclasses.replace(found, code="size-mismatch")) is None


def _report(f: Finding) -> Report:
    from verify_env.target.model import resolve_target

    return Report(resolve_target(), ("record",), (f,), (), Summary(1, 1, 0, 0.0))


def test_baseline_entry_lines(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(
        '{"schema": 1,\n "accepted": [\n  {"check": "record", "code": "missing-file",'
        ' "distribution": "x", "message": "m"},\n\n  {"check": 1}\n]}\n'
    )
    with pytest.raises(UsageError, match=r"^b.json:5: accepted\[1\]: 'check' must be a string"):
        Baseline.read(str(path), "b.json")


def test_key_lines() -> None:
    text = (
        '[project]\nname = "x"\njobs = 1\n\n[tool.verify-env]\n# c\n"jobs" = 2\n'
        '[tool.verify-env.pipv]\non-error = "warn"\n'
    )
    assert _line_of(text, "jobs", "tool.verify-env") == 7
    assert _line_of(text, "on-error", "tool.verify-env.pipv") == 9
    assert _line_of(text, "strict", "tool.verify-env") == 5  # not written there: the header
    assert _line_of(text, "jobs", None) == 1  # top level: before the first table only
    assert _line_of("jobs = 1\n[pipv]\njobs = 2\n", "jobs", None) == 1
    assert _line_of(text, "x", "tool.other") == 1


@pytest.mark.parametrize("xdg", [None, "", "  ", "/srv/conf"])
def test_user_file_is_where_platformdirs_says(
    xdg: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    import platformdirs

    from verify_env.settings.config import user_file

    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    expected = os.path.join(
        platformdirs.user_config_dir("verify-env", appauthor=False), "config.toml"
    )
    assert user_file(os.environ) == (expected, False)


def test_paths_in_a_file_are_relative_to_it(tmp_path: Path) -> None:
    from verify_env.settings.config import load

    (tmp_path / "pyproject.toml").write_text(
        '[tool.verify-env]\noutput = "-"\nbaseline = "~/b.json"\n'
    )
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    settings = load(environ={"XDG_CONFIG_HOME": str(tmp_path / "none")}, cwd=str(sub))
    assert settings.output == "-"  # stdout, wherever the file is
    assert settings.baseline == str(Path("~/b.json").expanduser())
    (tmp_path / "pyproject.toml").write_text('[tool.verify-env]\noutput = "r/x.json"\n')
    assert load(environ={"XDG_CONFIG_HOME": str(tmp_path / "none")}, cwd=str(sub)).output == str(
        tmp_path / "r" / "x.json"
    )
