"""What interrupted pip runs leave behind: ``~`` stashes, and packages without metadata."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support.envs import run_cli, site_packages


def test_pips_stash_of_an_interrupted_upgrade(numpy_env: Path, cache_dir: Path) -> None:
    site = site_packages(numpy_env)
    shutil.copytree(site / "numpy", site / "~umpy", copy_function=os.link)
    run = run_cli(
        "--python",
        str(numpy_env / "bin/python"),
        "--checks",
        "record",
        "--format",
        "json",
        cache_dir=cache_dir,
    )
    assert run.returncode == 0, run.stdout  # debris, not damage: a warning
    f = run.find("leftover-directory")
    assert (f["severity"], f["distribution"], f["path"]) == ("warning", "numpy", "~umpy")
    assert "never finished" in f["message"] and "rm -rf" in f["hint"]
    strict = run_cli(
        "--python",
        str(numpy_env / "bin/python"),
        "--checks",
        "record",
        "--strict",
        cache_dir=cache_dir,
    )
    assert strict.returncode == 1


def test_a_package_whose_metadata_was_never_written(numpy_env: Path, cache_dir: Path) -> None:
    """pip writes the dist-info last: a killed install leaves ``numpy/`` owned by nobody."""
    site = site_packages(numpy_env)
    for meta in site.glob("numpy-*.dist-info"):
        shutil.rmtree(meta)
    run = run_cli(
        "--python",
        str(numpy_env / "bin/python"),
        "--checks",
        "record",
        "--format",
        "json",
        cache_dir=cache_dir,
    )
    assert run.returncode == 1, run.stdout
    f = run.find("unrecorded-extension", "numpy/")
    assert (f["severity"], f["distribution"]) == ("error", None)
    assert "no installer's record owns it" in f["message"] and "_multiarray_umath" in f["message"]
