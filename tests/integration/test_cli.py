"""The command line as users and CI meet it: usage errors, output formats and files, the
verdict and its options, which environment is verified by default, and that it is never
written."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import env_snapshot
from tests.support.envs import CliRun, break_link, clone_env, run_cli, site_packages
from verify_env import __version__

UMATH = "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"


def _python(env: Path) -> str:
    return str(env / "bin" / "python")


def _flip_byte(env: Path, rel: str = UMATH) -> Path:
    target = break_link(site_packages(env) / rel)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    return target


def _assert_usage_error(run: CliRun) -> None:
    """Exit 2 and either one ``verify-env:`` line or argparse's usage block + one error line."""
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert lines, "no message on stderr"
    if lines[0].startswith("usage:"):
        assert lines[-1].startswith("verify-env: error:"), run.stderr
        assert sum(1 for line in lines if "error" in line) == 1, run.stderr
    else:
        assert len(lines) == 1, run.stderr
        assert lines[0].startswith("verify-env:"), run.stderr


# --- usage errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--checks", "bogus"),
        ("--checks", "tags,bogus"),
        ("--checks", ","),
        ("--jobs", "0"),
        ("--jobs", "many"),
        ("--format", "yaml"),
    ],
    ids=lambda a: " ".join(a),
)
def test_bad_option_value_is_a_usage_error(
    args: tuple[str, ...], bare_venv: Path, cache_dir: Path
) -> None:
    _assert_usage_error(
        run_cli("--python", _python(bare_venv), *args, cache_dir=cache_dir, timeout=120)
    )


def test_missing_interpreter(cache_dir: Path) -> None:
    run = run_cli("--python", "/nonexistent/python", cache_dir=cache_dir, timeout=120)
    _assert_usage_error(run)
    assert "/nonexistent/python" in run.stderr


def test_interpreter_that_is_not_executable(tmp_path: Path, cache_dir: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(0o644)
    run = run_cli("--python", str(fake), cache_dir=cache_dir, timeout=120)
    _assert_usage_error(run)
    assert str(fake) in run.stderr


@pytest.mark.parametrize("program", ["/bin/false", "/bin/echo"])
def test_interpreter_that_is_not_python(program: str, cache_dir: Path) -> None:
    run = run_cli("--python", program, cache_dir=cache_dir, timeout=120)
    _assert_usage_error(run)
    assert program in run.stderr


def test_interpreter_that_is_a_directory(tmp_path: Path, cache_dir: Path) -> None:
    _assert_usage_error(run_cli("--python", str(tmp_path), cache_dir=cache_dir, timeout=120))


def test_missing_prefix(cache_dir: Path) -> None:
    run = run_cli("--prefix", "/nonexistent", cache_dir=cache_dir, timeout=120)
    _assert_usage_error(run)
    assert "/nonexistent" in run.stderr


def test_prefix_without_python_or_conda_meta(tmp_path: Path, cache_dir: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    run = run_cli("--prefix", str(empty), cache_dir=cache_dir, timeout=120)
    _assert_usage_error(run)
    assert str(empty) in run.stderr


def test_python_and_prefix_together(bare_venv: Path, cache_dir: Path) -> None:
    _assert_usage_error(
        run_cli(
            "--python",
            _python(bare_venv),
            "--prefix",
            str(bare_venv),
            cache_dir=cache_dir,
            timeout=120,
        )
    )


@pytest.mark.parametrize(
    "name,value",
    [
        ("VERIFY_ENV_FORMAT", "bogus"),
        ("VERIFY_ENV_JOBS", "x"),
        ("VERIFY_ENV_JOBS", "0"),
        ("VERIFY_ENV_STRICT", "maybe"),
        ("VERIFY_ENV_NO_CACHE", "perhaps"),
        ("VERIFY_ENV_CHECKS", "bogus"),
    ],
    ids=lambda v: str(v),
)
def test_bad_env_twin_is_a_usage_error(
    name: str, value: str, bare_venv: Path, cache_dir: Path
) -> None:
    run = run_cli(
        "--python", _python(bare_venv), env={name: value}, cache_dir=cache_dir, timeout=120
    )
    _assert_usage_error(run)
    assert name in run.stderr or value in run.stderr


def test_version(cache_dir: Path) -> None:
    run = run_cli("--version", cache_dir=cache_dir, timeout=120)
    assert run.returncode == 0
    assert run.stdout == f"verify-env {__version__}\n"
    assert re.fullmatch(r"verify-env \d+\.\d+\.\d+\S*\n", run.stdout)
    assert not cache_dir.exists()


# --- output files and formats -----------------------------------------------------------------


def test_output_file_holds_the_report_atomically(
    numpy_env: Path, cache_dir: Path, tmp_path: Path
) -> None:
    _flip_byte(numpy_env)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "report.json"
    run = run_cli(
        "--python",
        _python(numpy_env),
        "--format",
        "json",
        "-o",
        str(out),
        cache_dir=cache_dir,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr
    assert run.stdout == ""
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["schema"] == 1
    assert report["summary"]["errors"] >= 1
    assert any(f["code"] == "hash-mismatch" and f["path"] == UMATH for f in report["findings"])
    assert sorted(p.name for p in out_dir.iterdir()) == ["report.json"]


def test_output_file_replaces_an_existing_one(
    bare_venv: Path, cache_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "report.txt"
    out.write_text("old contents that are much longer than nothing\n" * 100)
    run = run_cli(
        "--python", _python(bare_venv), "--output", str(out), cache_dir=cache_dir, timeout=120
    )
    assert run.returncode == 0
    assert run.stdout == ""
    text = out.read_text(encoding="utf-8")
    assert "old contents" not in text
    assert text.splitlines()[-1].startswith("OK:")
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.txt"]


def test_output_env_twin(bare_venv: Path, cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    run = run_cli(
        "--python",
        _python(bare_venv),
        "--format",
        "json",
        env={"VERIFY_ENV_OUTPUT": str(out)},
        cache_dir=cache_dir,
        timeout=120,
    )
    assert run.returncode == 0
    assert run.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8"))["schema"] == 1


def test_output_dash_is_stdout(bare_venv: Path, cache_dir: Path) -> None:
    run = run_cli(
        "--python",
        _python(bare_venv),
        "--format",
        "json",
        "-o",
        "-",
        cache_dir=cache_dir,
        timeout=120,
    )
    assert run.returncode == 0
    assert run.report["schema"] == 1


def test_output_into_missing_directory_is_a_usage_error(
    bare_venv: Path, cache_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "no-such-dir" / "report.json"
    run = run_cli("--python", _python(bare_venv), "-o", str(out), cache_dir=cache_dir, timeout=120)
    _assert_usage_error(run)
    assert str(out) in run.stderr
    assert not out.parent.exists()


def test_output_onto_a_directory_is_a_usage_error(
    bare_venv: Path, cache_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    run = run_cli("--python", _python(bare_venv), "-o", str(out), cache_dir=cache_dir, timeout=120)
    _assert_usage_error(run)
    assert list(out.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == [
        "cache",
        "out",
    ]


def test_output_file_gets_ordinary_permissions(
    bare_venv: Path, cache_dir: Path, tmp_path: Path
) -> None:
    """A report is an artifact for CI to upload or another user to read: created like any
    file the user writes (0666 less the umask), and an existing file keeps its mode. Writing
    it atomically through a private temp file must not leave it 0600."""
    (tmp_path / "out").mkdir()
    new = tmp_path / "out" / "new.xml"
    existing = tmp_path / "out" / "existing.xml"
    existing.write_text("old\n")
    existing.chmod(0o644)
    old_umask = os.umask(0o022)
    try:
        for out in (new, existing):
            run = run_cli(
                "--python",
                _python(bare_venv),
                "--format",
                "junit",
                "-o",
                str(out),
                cache_dir=cache_dir,
                timeout=120,
            )
            assert run.returncode == 0, run.stderr
    finally:
        os.umask(old_umask)
    ET.fromstring(new.read_text(encoding="utf-8"))
    modes = {out.name: oct(out.stat().st_mode & 0o777) for out in (new, existing)}
    assert modes == {"new.xml": "0o644", "existing.xml": "0o644"}


def test_junit_names_the_failure(numpy_env: Path, cache_dir: Path) -> None:
    _flip_byte(numpy_env)
    run = run_cli(
        "--python", _python(numpy_env), "--format", "junit", cache_dir=cache_dir, timeout=120
    )
    assert run.returncode == 1
    root = ET.fromstring(run.stdout)
    failing = {
        case.get("name"): case.find("failure")
        for case in root.iter("testcase")
        if case.find("failure") is not None
    }
    assert "numpy" in failing, run.stdout
    failure = failing["numpy"]
    assert failure is not None
    text = (failure.text or "") + (failure.get("type") or "")
    assert "hash-mismatch" in text and UMATH in text


def test_junit_on_a_clean_env_has_no_failure(numpy_env: Path, cache_dir: Path) -> None:
    run = run_cli(
        "--python", _python(numpy_env), "--format", "junit", cache_dir=cache_dir, timeout=120
    )
    assert run.returncode == 0
    root = ET.fromstring(run.stdout)
    assert list(root.iter("testcase"))
    assert list(root.iter("failure")) == []


def test_text_report_of_a_broken_env(numpy_env: Path, cache_dir: Path) -> None:
    _flip_byte(numpy_env)
    run = run_cli(
        "--python", _python(numpy_env), "--format", "text", cache_dir=cache_dir, timeout=120
    )
    assert run.returncode == 1
    assert UMATH in run.stdout
    assert "hash-mismatch" in run.stdout
    assert "pip install --force-reinstall --no-deps numpy==" in run.stdout
    assert run.stdout.endswith("\n")
    assert run.stdout.splitlines()[-1].startswith("FAILED:")
    assert "\033[" not in run.stdout  # no colour codes when stdout is not a terminal


def test_text_is_the_default_and_ends_ok_on_a_clean_env(numpy_env: Path, cache_dir: Path) -> None:
    run = run_cli("--python", _python(numpy_env), cache_dir=cache_dir, timeout=120)
    assert run.returncode == 0
    assert run.stdout.splitlines()[-1].startswith("OK:")
    text = run_cli(
        "--python",
        _python(numpy_env),
        env={"VERIFY_ENV_FORMAT": "text"},
        cache_dir=cache_dir,
        timeout=120,
    )
    assert text.stdout.splitlines()[-1].startswith("OK:")


@pytest.mark.parametrize("encoding", ["latin-1", "ascii"])
def test_text_report_on_a_stdout_that_is_not_utf8(
    encoding: str, numpy_env: Path, cache_dir: Path
) -> None:
    """A legacy locale (ISO-8859-1) or PYTHONIOENCODING: the report is still written, and the
    verdict is the environment's, not a UnicodeEncodeError's exit status 1."""
    run = run_cli(
        "--python",
        _python(numpy_env),
        env={"PYTHONIOENCODING": encoding},
        cache_dir=cache_dir,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1].startswith("OK:")


def test_stdout_closed_by_the_reader(numpy_env: Path, cache_dir: Path) -> None:
    """``verify-env --format json | head -c0``: the reader is gone before the report is
    written. Whatever verify-env does then, it is not a traceback, and not exit status 1,
    which would claim error findings in this clean environment."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "CONDA_PREFIX") and not k.startswith("VERIFY_ENV_")
    }
    environ["VERIFY_ENV_CACHE_DIR"] = str(cache_dir)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "verify_env",
                "--python",
                _python(numpy_env),
                "--format",
                "json",
            ],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=environ,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode != 1, proc.stderr
    assert len(proc.stderr.splitlines()) <= 1, proc.stderr


def test_format_env_twin(numpy_env: Path, cache_dir: Path) -> None:
    run = run_cli(
        "--python",
        _python(numpy_env),
        env={"VERIFY_ENV_FORMAT": "json"},
        cache_dir=cache_dir,
        timeout=120,
    )
    assert run.returncode == 0
    assert run.report["schema"] == 1
    flag_wins = run_cli(
        "--python",
        _python(numpy_env),
        "--format",
        "text",
        env={"VERIFY_ENV_FORMAT": "json"},
        cache_dir=cache_dir,
        timeout=120,
    )
    assert flag_wins.stdout.splitlines()[-1].startswith("OK:")


# --- which checks run, and the verdict --------------------------------------------------------


def test_checks_selects_what_runs(numpy_env: Path, cache_dir: Path) -> None:
    _flip_byte(numpy_env)
    py = _python(numpy_env)
    tags = run_cli(
        "--python", py, "--format", "json", "--checks", "tags", cache_dir=cache_dir, timeout=120
    )
    assert tags.returncode == 0, tags.stdout
    assert tags.report["checks"] == ["tags"]
    assert tags.findings == []
    every = run_cli(
        "--python", py, "--format", "json", "--checks", "all", cache_dir=cache_dir, timeout=120
    )
    assert every.returncode == 1
    assert every.find("hash-mismatch", UMATH)["check"] == "record"
    assert set(every.report["checks"]) >= {"tags", "record"}
    record = run_cli(
        "--python", py, "--format", "json", "--checks", "record", cache_dir=cache_dir, timeout=120
    )
    assert record.returncode == 1
    twin = run_cli(
        "--python",
        py,
        "--format",
        "json",
        env={"VERIFY_ENV_CHECKS": "tags"},
        cache_dir=cache_dir,
        timeout=120,
    )
    assert twin.returncode == 0
    assert twin.report["checks"] == ["tags"]
    flag_wins = run_cli(
        "--python",
        py,
        "--format",
        "json",
        "--checks",
        "record",
        env={"VERIFY_ENV_CHECKS": "tags"},
        cache_dir=cache_dir,
        timeout=120,
    )
    assert flag_wins.returncode == 1


def test_strict_fails_on_warnings(numpy_env: Path, cache_dir: Path) -> None:
    site = site_packages(numpy_env)
    shutil.copy(site / UMATH, site / "numpy/_core/_old.cpython-310-x86_64-linux-gnu.so")
    py = _python(numpy_env)
    plain = run_cli("--python", py, "--format", "json", cache_dir=cache_dir, timeout=120)
    assert plain.returncode == 0
    f = plain.find("unrecorded-extension", "_old.cpython-310-x86_64-linux-gnu.so")
    assert f["severity"] == "warning"
    assert plain.codes() == set()
    assert run_cli("--python", py, "--strict", cache_dir=cache_dir, timeout=120).returncode == 1
    for value in ("1", "true", "yes"):
        run = run_cli(
            "--python", py, env={"VERIFY_ENV_STRICT": value}, cache_dir=cache_dir, timeout=120
        )
        assert run.returncode == 1, value
        assert run.stdout.splitlines()[-1].startswith("FAILED:")
    assert (
        run_cli(
            "--python", py, env={"VERIFY_ENV_STRICT": "0"}, cache_dir=cache_dir, timeout=120
        ).returncode
        == 0
    )


# --- the default target -----------------------------------------------------------------------


@pytest.mark.parametrize("var", ["VIRTUAL_ENV", "CONDA_PREFIX"])
def test_activated_env_is_verified_by_default(var: str, numpy_env: Path, cache_dir: Path) -> None:
    _flip_byte(numpy_env)
    run = run_cli("--format", "json", env={var: str(numpy_env)}, cache_dir=cache_dir, timeout=120)
    environment = run.report["environment"]
    assert os.path.realpath(environment["prefix"]) == os.path.realpath(numpy_env)
    assert var in (environment["note"] or "")
    assert run.returncode == 1
    assert run.find("hash-mismatch", UMATH)["distribution"] == "numpy"
    assert f"verifying {numpy_env}" in run.stderr or var in run.stderr or run.stderr == ""


def test_activated_env_under_a_non_utf8_path(
    numpy_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """Every string of the JSON report is valid UTF-8, the note included: strict consumers
    (serde_json, Go) reject a lone surrogate escape such as ``\\udcff``."""
    env = clone_env(numpy_venv, tmp_path / "env\udcff")  # a directory named b"env\xff"
    run = run_cli(
        "--format", "json", env={"VIRTUAL_ENV": str(env)}, cache_dir=cache_dir, timeout=120
    )
    assert run.returncode == 0, run.stdout
    environment = run.report["environment"]
    assert "VIRTUAL_ENV" in environment["note"]
    assert "env\\udcff" in environment["prefix"] or "env\\xff" in environment["prefix"]
    not_utf8 = {
        key: value
        for key, value in environment.items()
        if isinstance(value, str) and not _encodes(value)
    }
    assert not_utf8 == {}
    assert _encodes(json.dumps(run.report, ensure_ascii=False))


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_env_reached_through_a_symlink(numpy_env: Path, tmp_path: Path, cache_dir: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(numpy_env, target_is_directory=True)
    run = run_cli("--python", _python(link), "--format", "json", cache_dir=cache_dir, timeout=120)
    assert run.returncode == 0, run.stdout
    assert run.findings == []
    by_prefix = run_cli("--prefix", str(link), "--format", "json", cache_dir=cache_dir, timeout=120)
    assert by_prefix.returncode == 0 and by_prefix.findings == []


def test_activated_env_note_in_text_header(numpy_env: Path, cache_dir: Path) -> None:
    run = run_cli(env={"VIRTUAL_ENV": str(numpy_env)}, cache_dir=cache_dir, timeout=120)
    assert run.returncode == 0
    head = run.stdout.splitlines()[:3]
    assert any(str(numpy_env) in line for line in head), head
    assert any("VIRTUAL_ENV" in line for line in head), head


# --- parallelism and read-only ----------------------------------------------------------------


def test_jobs_do_not_change_findings(numpy_env: Path, cache_dir: Path) -> None:
    site = site_packages(numpy_env)
    _flip_byte(numpy_env)
    _flip_byte(numpy_env, "numpy/__init__.py")
    (site / "numpy/_core/numeric.py").unlink()
    truncated = break_link(site / "numpy/linalg/_umath_linalg.cpython-311-x86_64-linux-gnu.so")
    with open(truncated, "r+b") as fh:
        fh.truncate(1000)
    runs = [
        run_cli(
            "--python",
            _python(numpy_env),
            "--format",
            "json",
            "--no-cache",
            "--jobs",
            jobs,
            cache_dir=cache_dir,
            timeout=120,
        )
        for jobs in ("1", "2")
    ]
    runs.append(
        run_cli(
            "--python",
            _python(numpy_env),
            "--format",
            "json",
            "--no-cache",
            env={"VERIFY_ENV_JOBS": "3"},
            cache_dir=cache_dir,
            timeout=120,
        )
    )
    assert {r.returncode for r in runs} == {1}
    assert runs[0].findings == runs[1].findings == runs[2].findings
    codes = {(f["code"], f["path"]) for f in runs[0].findings}
    assert {
        ("hash-mismatch", UMATH),
        ("hash-mismatch", "numpy/__init__.py"),
        ("missing-file", "numpy/_core/numeric.py"),
        ("size-mismatch", "numpy/linalg/_umath_linalg.cpython-311-x86_64-linux-gnu.so"),
    } <= codes
    summaries = [{k: v for k, v in r.report["summary"].items() if k != "seconds"} for r in runs]
    assert summaries[0] == summaries[1] == summaries[2]


def _pycache_dirs(root: Path) -> set[str]:
    return {dirpath for dirpath, _, _ in os.walk(root) if dirpath.endswith("__pycache__")}


def test_verified_env_is_never_written(numpy_env: Path, cache_dir: Path) -> None:
    _flip_byte(numpy_env)
    before = env_snapshot(numpy_env)
    caches = _pycache_dirs(numpy_env)
    for extra in (("--checks", "all"), ("--checks", "all", "--no-cache"), ()):
        run = run_cli(
            "--python",
            _python(numpy_env),
            "--format",
            "json",
            *extra,
            cache_dir=cache_dir,
            timeout=120,
        )
        assert run.returncode == 1
    by_env = run_cli(
        "--checks", "all", env={"VIRTUAL_ENV": str(numpy_env)}, cache_dir=cache_dir, timeout=120
    )
    assert by_env.returncode == 1
    assert env_snapshot(numpy_env) == before
    assert _pycache_dirs(numpy_env) == caches
    assert cache_dir.is_dir() and not str(cache_dir).startswith(str(numpy_env))


def test_a_removed_working_directory_is_no_internal_error(
    bare_venv: Path, cache_dir: Path, tmp_path: Path
) -> None:
    """Run from a directory deleted under the shell (a CI step after a clean-up): no project
    file can be in it, nothing shadows from it, and the run says so by its verdict alone."""
    gone = tmp_path / "gone"
    gone.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_ENV_")}
    env["VERIFY_ENV_CACHE_DIR"] = str(cache_dir)
    script = 'cd "$1" && rmdir "$1" && shift && exec "$@"'
    verify = [sys.executable, "-m", "verify_env", "--python", _python(bare_venv), "--format"]
    proc = subprocess.run(
        ["sh", "-c", script, "sh", str(gone), *verify, "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "internal error" not in proc.stderr
    assert json.loads(proc.stdout)["findings"] == []
