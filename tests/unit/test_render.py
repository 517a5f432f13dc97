"""verify_env.render: every output format renders a real report, the JSON keeps the contract,
JUnit is well-formed XML, text ends with the verdict, and hostile file names come out escaped."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from verify_env.finding import Finding, Severity, Skip
from verify_env.inventory.dist_info import read_metadata_dir
from verify_env.render import OutputFormat, render, safe_text
from verify_env.report import EXIT_ERRORS, EXIT_OK, Report, Summary
from verify_env.target.model import Target, resolve_target

BAD_NAME = "numpy/_core/bad\udcff.so"  # a file name holding the undecodable byte 0xff
CONTROL_MESSAGE = "file name holds a control character: evil\x1b[31mred\x07.so"

ENVIRONMENT_KEYS = {"python", "prefix", "version", "platform", "libc"}
SUMMARY_KEYS = {"distributions", "files", "bytes_hashed", "seconds", "errors", "warnings"}
FINDING_KEYS = {
    "check",
    "code",
    "severity",
    "distribution",
    "version",
    "installer",
    "path",
    "message",
    "hint",
}


@pytest.fixture(scope="module")
def target() -> Target:
    """The running interpreter, as the CLI would describe it (no VIRTUAL_ENV redirect)."""
    return resolve_target(environ={})


def error_finding() -> Finding:
    return Finding(
        check="record",
        code="hash-mismatch",
        severity=Severity.ERROR,
        distribution="numpy",
        version="2.2.6",
        installer="pip",
        path=BAD_NAME,
        message=f"{BAD_NAME}: sha256 differs from RECORD",
        hint="pip install --force-reinstall --no-deps numpy==2.2.6",
    )


def warning_finding() -> Finding:
    return Finding(
        check="record",
        code="record-missing",
        severity=Severity.WARNING,
        distribution="oldlib",
        version="1.0",
        installer="unknown",
        path="oldlib-1.0.dist-info/RECORD",
        message=CONTROL_MESSAGE,
        hint=None,
    )


def environment_finding() -> Finding:
    return Finding(
        check="tags",
        code="extension-suffix",
        severity=Severity.ERROR,
        distribution=None,
        version=None,
        installer=None,
        path=None,
        message="stray\x00module",
        hint=None,
    )


def make_report(
    target: Target, findings: tuple[Finding, ...], skips: tuple[Skip, ...] = ()
) -> Report:
    return Report(
        target=target,
        checks=("record", "tags"),
        findings=findings,
        skips=skips,
        summary=Summary(distributions=3, files=120, bytes_hashed=5_300_000, seconds=0.42),
        notes=("ignoring unreadable stat cache /c/x.bin: bad\udcfe",),
    )


@pytest.fixture
def mixed(target: Target) -> Report:
    return make_report(
        target,
        (error_finding(), warning_finding(), environment_finding()),
        skips=(Skip("tags", "numpy", BAD_NAME, "not an ELF file: \udcff"),),
    )


@pytest.fixture
def warnings_only(target: Target) -> Report:
    return make_report(target, (warning_finding(),))


@pytest.fixture
def clean(target: Target) -> Report:
    return make_report(target, ())


def test_the_target_is_the_running_interpreter(target: Target) -> None:
    import sys

    assert target.version == tuple(sys.version_info[:3])
    assert target.executable is not None


@pytest.mark.parametrize("fmt", list(OutputFormat))
@pytest.mark.parametrize("strict", [False, True])
def test_every_format_renders_every_report(
    mixed: Report, warnings_only: Report, clean: Report, fmt: OutputFormat, strict: bool
) -> None:
    for report in (mixed, warnings_only, clean):
        out = render(report, fmt, strict=strict, verbose=True, color=False)
        assert isinstance(out, str)
        assert out.endswith("\n")
        out.encode("utf-8")  # strict: no lone surrogate may survive
        assert "\udcff" not in out
        assert "\x1b" not in out and "\x00" not in out and "\x07" not in out


def test_every_format_has_a_distinct_value() -> None:
    values = [str(f) for f in OutputFormat]
    assert len(values) == len(set(values))
    for fmt in OutputFormat:
        assert OutputFormat(str(fmt)) is fmt


# --------------------------------------------------------------------------------------------
# JSON: the contract of DESIGN.md
# --------------------------------------------------------------------------------------------


def as_json(report: Report) -> dict[str, Any]:
    data = json.loads(render(report, OutputFormat.JSON))
    assert isinstance(data, dict)
    return data


def test_json_contract(mixed: Report, target: Target) -> None:
    data = as_json(mixed)
    assert data["schema"] == 1
    assert data["environment"].keys() >= ENVIRONMENT_KEYS
    assert data["summary"].keys() >= SUMMARY_KEYS
    env = data["environment"]
    assert env["python"] == target.executable
    assert env["prefix"] == target.prefix
    assert env["version"] == ".".join(map(str, target.version or ()))
    assert target.platform in env["platform"]
    if target.libc:
        assert env["libc"].startswith(target.libc)
    assert data["summary"] == {
        **data["summary"],
        "distributions": 3,
        "files": 120,
        "bytes_hashed": 5_300_000,
        "seconds": 0.42,
        "errors": 2,
        "warnings": 1,
    }
    assert len(data["findings"]) == 3
    for item in data["findings"]:
        assert item.keys() >= FINDING_KEYS
    first = data["findings"][0]
    assert {
        k: first[k]
        for k in ("check", "code", "severity", "distribution", "version", "installer", "hint")
    } == {
        "check": "record",
        "code": "hash-mismatch",
        "severity": "error",
        "distribution": "numpy",
        "version": "2.2.6",
        "installer": "pip",
        "hint": "pip install --force-reinstall --no-deps numpy==2.2.6",
    }
    assert data["findings"][1]["severity"] == "warning"
    assert data["findings"][2]["distribution"] is None
    assert data["findings"][2]["path"] is None


def test_json_escapes_undecodable_bytes_and_controls(mixed: Report) -> None:
    text = render(mixed, OutputFormat.JSON)
    text.encode("utf-8")
    data = as_json(mixed)
    path = data["findings"][0]["path"]
    assert path == "numpy/_core/bad\\udcff.so"  # visible, and distinct from any real name
    assert "\\udcff" in data["findings"][0]["message"]
    assert "\x1b" not in data["findings"][1]["message"]
    assert "\\x1b" in data["findings"][1]["message"]
    assert "\\x00" in data["findings"][2]["message"]


def test_json_of_a_clean_report(clean: Report) -> None:
    data = as_json(clean)
    assert data["findings"] == []
    assert (data["summary"]["errors"], data["summary"]["warnings"]) == (0, 0)


# --------------------------------------------------------------------------------------------
# JUnit
# --------------------------------------------------------------------------------------------


def test_junit_is_xml_with_a_failure_for_the_error(mixed: Report) -> None:
    root = ET.fromstring(render(mixed, OutputFormat.JUNIT).encode("utf-8"))
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"verify-env.record", "verify-env.tags"}
    numpy_case = next(
        c for c in suites["verify-env.record"].iter("testcase") if c.get("name") == "numpy"
    )
    failure = numpy_case.find("failure")
    assert failure is not None
    assert failure.get("type") == "hash-mismatch"
    assert "bad\\udcff.so" in (failure.text or "")
    assert "pip install --force-reinstall --no-deps numpy==2.2.6" in (failure.text or "")
    # the warning is shown, not failed
    old_case = next(
        c for c in suites["verify-env.record"].iter("testcase") if c.get("name") == "oldlib"
    )
    assert old_case.find("failure") is None
    out = old_case.find("system-out")
    assert out is not None and "record-missing" in (out.text or "")
    assert int(root.get("failures") or 0) >= 1


def test_junit_of_a_clean_report_has_no_failure(clean: Report) -> None:
    root = ET.fromstring(render(clean, OutputFormat.JUNIT).encode("utf-8"))
    assert list(root.iter("failure")) == []
    assert root.get("failures") == "0"


def test_junit_warnings_only_has_no_failure(warnings_only: Report) -> None:
    root = ET.fromstring(render(warnings_only, OutputFormat.JUNIT).encode("utf-8"))
    assert list(root.iter("failure")) == []


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


def test_text_groups_by_distribution_and_ends_failed(mixed: Report) -> None:
    out = render(mixed, OutputFormat.TEXT)
    lines = out.splitlines()
    assert lines[-1].startswith("FAILED:")
    assert "2 errors, 1 warning" in lines[-1]
    assert "numpy 2.2.6 (pip)" in lines
    assert "oldlib 1.0 (unknown)" in lines
    assert "(environment)" in lines
    numpy_at = lines.index("numpy 2.2.6 (pip)")
    assert "hash-mismatch" in lines[numpy_at + 1]
    assert "bad\\udcff.so" in lines[numpy_at + 1]
    assert any(
        "pip install --force-reinstall --no-deps numpy==2.2.6" in line
        for line in lines[numpy_at + 1 : numpy_at + 4]
    )
    assert "\\x1b" in out


def test_text_warnings_only(warnings_only: Report) -> None:
    assert render(warnings_only, OutputFormat.TEXT).splitlines()[-1].startswith("OK:")
    assert (
        render(warnings_only, OutputFormat.TEXT, strict=True).splitlines()[-1].startswith("FAILED:")
    )


def test_text_clean(clean: Report) -> None:
    for strict in (False, True):
        last = render(clean, OutputFormat.TEXT, strict=strict).splitlines()[-1]
        assert last.startswith("OK:")
        assert "0 errors, 0 warnings" in last


def test_text_color_only_when_asked(mixed: Report) -> None:
    assert "\033[31m" in render(mixed, OutputFormat.TEXT, color=True)
    assert "\033[" not in render(mixed, OutputFormat.TEXT, color=False)


def test_text_shows_skips_only_when_verbose(mixed: Report) -> None:
    # mixed's only skip is a file a finding already reports: one problem, not also unjudged
    assert "not judged" not in render(mixed, OutputFormat.TEXT, verbose=True)
    other = Skip("linkage", "numpy", "numpy/other.so", "not an ELF file: \udcff")
    more = dataclasses.replace(mixed, skips=(*mixed.skips, other))
    out = render(more, OutputFormat.TEXT)
    assert "not judged:" not in out and "1 not judged (--verbose)" in out
    verbose = render(more, OutputFormat.TEXT, verbose=True)
    assert "not judged:" in verbose and "1 not judged —" in verbose
    assert verbose.count("not an ELF file: \\udcff") == 1


def test_text_cuts_long_runs_of_one_code(target: Target) -> None:
    many = tuple(
        Finding(
            "record",
            "missing-file",
            Severity.ERROR,
            "big",
            "1.0",
            "pip",
            f"big/m{i}.py",
            f"big/m{i}.py is missing",
            "pip install --force-reinstall --no-deps big==1.0",
        )
        for i in range(30)
    )
    out = render(make_report(target, many), OutputFormat.TEXT)
    assert "big/m0.py" in out
    assert "big/m29.py" not in out
    assert "more missing-file" in out
    assert out.count("pip install --force-reinstall --no-deps big==1.0") == 1
    # ... while the JSON keeps them all
    assert len(json.loads(render(make_report(target, many), OutputFormat.JSON))["findings"]) == 30


# --------------------------------------------------------------------------------------------
# Exit status
# --------------------------------------------------------------------------------------------


def test_exit_status(mixed: Report, warnings_only: Report, clean: Report) -> None:
    assert (mixed.errors, mixed.warnings) == (2, 1)
    assert mixed.exit_status() == EXIT_ERRORS == 1
    assert mixed.exit_status(strict=True) == EXIT_ERRORS
    assert warnings_only.exit_status() == EXIT_OK == 0
    assert warnings_only.exit_status(strict=True) == EXIT_ERRORS
    assert clean.exit_status() == EXIT_OK
    assert clean.exit_status(strict=True) == EXIT_OK


def test_info_findings_never_fail(target: Target) -> None:
    info = Finding("record", "hash-mismatch", Severity.INFO, "x", "1", "pip", "x.py", "fyi")
    report = make_report(target, (info,))
    assert (report.errors, report.warnings) == (0, 0)
    assert report.exit_status(strict=True) == EXIT_OK
    assert render(report, OutputFormat.TEXT, strict=True).splitlines()[-1].startswith("OK:")


# --------------------------------------------------------------------------------------------
# safe_text
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain.so", "plain.so"),
        ("bad\udcff.so", "bad\\udcff.so"),
        ("a\x1bb", "a\\x1bb"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("\u00e9t\u00e9", "\u00e9t\u00e9"),
    ],
)
def test_safe_text(raw: str, shown: str) -> None:
    assert safe_text(raw) == shown
    safe_text(raw).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Hostile metadata, read from real files: every string a renderer prints must come out escaped
# --------------------------------------------------------------------------------------------


def hostile_report(target: Target, site: Path) -> Report:
    """Findings and a skip built the way the checks build them, from a dist-info whose
    METADATA and INSTALLER hold an undecodable byte and terminal escape sequences."""
    meta = site / "evil-1.0.dist-info"
    meta.mkdir(parents=True)
    (meta / "METADATA").write_bytes(b"Name: evil\xffpkg\x1b[2J\nVersion: 1.0\x07\n")
    (meta / "INSTALLER").write_bytes(b"pip\xff\x1b[2J\n")
    (meta / "RECORD").write_bytes(b"evil/bad\xff.so,,\n")
    dist = read_metadata_dir(str(site), meta.name)
    (recorded,) = dist.files
    finding = Finding(
        "record",
        "missing-file",
        Severity.ERROR,
        dist.name,
        dist.version,
        dist.installer,
        recorded.path,
        f"{recorded.path} is missing",
        dist.hint,
    )
    skip = Skip("tags", dist.name, recorded.path, "not an ELF file")
    return make_report(target, (finding,), skips=(skip,))


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_hostile_metadata_comes_out_escaped(
    target: Target, tmp_path: Path, fmt: OutputFormat
) -> None:
    report = hostile_report(target, tmp_path / "site-packages")
    out = render(report, fmt, strict=True, verbose=True)
    out.encode("utf-8")  # raises on a lone surrogate: the report could not be written
    assert "\x1b" not in out  # a raw ESC would drive the user's terminal
    assert "\x07" not in out
