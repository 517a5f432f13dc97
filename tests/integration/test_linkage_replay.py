"""A warm linkage run replays the stored verdict only while every input it was judged from is
as it was: damage any of them — a library outside the environment the loader picks, the
environment's LD_LIBRARY_PATH, a library of the closure, a glibc-hwcaps directory only ld.so
searches, the Python source that makes a module optional — and the warm run says what a cold
run says. One clone of the linkage fixtures and one stat cache serve every step."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration import test_linkage as fixtures
from tests.integration.test_linkage import CORE, SUFFIX, Built, _hwcaps_v2
from tests.support.envs import CliRun, break_link, clone_env, run_cli, site_packages

built = fixtures.built  # the linkage fixtures, built once a session for both files
link_venv = fixtures.link_venv

REPLAYED = "linkage: the verdict of an earlier run, replayed"


def _run(env: Path, cache_dir: Path, ldpath: Path | None, *args: str) -> CliRun:
    return run_cli(
        "--python",
        str(env / "bin" / "python"),
        "--checks",
        "linkage",
        *args,
        cache_dir=cache_dir,
        env={"LD_LIBRARY_PATH": str(ldpath)} if ldpath else {},
    )


def _codes(run: CliRun) -> set[tuple[str, str | None, str]]:
    return {(f["code"], f["distribution"], f["severity"]) for f in run.findings}


CLEAN = {("missing-library", "optional-ext", "warning")}


def _replays(env: Path, cache_dir: Path, ldpath: Path | None) -> CliRun:
    """A warm text run that replays the verdict (the control: replay does happen)."""
    run = _run(env, cache_dir, ldpath, "--verbose")
    assert REPLAYED in run.stdout, run.stdout
    return run


def test_warm_runs_replay_until_an_input_changes(
    link_venv: Path, built: Built, tmp_path: Path, cache_dir: Path
) -> None:
    env = clone_env(link_venv, tmp_path / "env")
    ldpath = tmp_path / "ldpath"  # outside the environment: where the loader finds libldp
    shutil.copytree(built.ldpath_dir, ldpath)
    cold = _run(env, cache_dir, ldpath, "--format", "json")
    assert (cold.returncode, _codes(cold)) == (0, CLEAN)

    warm = _replays(env, cache_dir, ldpath)
    assert warm.returncode == 0 and "libnotthere_vx.so.1" in warm.stdout
    strict = _run(env, cache_dir, ldpath, "--strict", "--format", "json")  # settings still count
    assert (strict.returncode, _codes(strict)) == (1, CLEAN)

    # a library outside the environment that the loader picks is gone
    (ldpath / "libldp.so.1").rename(tmp_path / "libldp.so.1")
    gone = _run(env, cache_dir, ldpath, "--format", "json")
    assert _codes(gone) == CLEAN | {("missing-library", "ldpath-ext", "error")}
    assert "'libldp.so.1'" in gone.find("missing-library", f"ldpath_ext/_m{SUFFIX}")["message"]
    (tmp_path / "libldp.so.1").rename(ldpath / "libldp.so.1")
    back = _run(env, cache_dir, ldpath, "--verbose")
    assert "linkage: judged in full: " in back.stdout  # --verbose says why
    assert "changed since the verdict was stored" in back.stdout
    _replays(env, cache_dir, ldpath)

    # the same files, another LD_LIBRARY_PATH
    unset = _run(env, cache_dir, None, "--format", "json")
    assert _codes(unset) == CLEAN | {("missing-library", "ldpath-ext", "error")}

    # the module turns from optional to required in its package's source
    init = break_link(site_packages(env) / "optional_ext" / "__init__.py")
    init.write_text("from . import _accel\n")
    required = _run(env, cache_dir, ldpath, "--format", "json")
    assert _codes(required) == {("missing-library", "optional-ext", "error")}
    init.write_text("try:\n    from . import _accel\nexcept ImportError:\n    _accel = None\n")

    # a library of the closure is replaced by one that lacks dgemm_
    _run(env, cache_dir, ldpath)
    _replays(env, cache_dir, ldpath)
    lib = break_link(site_packages(env) / "fakeblas.libs" / "libfakeblas.so.3")
    shutil.copyfile(built.variants["no-dgemm"], lib)
    damaged = _run(env, cache_dir, ldpath, "--format", "json")
    assert {(f["code"], f["path"]) for f in damaged.findings if f["path"] == CORE} == {
        ("blas-symbols", CORE),
        ("undefined-symbol", CORE),
    }


@pytest.mark.skipif(not _hwcaps_v2(), reason="this CPU/glibc does not search x86-64-v2 hwcaps")
def test_a_library_only_ld_so_finds_ends_the_replay(
    link_venv: Path, built: Built, tmp_path: Path, cache_dir: Path
) -> None:
    """glibc-hwcaps directories are not modelled, only searched by ld.so: what it tried
    (``LD_DEBUG=libs``) is an input too."""
    env = clone_env(link_venv, tmp_path / "env")
    _run(env, cache_dir, built.ldpath_dir)
    _replays(env, cache_dir, built.ldpath_dir)
    hwcaps = site_packages(env) / "fakeblas.libs" / "glibc-hwcaps" / "x86-64-v2"
    hwcaps.mkdir(parents=True)
    shutil.copyfile(built.variants["ilp64-suffix"], hwcaps / "libfakeblas.so.3")
    run = _run(env, cache_dir, built.ldpath_dir, "--format", "json")
    assert {f["code"] for f in run.findings if f["path"] == CORE} == {"blas-interface"}
    cold = _run(env, cache_dir, built.ldpath_dir, "--no-cache", "--format", "json")
    assert run.findings == cold.findings
