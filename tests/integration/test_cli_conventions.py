"""The command line as the ecosystem spells it: usage errors that name the mistyped option,
``-f``, ``-q``, ``--color``/``NO_COLOR``/``FORCE_COLOR``, a verdict on stderr when the report
goes to a file, ``--explain`` in the form reports print, and pipv's own help and version."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_pipv import PIPV
from tests.support.envs import break_link, run_cli, site_packages
from verify_env import __version__


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--fromat", "json"], "unrecognized option '--fromat' (did you mean --format?)"),
        (["--colour", "never"], "unrecognized option '--colour' (did you mean --color?)"),
        (["--strict", "--bogus-flag"], "unrecognized option '--bogus-flag'"),
        (["--format", "xml"], "argument -f/--format: invalid choice: 'xml'"),
    ],
)
def test_a_usage_error_names_the_option(argv: list[str], named: str, cache_dir: Path) -> None:
    run = run_cli(*argv, cache_dir=cache_dir)
    assert run.returncode == 2 and run.stdout == ""
    assert named in run.stderr.splitlines()[-1], run.stderr
    assert "choose from 'config'" not in run.stderr


def test_short_format_quiet_and_verdict_on_stderr(
    numpy_env: Path, cache_dir: Path, tmp_path: Path
) -> None:
    py = str(numpy_env / "bin/python")
    clean = run_cli("--python", py, "-q", cache_dir=cache_dir)
    assert (clean.returncode, clean.stdout) == (0, "")
    out = tmp_path / "report.json"
    written = run_cli("--python", py, "-f", "json", "-o", str(out), cache_dir=cache_dir)
    assert written.returncode == 0 and written.stdout == ""
    assert written.stderr.startswith("verify-env: OK: 0 error(s), 0 warning(s) — ")
    assert f"files (none needed rehashing); report written to {out}" in written.stderr
    assert json.loads(out.read_text())["schema"] == 1
    damaged = break_link(site_packages(numpy_env) / "numpy/__init__.py")
    damaged.write_text(damaged.read_text() + "#\n")
    (site_packages(numpy_env) / "~umpy").mkdir()  # a warning: -q leaves it out
    failed = run_cli("--python", py, "-q", cache_dir=cache_dir)
    assert failed.returncode == 1
    assert "[record/size-mismatch] numpy/__init__.py" in failed.stdout
    assert "leftover-directory" not in failed.stdout
    assert failed.stdout.strip().splitlines()[-1].startswith("FAILED: 1 error, 1 warning")


def test_color_follows_the_flag_and_the_variables(numpy_env: Path, cache_dir: Path) -> None:
    (site_packages(numpy_env) / "~umpy").mkdir()
    py = str(numpy_env / "bin/python")
    escape = "\033["
    assert escape not in run_cli("--python", py, cache_dir=cache_dir).stdout  # a pipe: none
    assert escape in run_cli("--python", py, "--color", "always", cache_dir=cache_dir).stdout
    forced = run_cli("--python", py, cache_dir=cache_dir, env={"FORCE_COLOR": "1"})
    assert escape in forced.stdout
    both = run_cli("--python", py, cache_dir=cache_dir, env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert escape not in both.stdout
    never = run_cli(
        "--python", py, "--color", "never", cache_dir=cache_dir, env={"FORCE_COLOR": "1"}
    )
    assert escape not in never.stdout


def test_explain_takes_what_reports_print_and_lists_codes(cache_dir: Path) -> None:
    slashed = run_cli("--explain", "record/hash-mismatch", cache_dir=cache_dir)
    assert slashed.returncode == 0 and slashed.stdout.startswith("hash-mismatch\n")
    listing = run_cli("--explain", cache_dir=cache_dir)
    assert listing.returncode == 0
    assert any(line.startswith("record/hash-mismatch ") for line in listing.stdout.splitlines())
    wrong = run_cli("--explain", "tags/hash-mismatch", cache_dir=cache_dir)
    assert wrong.returncode == 2 and "not a finding code" in wrong.stderr


def test_pipv_help_and_version_name_pipv_first(bare_venv: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PIPV_PYTHON")}
    py = str(bare_venv / "bin/python")

    def pipv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PIPV, "--python", py, *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            check=False,
            timeout=120,
        )

    version = pipv("--version")
    assert version.returncode == 0
    first, second = version.stdout.splitlines()[:2]
    assert first == f"pipv (verify-env {__version__})" and second.startswith("pip ")
    shown = pipv("--help")
    assert shown.returncode == 0
    assert shown.stdout.startswith("pipv: pip, then verification")
    assert shown.stdout.index("pipv repair") < shown.stdout.index("Usage:")  # pip's comes after
