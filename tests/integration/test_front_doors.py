"""One run for every front door: the same settings give the same verdict through ``verify-env``,
``pipv verify``, ``conda verify``, the conda doctor check and the conda transaction action.

The settings come from ``VERIFY_ENV_*`` variables, the one source every door reads, so what is
held equal here is what each door does with them: ``strict`` (a warning fails), ``ignore`` and
``baseline`` (an error accepted), ``no-cache`` (a warm run hashes again) and ``jobs``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_pipv import PIPV
from tests.support.envs import break_link, clone_env, run_cli, site_packages
from verify_env_conda import doctor, verify_cmd
from verify_env_conda.action import TransactionCheck, TransactionRefused
from verify_env_conda.mode import Mode
from verify_env_conda.records import PackageRef

INIT = "numpy/__init__.py"


@pytest.fixture
def doors_env(numpy_venv: Path, tmp_path: Path) -> Path:
    """numpy with one warning (pip's ``~umpy`` leftover) and one error (a flipped byte)."""
    env = clone_env(numpy_venv, tmp_path / "env")
    (site_packages(env) / "~umpy").mkdir()
    target = break_link(site_packages(env) / INIT)
    data = bytearray(target.read_bytes())
    data[10] ^= 0x01
    target.write_bytes(bytes(data))
    return env


@pytest.fixture
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The variables of one scenario: set for the in-process doors, passed to the others."""
    values: dict[str, str] = {"VERIFY_ENV_CACHE_DIR": str(tmp_path / "cache")}
    for key in list(os.environ):
        if key.startswith("VERIFY_ENV_") or key in ("VIRTUAL_ENV", "CONDA_PREFIX"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no project file of ours is found

    yield values


def _apply(values: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)


Verdict = tuple[int, frozenset[tuple[str, str, bool]]]
"""(exit status, {(code, path, accepted)})."""


def _of_json(status: int, text: str) -> Verdict:
    report = json.loads(text)
    found = frozenset(
        (f["code"], f["path"] or "", f["accepted"] is not None) for f in report["findings"]
    )
    return status, found


def _cli(env: Path, values: dict[str, str]) -> Verdict:
    run = run_cli("--python", str(env / "bin/python"), "--format", "json", env=values)
    return _of_json(run.returncode, run.stdout)


def _pipv_verify(env: Path, values: dict[str, str]) -> Verdict:
    full = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_ENV_")}
    full.update(values)
    proc = subprocess.run(
        [PIPV, "--python", str(env / "bin/python"), "verify", "--format", "json"],
        capture_output=True,
        text=True,
        env=full,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return _of_json(proc.returncode, proc.stdout)


def _conda_verify(env: Path, capsys: pytest.CaptureFixture[str]) -> Verdict:
    parser = argparse.ArgumentParser(prog="conda verify")
    verify_cmd.configure_parser(parser)
    capsys.readouterr()
    status = verify_cmd.execute(
        parser.parse_args(["-p", str(env), "--format", "json"]),
        locate_name=lambda n: n,
        default_prefix=lambda: "/nonexistent",
    )
    return _of_json(status, capsys.readouterr().out)


def _doctor(env: Path) -> Verdict:
    outcome = doctor.run_checks(str(env))
    found = frozenset(
        (f.code, f.path or "", f.accepted is not None) for f in outcome.report.findings
    )
    return outcome.status, found


def _transaction_fails(env: Path, capsys: pytest.CaptureFixture[str]) -> bool:
    """The conda action in fail mode after a transaction that linked numpy: raises when the
    verdict is an error (the transaction would be rolled back)."""
    check = TransactionCheck(None, str(env), [], [PackageRef("numpy", "2.2.6")], mode=Mode.FAIL)
    try:
        check.execute()
    except TransactionRefused:
        return True
    finally:
        capsys.readouterr()
    return False


def _every_door(
    env: Path,
    values: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> dict[str, Verdict]:
    _apply(values, monkeypatch)
    return {
        "verify-env": _cli(env, values),
        "pipv verify": _pipv_verify(env, values),
        "conda verify": _conda_verify(env, capsys),
        "conda doctor": _doctor(env),
    }


def test_strict_fails_a_warning_through_every_door(
    numpy_env: Path,
    settings_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (site_packages(numpy_env) / "~umpy").mkdir()
    leftover = ("leftover-directory", "~umpy", False)
    plain = _every_door(numpy_env, settings_env, monkeypatch, capsys)
    assert set(plain.values()) == {(0, frozenset({leftover}))}, plain
    assert not _transaction_fails(numpy_env, capsys)
    strict = _every_door(numpy_env, {**settings_env, "VERIFY_ENV_STRICT": "1"}, monkeypatch, capsys)
    assert set(strict.values()) == {(1, frozenset({leftover}))}, strict
    assert _transaction_fails(numpy_env, capsys)


def test_ignore_and_baseline_accept_the_same_error_through_every_door(
    doors_env: Path,
    settings_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    damaged = ("hash-mismatch", INIT, False)
    leftover = ("leftover-directory", "~umpy", False)
    plain = _every_door(doors_env, settings_env, monkeypatch, capsys)
    assert set(plain.values()) == {(1, frozenset({damaged, leftover}))}, plain
    assert _transaction_fails(doors_env, capsys)

    accepted = ("hash-mismatch", INIT, True)
    ignored = _every_door(
        doors_env,
        {**settings_env, "VERIFY_ENV_IGNORE": f"record:hash-mismatch:numpy:{INIT}"},
        monkeypatch,
        capsys,
    )
    assert set(ignored.values()) == {(0, frozenset({accepted, leftover}))}, ignored
    assert not _transaction_fails(doors_env, capsys)
    monkeypatch.delenv("VERIFY_ENV_IGNORE")

    baseline = tmp_path / "baseline.json"
    written = run_cli(
        "--python",
        str(doors_env / "bin/python"),
        "--baseline",
        "write",
        str(baseline),
        env=settings_env,
    )
    assert written.returncode == 0, written.stderr
    assert f"{baseline}: accepted 2 finding(s)" in written.stderr
    based = _every_door(
        doors_env, {**settings_env, "VERIFY_ENV_BASELINE": str(baseline)}, monkeypatch, capsys
    )
    both = frozenset({accepted, ("leftover-directory", "~umpy", True)})
    assert set(based.values()) == {(0, both)}, based
    assert not _transaction_fails(doors_env, capsys)


def test_no_cache_and_jobs_reach_every_door(
    numpy_env: Path,
    settings_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A warm run hashes nothing; with ``no-cache`` (and one job) every door hashes again."""

    def hashed(values: dict[str, str]) -> dict[str, int]:
        _apply(values, monkeypatch)
        py = str(numpy_env / "bin/python")
        cli = run_cli("--python", py, "--format", "json", env=values)
        parser = argparse.ArgumentParser(prog="conda verify")
        verify_cmd.configure_parser(parser)
        capsys.readouterr()
        verify_cmd.execute(
            parser.parse_args(["-p", str(numpy_env), "--format", "json"]),
            locate_name=lambda n: n,
            default_prefix=lambda: "/nonexistent",
        )
        conda = json.loads(capsys.readouterr().out)
        return {
            "verify-env": cli.report["summary"]["bytes_hashed"],
            "conda verify": conda["summary"]["bytes_hashed"],
            "conda doctor": doctor.run_checks(str(numpy_env)).report.summary.bytes_hashed,
        }

    run_cli("--python", str(numpy_env / "bin/python"), env=settings_env)  # fill the cache
    warm = hashed(settings_env)
    assert set(warm.values()) == {0}, warm
    cold = hashed({**settings_env, "VERIFY_ENV_NO_CACHE": "1", "VERIFY_ENV_JOBS": "1"})
    assert min(cold.values()) > 10_000_000 and len(set(cold.values())) == 1, cold


def test_a_bad_baseline_is_exit_2_before_anything_runs_in_every_full_run_door(
    numpy_env: Path, settings_env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    values = {**settings_env, "VERIFY_ENV_BASELINE": str(bad)}
    cli = run_cli("--python", str(numpy_env / "bin/python"), env=values)
    assert cli.returncode == 2 and "bad.json" in cli.stderr and cli.stdout == ""
    full = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_ENV_")}
    full.update(values)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "verify_env_pip.cli",
            "--python",
            str(numpy_env / "bin/python"),
            "verify",
        ],
        capture_output=True,
        text=True,
        env=full,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 2 and "bad.json" in proc.stderr, proc.stderr
