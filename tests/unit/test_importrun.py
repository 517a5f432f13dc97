"""The import runner with real interpreters and real modules on PYTHONPATH: what a verdict
means when several units share a worker, and how deaths and hangs are attributed."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

from verify_env.checks.imports.run import run_imports

MODULES = {
    # poisons a later import in the same process: vet_victim is fine on its own
    "vet_poison.py": "import sys\nsys.modules['vet_victim'] = None\n",
    "vet_victim.py": "VALUE = 1\n",
    "vet_broken.py": "raise RuntimeError('broken on its own')\n",
    "vet_segv.py": "import ctypes\nctypes.string_at(0)\n",
    "vet_after.py": "VALUE = 2\n",
    "vet_pkg/__init__.py": "raise ImportError('the package is broken')\n",
    "vet_pkg/sub.py": "VALUE = 3\n",
    "vet_slow.py": "import time\ntime.sleep(60)\n",
}


def _tree(tmp_path: Path) -> dict[str, str]:
    for rel, text in MODULES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(textwrap.dedent(text))
    return {**os.environ, "PYTHONPATH": str(tmp_path)}


def test_error_after_other_units_is_confirmed_alone(tmp_path: Path) -> None:
    env = _tree(tmp_path)
    run = run_imports(
        sys.executable,
        [["vet_poison"], ["vet_victim"], ["vet_broken"], ["vet_after"]],
        1,
        30,
        environ=env,
    )
    status = {m: o.status for m, o in run.outcomes.items()}
    assert status == {
        "vet_poison": "ok",
        "vet_victim": "ok",
        "vet_broken": "error",
        "vet_after": "ok",
    }
    assert run.reruns == 2  # vet_victim and vet_broken, each once
    broken = run.outcomes["vet_broken"]
    assert broken.chain[-1] == ("RuntimeError", "broken on its own")
    assert broken.where is not None and broken.where.endswith("vet_broken.py:1")
    assert not list(tmp_path.rglob("__pycache__"))  # -B: nothing written beside the modules


def test_children_of_a_failed_package_are_not_tried(tmp_path: Path) -> None:
    run = run_imports(sys.executable, [["vet_pkg", "vet_pkg.sub"]], 2, 30, environ=_tree(tmp_path))
    assert run.outcomes["vet_pkg"].status == "error"
    assert (run.outcomes["vet_pkg.sub"].status, run.outcomes["vet_pkg.sub"].parent) == (
        "skip",
        "vet_pkg",
    )


def test_crash_is_attributed_and_the_rest_goes_on(tmp_path: Path) -> None:
    run = run_imports(sys.executable, [["vet_segv"], ["vet_after"]], 1, 30, environ=_tree(tmp_path))
    segv = run.outcomes["vet_segv"]
    assert (segv.status, segv.returncode) == ("crash", -11)
    assert run.outcomes["vet_after"].status == "ok"
    assert run.processes == 2


def test_timeout_kills_and_the_rest_goes_on(tmp_path: Path) -> None:
    run = run_imports(
        sys.executable,
        [["vet_slow", "vet_slow.child"], ["vet_after"]],
        1,
        1.0,
        environ=_tree(tmp_path),
    )
    slow = run.outcomes["vet_slow"]
    assert slow.status == "timeout" and 1.0 <= slow.seconds < 10
    assert run.outcomes["vet_slow.child"].status == "skip"
    assert run.outcomes["vet_after"].status == "ok"


def test_an_interpreter_that_cannot_start_is_one_startup_error(tmp_path: Path) -> None:
    false = "/bin/false"
    run = run_imports(false, [["json"], ["os"]], 2, 5, environ=dict(os.environ))
    assert run.startup_error is not None and false in run.startup_error
    assert run.outcomes == {}


def test_crash_after_other_units_is_confirmed_alone(tmp_path: Path) -> None:
    run = run_imports(
        sys.executable,
        [["vet_after"], ["vet_segv"], ["vet_victim"]],
        1,
        30,
        environ=_tree(tmp_path),
    )
    assert run.outcomes["vet_segv"].status == "crash"
    assert run.outcomes["vet_victim"].status == "ok"
    assert run.reruns == 1
