"""``verify-env --fix``: the plan first, the owning installer runs it, a fresh run decides the
exit status; ``--dry-run`` changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import env_snapshot
from tests.support.envs import break_link, run_cli, site_packages

INIT = "numpy/__init__.py"


def _damage(env: Path) -> None:
    target = break_link(site_packages(env) / INIT)
    target.write_text(target.read_text() + "# edited\n")


def test_dry_run_shows_the_plan_and_changes_nothing(numpy_env: Path, cache_dir: Path) -> None:
    _damage(numpy_env)
    py = str(numpy_env / "bin/python")
    before = env_snapshot(numpy_env)
    run = run_cli("--python", py, "--fix", "--dry-run", cache_dir=cache_dir)
    assert run.returncode == 1, run.stderr
    plan = f"verify-env --fix: run: {py} -P -m pip install --force-reinstall --no-deps numpy==2.2.6"
    assert plan in run.stderr
    assert "verify-env --fix: dry run: nothing was changed" in run.stderr
    assert "[record/size-mismatch]" in run.stdout and INIT in run.stdout
    assert env_snapshot(numpy_env) == before


def test_fix_reinstalls_through_the_targets_pip_and_verifies_again(
    numpy_env: Path, cache_dir: Path
) -> None:
    _damage(numpy_env)
    py = str(numpy_env / "bin/python")
    run = run_cli("--python", py, "--fix", "--format", "json", cache_dir=cache_dir)
    assert run.returncode == 0, run.stderr
    assert "verify-env --fix: verified again: whole" in run.stderr
    assert run.report["findings"] == []  # the report is the run after the repair
    assert "# edited" not in (site_packages(numpy_env) / INIT).read_text()


def test_fix_names_what_a_reinstall_cannot_mend_and_exits_1(
    numpy_env: Path, cache_dir: Path, tmp_path: Path
) -> None:
    """A compiled module no installer owns: reinstalling numpy would not remove it."""
    umath = next((site_packages(numpy_env) / "numpy/_core").glob("_multiarray_umath.*.so"))
    stray = site_packages(numpy_env) / "numpy/_core/_stray.cpython-311-x86_64-linux-gnu.so"
    shutil.copyfile(umath, stray)
    py = str(numpy_env / "bin/python")
    before = env_snapshot(numpy_env)
    run = run_cli("--python", py, "--fix", cache_dir=cache_dir)
    assert run.returncode == 1, run.stderr
    assert "verify-env --fix: not repaired: numpy 2.2.6 [record/unrecorded-extension]" in (
        run.stderr
    )
    assert "verify-env --fix: run:" not in run.stderr  # nothing to run: nothing ran
    assert env_snapshot(numpy_env) == before
    assert "[record/unrecorded-extension]" in run.stdout


def test_dry_run_alone_is_a_usage_error(numpy_env: Path, cache_dir: Path) -> None:
    run = run_cli("--python", str(numpy_env / "bin/python"), "--dry-run", cache_dir=cache_dir)
    assert run.returncode == 2 and "--dry-run goes with --fix" in run.stderr
    assert run.stdout == ""
