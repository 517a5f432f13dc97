"""``verify-env --explain CODE`` through the real CLI: every code of the contract is explained
(meaning, severity, why, fix) from `CODES`, exit 0; an unknown code is a usage error listing
the known ones, exit 2."""

from __future__ import annotations

import re

import pytest

from tests.support.envs import run_cli
from verify_env.finding import CODES

# The codes table of DESIGN.md (add, never rename): each must stay explained.
DESIGN_CODES = {
    "tag-mismatch",
    "extension-suffix",
    "elf-arch",
    "libc-mismatch",
    "hash-mismatch",
    "size-mismatch",
    "missing-file",
    "record-missing",
    "record-malformed",
    "unrecorded-extension",
    "duplicate-distribution",
    "clobbered-file",
    "missing-library",
    "undefined-symbol",
    "blas-missing",
    "blas-symbols",
    "blas-interface",
    "blas-probe",
    "requirement-missing",
    "requirement-conflict",
    "numpy-abi",
    "import-error",
    "foreign-site-packages",
    "shadowed-module",
}


def test_every_design_code_is_in_the_table() -> None:
    assert set(CODES) >= DESIGN_CODES


@pytest.mark.parametrize("name", sorted(CODES))
def test_every_code_has_its_why_and_fix(name: str) -> None:
    code = CODES[name]
    assert code.meaning and code.why and code.fix, name
    # one line each for SARIF's shortDescription and the docs table
    assert "\n" not in code.meaning + code.severity_note + code.detail


@pytest.mark.parametrize("name", sorted(CODES))
def test_explain_through_the_cli(name: str) -> None:
    run = run_cli("--explain", name)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    code = CODES[name]
    assert out.splitlines()[0] == name
    flat = re.sub(r"\s+", " ", out)
    assert code.meaning[1:] in flat
    assert f"Severity: {code.severity}" in flat
    assert re.sub(r"\s+", " ", code.why) in flat
    assert re.sub(r"\s+", " ", code.fix) in flat
    assert f"--checks {code.check}" in flat
    assert run.stderr == ""


def test_explain_is_case_and_space_tolerant() -> None:
    run = run_cli("--explain", " Hash-Mismatch ")
    assert run.returncode == 0 and run.stdout.startswith("hash-mismatch\n")


def test_unknown_code_exits_2_listing_the_codes() -> None:
    run = run_cli("--explain", "hash-mismatches")
    assert run.returncode == 2
    assert run.stdout == ""
    assert "'hash-mismatches': not a finding code" in run.stderr
    for name in CODES:
        assert name in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_explain_needs_no_environment() -> None:
    """--explain answers before any target is probed: a --python that does not exist is
    never looked at."""
    run = run_cli("--explain", "numpy-abi", "--python", "/nonexistent/python")
    assert run.returncode == 0 and run.stdout.startswith("numpy-abi\n")


def test_explain_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    from verify_env.commands.explain import explain

    assert explain("missing-file") == 0
    assert capsys.readouterr().out.startswith("missing-file\n")
    assert explain("nope") == 2
    assert "known codes: " in capsys.readouterr().err


def test_codes_table_has_a_row_per_code() -> None:
    from verify_env.commands.explain import codes_table

    rows = codes_table().splitlines()[2:]
    assert [row.split(" | ")[1].strip("`") for row in rows] == list(CODES)
