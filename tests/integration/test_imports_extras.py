"""An optional dependency that a distribution declares behind an extra (issue 16 §5): the
imports check's warning names the extra and how to install it, instead of saying that
nothing declares it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.envs import clone_env, run_cli
from tests.support.wheels import make_wheel


def test_the_extra_that_declares_a_missing_module_is_named(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    wheel = make_wheel(
        tmp_path / "wheels",
        "vet-extras",
        "1.0",
        {"vet_extras/__init__.py": "import vet_absent_yaml\n"},
        requires=['vet-absent-yaml>=1; extra == "yaml"'],
        extras=["yaml"],
    )
    env = clone_env(bare_venv, tmp_path / "env")
    subprocess.run(
        [str(env / "bin/python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True,
    )
    run = run_cli(
        "--python",
        str(env / "bin/python"),
        "--checks",
        "imports",
        "--format",
        "json",
        cache_dir=cache_dir,
    )
    assert run.returncode == 0, run.findings  # an optional part: a warning, not an error
    f = run.find("import-error", "vet_extras")
    assert (f["severity"], f["distribution"]) == ("warning", "vet-extras")
    assert "declares 'vet-absent-yaml>=1' for its extra 'yaml'" in f["message"], f["message"]
    assert "no installed distribution declares" not in f["message"]
    assert "'vet-extras[yaml]'" in f["hint"], f["hint"]
