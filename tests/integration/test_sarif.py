"""``--format sarif`` through the real CLI, validated against the OASIS SARIF 2.1.0 schema shipped
in tests/data: a clean env, the acceptance-style damaged env, an accepted finding (a
suppression) and a file name that is not UTF-8."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import jsonschema
import pytest

from tests.support.damage import (
    CP312_EXTENSION,
    DELETED,
    FLIPPED,
    TRUNCATED,
    damage_numpy_env,
)
from tests.support.envs import run_cli, site_packages
from verify_env.finding import CODES, Finding, Severity
from verify_env.render import OutputFormat, render
from verify_env.report import Report, Summary
from verify_env.target.model import resolve_target

SCHEMA = Path(__file__).resolve().parent.parent / "data" / "sarif-schema-2.1.0.json"


def validate(log: dict[str, Any]) -> None:
    """Schema-valid, plus what GitHub code scanning needs beyond the schema."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(log)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "verify-env" and driver["version"]
    assert [r["id"] for r in driver["rules"]] == list(CODES)
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        (loc,) = result["locations"]
        uri = loc["physicalLocation"]["artifactLocation"]["uri"]
        assert urlparse(uri).scheme == "file" and unquote(urlparse(uri).path).startswith("/")
        assert loc["physicalLocation"]["region"]["startLine"] >= 1
        assert result["partialFingerprints"]


def sarif_of(env: Path, tmp_path: Path, cache_dir: Path) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "verify-env.sarif"
    run = run_cli(
        "--python",
        str(env / "bin" / "python"),
        "--format",
        "sarif",
        "-o",
        str(out),
        cache_dir=cache_dir,
    )
    assert run.stdout == ""
    log = json.loads(out.read_text(encoding="utf-8"))
    validate(log)
    return run.returncode, log


def test_rules_come_from_the_codes_table() -> None:
    from verify_env.render.sarif import rule

    for name, code in CODES.items():
        r = rule(code)
        assert r["id"] == name
        assert r["shortDescription"]["text"] == code.meaning
        assert code.why in r["fullDescription"]["text"] and code.fix in r["help"]["text"]
        assert (
            r["defaultConfiguration"]["level"]
            == {"error": "error", "warning": "warning"}[code.severity]
        )


def test_clean_env_is_valid_and_has_no_results(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    status, log = sarif_of(bare_venv, tmp_path, cache_dir)
    assert status == 0
    (run,) = log["runs"]
    assert run["results"] == []
    assert run["properties"]["summary"]["errors"] == 0
    assert run["properties"]["environment"]["prefix"] == str(bare_venv)


def test_damaged_env_results_point_at_the_files(
    numpy_env: Path, tmp_path: Path, cache_dir: Path, old_numpy_wheel: Path, cp312_numpy_wheel: Path
) -> None:
    damage_numpy_env(numpy_env, old_numpy_wheel, cp312_numpy_wheel)
    status, log = sarif_of(numpy_env, tmp_path, cache_dir)
    assert status == 1
    results = log["runs"][0]["results"]
    site = site_packages(numpy_env)

    def one(code: str, rel: str) -> dict[str, Any]:
        # (numpy 1.26.4's leftover RECORD is judged too: its own findings name 1.26.4)
        found = [
            r
            for r in results
            if r["ruleId"] == code
            and r["properties"]["version"] == "2.2.6"
            and r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            == (site / rel).as_uri()
        ]
        assert len(found) == 1, (code, rel, [r["ruleId"] for r in results])
        result: dict[str, Any] = found[0]
        return result

    flipped = one("hash-mismatch", FLIPPED)
    assert flipped["level"] == "error"
    assert flipped["message"]["text"].startswith("numpy 2.2.6: ")
    fix = f"{numpy_env / 'bin/python'} -m pip install --force-reinstall --no-deps numpy==2.2.6"
    assert f"Fix: {fix}" in flipped["message"]["text"]
    assert flipped["properties"] == {
        "check": "record",
        "distribution": "numpy",
        "version": "2.2.6",
        "installer": "pip",
        "path": FLIPPED,
        "hint": fix,
    }
    assert one("size-mismatch", TRUNCATED)["level"] == "error"
    assert one("missing-file", DELETED)["level"] == "error"
    assert {r["ruleId"] for r in results} >= {
        "hash-mismatch",
        "size-mismatch",
        "missing-file",
        "duplicate-distribution",
    }
    assert any(CP312_EXTENSION in r["properties"].get("path", "") for r in results)
    assert all("suppressions" not in r for r in results)
    # the same numbers as the JSON summary
    summary = log["runs"][0]["properties"]["summary"]
    assert summary["errors"] == sum(r["level"] == "error" for r in results)


def test_an_accepted_finding_is_a_suppressed_note(tmp_path: Path) -> None:
    """Built directly: the shape --ignore / --baseline give an accepted finding."""
    target = resolve_target(environ={})
    bundle = tmp_path / "certifi" / "cacert.pem"
    damaged = Finding(
        check="record",
        code="hash-mismatch",
        severity=Severity.ERROR,
        distribution="certifi",
        version="2025.1.31",
        installer="pip",
        path="certifi/cacert.pem",
        message="certifi/cacert.pem: sha256 differs",
        hint="pip install --force-reinstall --no-deps certifi==2025.1.31",
        location=str(bundle),
    )
    reason = "--ignore record:hash-mismatch:certifi:certifi/cacert.pem"
    accepted = dataclasses.replace(damaged, severity=Severity.INFO, accepted=reason)
    report = Report(
        target=target,
        checks=("record",),
        findings=(accepted, damaged),
        skips=(),
        summary=Summary(1, 1, 0, 0.01),
    )
    log = json.loads(render(report, OutputFormat.SARIF))
    validate(log)
    first, second = log["runs"][0]["results"]
    assert first["level"] == "note"
    assert first["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": reason}
    ]
    assert "suppressions" not in second and second["level"] == "error"
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == bundle.as_uri()
    assert first["partialFingerprints"] == second["partialFingerprints"]


@pytest.mark.parametrize("name", ["bad\udcff.so", "sp ace#%.so"])
def test_awkward_file_names_are_percent_encoded(tmp_path: Path, name: str) -> None:
    target = resolve_target(environ={})
    location = f"{tmp_path}/pkg/{name}"
    finding = Finding(
        check="record",
        code="unrecorded-extension",
        severity=Severity.WARNING,
        distribution="pkg",
        version="1",
        installer="pip",
        path=f"pkg/{name}",
        message=f"pkg/{name}: no installer owns it",
        location=location,
    )
    environment = Finding(
        check="paths",
        code="foreign-site-packages",
        severity=Severity.ERROR,
        distribution=None,
        version=None,
        installer=None,
        path=None,
        message="sys.path holds /usr/lib/python3.12/site-packages",
    )
    report = Report(
        target=target,
        checks=("record", "paths"),
        findings=(finding, environment),
        skips=(),
        summary=Summary(1, 1, 0, 0.01),
    )
    text = render(report, OutputFormat.SARIF)
    text.encode("utf-8")
    log = json.loads(text)
    validate(log)
    file_result, env_result = log["runs"][0]["results"]
    uri = file_result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert " " not in uri and "#" not in urlparse(uri).path
    assert unquote(urlparse(uri).path, errors="surrogateescape") == location
    # a finding about the environment itself points at its interpreter
    env_uri = env_result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert env_uri == Path(str(target.executable)).absolute().as_uri()


def test_ignore_through_the_cli_is_a_suppression(
    numpy_env: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """``--ignore`` accepts the finding: a suppressed note, and the run passes."""
    (site_packages(numpy_env) / DELETED).unlink()
    out = tmp_path / "verify-env.sarif"
    rule = f"record:missing-file:numpy:{DELETED}"
    run = run_cli(
        "--python",
        str(numpy_env / "bin" / "python"),
        "--format",
        "sarif",
        "-o",
        str(out),
        "--ignore",
        rule,
        cache_dir=cache_dir,
    )
    assert run.returncode == 0, run.stderr
    log = json.loads(out.read_text(encoding="utf-8"))
    validate(log)
    (result,) = log["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == ("missing-file", "note")
    (suppression,) = result["suppressions"]
    assert suppression["kind"] == "external" and rule in suppression["justification"]


def test_conda_verify_sarif(
    numpy_env: Path,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``conda verify --format sarif`` through the plugin's own (conda-free) module."""
    import argparse

    from verify_env_conda import verify_cmd

    monkeypatch.setenv("VERIFY_ENV_CACHE_DIR", str(cache_dir))
    (site_packages(numpy_env) / DELETED).unlink()
    parser = argparse.ArgumentParser(prog="conda verify")
    verify_cmd.configure_parser(parser)
    status = verify_cmd.execute(
        parser.parse_args(["-p", str(numpy_env), "--format", "sarif"]),
        locate_name=lambda n: n,
        default_prefix=lambda: "/nonexistent",
    )
    assert status == 1
    log = json.loads(capsys.readouterr().out)
    validate(log)
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["missing-file"]
