"""Snapshots before and after real pip transactions, and the scope they imply."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.envs import clone_env
from tests.support.wheels import make_wheel
from verify_env.inventory import build_inventory
from verify_env.target.model import resolve_target
from verify_env.transaction.scope import scope_of
from verify_env.transaction.snapshot import Change, Snapshot


def _pip(env: Path, *args: str) -> None:
    subprocess.run(
        [str(env / "bin/python"), "-m", "pip", *args, "-q", "--disable-pip-version-check"],
        check=True,
    )


def test_install_upgrade_uninstall_and_the_widened_scope(bare_venv: Path, tmp_path: Path) -> None:
    env = clone_env(bare_venv, tmp_path / "env")
    wheels = tmp_path / "wheels"
    base1 = make_wheel(wheels, "base-lib", "1.0", {"base_lib.py": ""})
    base2 = make_wheel(wheels, "base-lib", "2.0", {"base_lib.py": "x = 2\n"})
    user = make_wheel(wheels, "uses-base", "1.0", {"uses_base.py": ""}, requires=["base-lib>=1"])
    other = make_wheel(wheels, "unrelated", "1.0", {"unrelated.py": ""})
    # twin-lib records base_lib.py too (two owners of one file): uninstalling base-lib takes it
    twin = make_wheel(wheels, "twin-lib", "1.0", {"base_lib.py": "", "twin_lib.py": ""})
    _pip(env, "install", "--no-deps", str(twin), str(base1), str(user), str(other))
    target = resolve_target(str(env / "bin/python"))

    before = Snapshot.take(target)
    assert Change.between(before, Snapshot.take(target)).empty
    _pip(env, "install", "--no-deps", str(base2))
    after = Snapshot.take(target)
    change = Change.between(before, after)
    assert (change.added, change.removed, change.changed) == (
        frozenset(),
        frozenset(),
        frozenset({"base-lib"}),
    )
    scope = scope_of(change, build_inventory(target))
    assert scope.keys == frozenset({"base-lib", "uses-base"})  # not "unrelated"
    assert "dependents: uses-base" in scope.reason

    _pip(env, "uninstall", "-y", "base-lib")
    gone = Change.between(after, Snapshot.take(target))
    assert gone.removed == {"base-lib"} and not gone.added
    scope = scope_of(gone, build_inventory(target))
    assert scope.keys == frozenset({"base-lib", "uses-base", "twin-lib"})
    assert "distributions whose files it removed: twin-lib" in scope.reason
