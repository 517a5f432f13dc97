"""schema/report-1.json is the JSON report's contract: every JSON report the front doors print
validates against it (verify-env on a clean and on the acceptance-style damaged env, with every
check; ``pipv verify``; ``conda verify`` through the plugin's own module; a report holding an
accepted finding), the schema's code and check lists are the registry's, and every output
format has its validation here (SARIF's own schema in test_sarif.py, JUnit's structure)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.support.damage import damage_numpy_env
from tests.support.envs import run_cli
from verify_env.checks import by_name
from verify_env.finding import CODES, Finding, Severity
from verify_env.render import OutputFormat, render
from verify_env.report import Report, Summary
from verify_env.target.model import resolve_target

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMA = ROOT / "schema" / "report-1.json"
SARIF_SCHEMA = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"
PIPV = str(Path(sys.executable).parent / "pipv")


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return loaded


def validate(report: object) -> None:
    jsonschema.Draft202012Validator(schema()).validate(report)


def check_junit(text: str) -> ET.Element:
    """The structure CI dashboards read: testsuites > testsuite > testcase (> failure)."""
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites" and root.get("name") == "verify-env"
    total = failures = 0
    for suite in root:
        assert suite.tag == "testsuite" and str(suite.get("name")).startswith("verify-env.")
        cases = list(suite)
        assert all(c.tag == "testcase" and c.get("classname") and c.get("name") for c in cases)
        assert int(str(suite.get("tests"))) == len(cases)
        n_fail = sum(1 for c in cases if c.find("failure") is not None)
        assert int(str(suite.get("failures"))) == n_fail and suite.get("errors") == "0"
        for failure in suite.iter("failure"):
            assert failure.get("type") and failure.get("message")
        total += len(cases)
        failures += n_fail
    assert int(str(root.get("tests"))) == total and int(str(root.get("failures"))) == failures
    return root


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())


def test_the_schema_lists_every_code_and_check() -> None:
    defs = schema()["$defs"]
    assert defs["finding"]["properties"]["code"]["enum"] == list(CODES)
    assert set(defs["finding"]["properties"]["check"]["enum"]) == set(by_name())
    assert set(schema()["properties"]["checks"]["items"]["enum"]) == set(by_name())


def test_clean_env(bare_venv: Path, cache_dir: Path) -> None:
    run = run_cli(
        "--python", str(bare_venv / "bin" / "python"), "--format", "json", cache_dir=cache_dir
    )
    assert run.returncode == 0
    validate(run.report)


def test_damaged_env_with_every_check(
    numpy_env: Path, cache_dir: Path, old_numpy_wheel: Path, cp312_numpy_wheel: Path
) -> None:
    damage_numpy_env(numpy_env, old_numpy_wheel, cp312_numpy_wheel)
    run = run_cli(
        "--python",
        str(numpy_env / "bin" / "python"),
        "--format",
        "json",
        "--checks",
        "all",
        "--import-timeout",
        "60",
        cache_dir=cache_dir,
    )
    assert run.returncode == 1
    report = run.report
    validate(report)
    assert report["summary"]["errors"] > 0 and report["skipped"] is not None
    assert {
        "hash-mismatch",
        "size-mismatch",
        "missing-file",
        "duplicate-distribution",
        "import-error",
    } <= {f["code"] for f in report["findings"]}
    # a drifted report fails: the schema is not a rubber stamp
    report["findings"][0]["severity"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        validate(report)


def test_pipv_verify(numpy_env: Path, cache_dir: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "CONDA_PREFIX") and not k.startswith("VERIFY_ENV_")
    }
    env["VERIFY_ENV_CACHE_DIR"] = str(cache_dir)
    proc = subprocess.run(
        [PIPV, "--python", str(numpy_env / "bin" / "python"), "verify", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    validate(json.loads(proc.stdout))


def test_conda_verify(
    numpy_env: Path,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`conda verify` built through the plugin's own (conda-free) module, as conda calls it."""
    from verify_env_conda import verify_cmd

    monkeypatch.setenv("VERIFY_ENV_CACHE_DIR", str(cache_dir))
    (numpy_env / "lib/python3.11/site-packages/numpy/version.py").unlink()
    parser = argparse.ArgumentParser(prog="conda verify")
    verify_cmd.configure_parser(parser)
    status = verify_cmd.execute(
        parser.parse_args(["-p", str(numpy_env), "--format", "json"]),
        locate_name=lambda n: n,
        default_prefix=lambda: "/nonexistent",
    )
    assert status == 1
    report = json.loads(capsys.readouterr().out)
    validate(report)
    assert [f["code"] for f in report["findings"]] == ["missing-file"]


def _report_with_an_accepted_finding() -> Report:
    target = resolve_target(environ={})
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
    )
    accepted = dataclasses.replace(
        damaged, severity=Severity.INFO, accepted="baseline .verify-env-baseline.json"
    )
    return Report(
        target=target,
        checks=("record",),
        findings=(accepted, damaged),
        skips=(),
        summary=Summary(1, 1, 0, 0.01),
    )


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_output_format_has_its_validation(fmt: OutputFormat) -> None:
    report = _report_with_an_accepted_finding()
    out = render(report, fmt)
    match fmt:
        case OutputFormat.JSON:
            data = json.loads(out)
            validate(data)
            assert data["summary"]["accepted"] == 1
        case OutputFormat.SARIF:
            sarif = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
            jsonschema.Draft4Validator(sarif).validate(json.loads(out))
        case OutputFormat.JUNIT:
            check_junit(out)
        case OutputFormat.TEXT:
            assert "certifi" in out and out.endswith("\n")
        case _:  # a new format must get its validation here
            raise AssertionError(f"no validation for {fmt}")


def test_junit_of_a_damaged_env(numpy_env: Path, cache_dir: Path) -> None:
    (numpy_env / "lib/python3.11/site-packages/numpy/version.py").unlink()
    run = run_cli(
        "--python", str(numpy_env / "bin" / "python"), "--format", "junit", cache_dir=cache_dir
    )
    assert run.returncode == 1
    root = check_junit(run.stdout)
    assert int(str(root.get("failures"))) >= 1
    assert any("missing-file" in (f.text or "") for f in root.iter("failure"))
