"""Accepted findings through the real CLI on a real damaged numpy venv: ``--ignore`` rules
with globs, the baseline round trip (accept, damage the same file again, damage another), and
malformed baselines as one-line usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.envs import CliRun, break_link, run_cli, site_packages

INIT = "numpy/__init__.py"
VERSION_PY = "numpy/version.py"
UMATH = "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"


def _damage(env: Path, rel: str, extra: bytes = b"\n# local change\n") -> Path:
    target = site_packages(env) / rel
    if target.stat().st_nlink > 1:
        break_link(target)
    with open(target, "ab") as fh:
        fh.write(extra)
    return target


def _run(env: Path, *args: str, cache_dir: Path, cwd: Path | None = None) -> CliRun:
    """The CLI with no user or project configuration in the way."""
    return run_cli(
        "--python",
        str(env / "bin" / "python"),
        *args,
        cache_dir=cache_dir,
        cwd=cwd,
        env={"XDG_CONFIG_HOME": str(cache_dir / "no-config")},
        timeout=180,
    )


def _one_line_error(run: CliRun, *fragments: str) -> None:
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("verify-env: "), run.stderr
    for fragment in fragments:
        assert fragment in lines[0], run.stderr


def test_baseline_round_trip(numpy_env: Path, tmp_path: Path, cache_dir: Path) -> None:
    _damage(numpy_env, INIT)
    before = _run(numpy_env, "--format", "json", cache_dir=cache_dir)
    assert before.returncode == 1
    assert before.find("size-mismatch", INIT)["severity"] == "error"

    baseline = tmp_path / "project" / ".verify-env-baseline.json"
    baseline.parent.mkdir()
    written = _run(numpy_env, "--baseline", "write", str(baseline), cache_dir=cache_dir)
    assert written.returncode == 0, written.stderr
    assert f"{baseline}: accepted 1 finding(s)" in written.stderr
    assert "(accepted: baseline" in written.stdout and "1 accepted" in written.stdout
    doc = json.loads(baseline.read_text())
    assert doc["schema"] == 1
    (entry,) = doc["accepted"]
    assert (entry["check"], entry["code"], entry["distribution"], entry["path"]) == (
        "record",
        "size-mismatch",
        "numpy",
        INIT,
    )
    assert entry["version"] == "2.2.6" and len(entry["sha256"]) == 64

    accepted = _run(numpy_env, "--baseline", str(baseline), "--format", "json", cache_dir=cache_dir)
    assert accepted.returncode == 0, accepted.stdout
    f = accepted.find("size-mismatch", INIT)
    assert f["severity"] == "info" and f["accepted"] == f"baseline {baseline}"
    assert accepted.report["summary"]["accepted"] == 1
    text = _run(numpy_env, "--baseline", str(baseline), "--strict", cache_dir=cache_dir)
    assert text.returncode == 0  # --strict does not resurrect it
    assert f"info: [record/size-mismatch] {INIT} has" in text.stdout
    assert f"(accepted: baseline {baseline})" in text.stdout
    assert text.stdout.rstrip().splitlines()[-1].startswith("OK: 0 errors, 0 warnings, 1 accepted")
    # relative to the working directory, as the user typed it
    relative = _run(
        numpy_env, "--baseline", baseline.name, cache_dir=cache_dir, cwd=baseline.parent
    )
    assert (
        relative.returncode == 0
        and "(accepted: baseline .verify-env-baseline.json)" in relative.stdout
    )

    # the same file damaged further: new, whatever its size
    _damage(numpy_env, INIT, b"# and again\n")
    again = _run(numpy_env, "--baseline", str(baseline), "--format", "json", cache_dir=cache_dir)
    assert again.returncode == 1
    assert again.find("size-mismatch", INIT)["accepted"] is None

    # write it again, then damage another file: only the new one fails
    assert (
        _run(numpy_env, "--baseline", "write", str(baseline), cache_dir=cache_dir).returncode == 0
    )
    target = break_link(site_packages(numpy_env) / UMATH)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    new = _run(numpy_env, "--baseline", str(baseline), "--format", "json", cache_dir=cache_dir)
    assert new.returncode == 1
    assert new.find("hash-mismatch", UMATH)["severity"] == "error"
    assert new.find("size-mismatch", INIT)["severity"] == "info"
    assert new.codes("error") == {("record", "hash-mismatch", "numpy")}


def test_a_missing_file_is_accepted_while_it_stays_missing(
    numpy_env: Path, tmp_path: Path, cache_dir: Path
) -> None:
    (site_packages(numpy_env) / VERSION_PY).unlink()
    baseline = tmp_path / "b.json"
    assert (
        _run(numpy_env, "--baseline", "write", str(baseline), cache_dir=cache_dir).returncode == 0
    )
    (entry,) = json.loads(baseline.read_text())["accepted"]
    assert entry["code"] == "missing-file" and entry["sha256"] is None
    assert _run(numpy_env, "--baseline", str(baseline), cache_dir=cache_dir).returncode == 0
    (site_packages(numpy_env) / VERSION_PY).write_text("version = 'mine'\n")
    back = _run(numpy_env, "--baseline", str(baseline), "--format", "json", cache_dir=cache_dir)
    assert back.returncode == 1  # now it is a different finding on a file that exists
    assert back.find("size-mismatch", VERSION_PY)["accepted"] is None


@pytest.mark.parametrize(
    "rule",
    [
        f"record:size-mismatch:numpy:{INIT}",
        "record:size-mismatch:NumPy",  # names are compared normalized
        "record:*-mismatch:num*",
        "record:size-mismatch:numpy:numpy/*.py",
        "record",  # fewer parts: a trailing '*'
        "*:size-mismatch",
        "record::numpy",  # an empty part is '*'
    ],
)
def test_ignore_rules_accept_with_globs(rule: str, numpy_env: Path, cache_dir: Path) -> None:
    _damage(numpy_env, INIT)
    run = _run(numpy_env, "--ignore", rule, "--strict", "--format", "json", cache_dir=cache_dir)
    assert run.returncode == 0, run.stdout
    f = run.find("size-mismatch", INIT)
    assert f["severity"] == "info" and f["accepted"] == f"--ignore {rule}"


@pytest.mark.parametrize(
    "rule",
    [
        "record:hash-mismatch:numpy",  # another code
        "record:size-mismatch:scipy",  # another distribution
        "record:size-mismatch:numpy:numpy/_core/*",
        "tags",  # another check
    ],
)
def test_ignore_rules_that_do_not_match(rule: str, numpy_env: Path, cache_dir: Path) -> None:
    _damage(numpy_env, INIT)
    run = _run(numpy_env, "--ignore", rule, "--format", "json", cache_dir=cache_dir)
    assert run.returncode == 1
    assert run.find("size-mismatch", INIT)["accepted"] is None


def test_ignore_is_repeatable_and_text_shows_the_reason(numpy_env: Path, cache_dir: Path) -> None:
    _damage(numpy_env, INIT)
    (site_packages(numpy_env) / VERSION_PY).unlink()
    one = _run(numpy_env, "--ignore", "record:size-mismatch", cache_dir=cache_dir)
    assert one.returncode == 1 and "[record/missing-file]" in one.stdout
    both = _run(
        numpy_env,
        "--ignore",
        "record:size-mismatch",
        "--ignore",
        f"record:missing-file:numpy:{VERSION_PY}",
        cache_dir=cache_dir,
    )
    assert both.returncode == 0, both.stdout
    assert "(accepted: --ignore record:size-mismatch)" in both.stdout
    assert f"(accepted: --ignore record:missing-file:numpy:{VERSION_PY})" in both.stdout
    assert "fix: pip install" not in both.stdout  # nothing left to repair
    assert "OK: 0 errors, 0 warnings, 2 accepted" in both.stdout
    junit = _run(numpy_env, "--ignore", "record", "--format", "junit", cache_dir=cache_dir)
    assert junit.returncode == 0 and "<failure" not in junit.stdout
    assert "accepted: --ignore record" in junit.stdout
    env = _run(numpy_env, cache_dir=cache_dir)
    assert env.returncode == 1
    twin = run_cli(
        "--python",
        str(numpy_env / "bin" / "python"),
        cache_dir=cache_dir,
        env={
            "VERIFY_ENV_IGNORE": "record:size-mismatch,record:missing-file",
            "XDG_CONFIG_HOME": str(cache_dir / "none"),
        },
        timeout=180,
    )
    assert twin.returncode == 0, twin.stdout
    assert "(accepted: VERIFY_ENV_IGNORE record:missing-file)" in twin.stdout


@pytest.mark.parametrize(
    "rule,fragment",
    [
        ("recrod:size-mismatch", "unknown check 'recrod'"),
        ("record:size-missmatch", "unknown code 'size-missmatch'"),
        ("tags:size-mismatch", "code 'size-mismatch' belongs to check 'record'"),
        ("", "an empty ignore rule"),
    ],
)
def test_bad_ignore_rule_is_a_usage_error(
    rule: str, fragment: str, bare_venv: Path, cache_dir: Path
) -> None:
    _one_line_error(_run(bare_venv, "--ignore", rule, cache_dir=cache_dir), "--ignore", fragment)


@pytest.mark.parametrize(
    "content,fragment",
    [
        ('{"schema": 1, "accepted": [\n', ":2: not JSON"),
        ("[]\n", ":1: not a verify-env baseline"),
        ('{"version": 3, "runs": []}\n', ":1: not a verify-env baseline"),  # a SARIF log
        ('{"schema": 2, "accepted": []}\n', "got schema 2"),
        (
            '{"schema": 1,\n "accepted": [\n  {"check": "record", "code": "size-mismatch",'
            ' "distribution": "numpy", "message": "m"},\n  {"check": "record", "code": 7,'
            ' "distribution": "numpy", "message": "m"}\n ]}\n',
            ":4: accepted[1]: 'code' must be a string, not 7",
        ),
        (
            '{"schema": 1, "accepted": [{"check": "record", "code": "nope", '
            '"distribution": "x", "message": "m"}]}',
            "unknown code 'nope'",
        ),
        (
            '{"schema": 1, "accepted": [{"check": "record", "code": "missing-file", '
            '"distribution": "x", "message": "m", "colour": 1}]}',
            "unknown key 'colour'",
        ),
        ("\xff\xfe garbage", "cannot read the baseline"),
    ],
)
def test_malformed_baseline_is_one_line(
    content: str, fragment: str, bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_bytes(content.encode("latin-1"))
    _one_line_error(
        _run(bare_venv, "--baseline", str(baseline), cache_dir=cache_dir), str(baseline), fragment
    )


def test_absent_baseline_names_the_write_command(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    missing = tmp_path / "nope.json"
    _one_line_error(
        _run(bare_venv, "--baseline", str(missing), cache_dir=cache_dir),
        f"--baseline write {missing}",
    )


def test_baseline_of_a_clean_env_is_empty(bare_venv: Path, tmp_path: Path, cache_dir: Path) -> None:
    baseline = tmp_path / "b.json"
    assert (
        _run(bare_venv, "--baseline", "write", str(baseline), cache_dir=cache_dir).returncode == 0
    )
    assert json.loads(baseline.read_text())["accepted"] == []
    assert _run(bare_venv, "--baseline", str(baseline), cache_dir=cache_dir).returncode == 0
