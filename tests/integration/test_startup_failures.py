"""paths/script-interpreter and paths/pth-error: what fails at every start of a moved venv's
scripts or of its python, built for real (a venv copied to a new path, pip-installed wheels
with .pth files) and proven by running it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.envs import clone_env, run_cli, site_packages
from tests.support.wheels import make_wheel

PRECEDENCE = (
    "import os; enabled = os.environ.get('TOOL_USE', 'local') == 'local'; "
    "enabled and __import__('_tool_hack').add_shim(); \n"
)


def test_moved_venv_and_failing_pth_lines(bare_venv: Path, tmp_path: Path, cache_dir: Path) -> None:
    wheels = tmp_path / "wheels"
    finder = "__editable___edi_1_0_finder"
    built = [
        make_wheel(wheels, "tool-a", "1.0", {"tool-a-precedence.pth": PRECEDENCE}),
        make_wheel(
            wheels,
            "tool-b",
            "2.0",
            {
                "_tool_hack/__init__.py": "def shim():\n    pass\n",
                "tool_b-2.0.dist-info/entry_points.txt": "[console_scripts]\n"
                "toolb = _tool_hack:shim\ntoolb-x = _tool_hack:shim\n",
            },
        ),
        make_wheel(
            wheels,
            "edi",
            "1.0",
            {
                "__editable__.edi-1.0.pth": f"import {finder}; {finder}.install()\n",
                f"{finder}.py": "def install():\n    pass\n",
            },
        ),
    ]
    old = clone_env(bare_venv, tmp_path / "old")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "-q",
            "--python",
            str(old / "bin" / "python"),
            "install",
            "--no-index",
            *map(str, built),
        ],
        check=True,
    )
    site = site_packages(old)
    (site / f"{finder}.py").unlink()  # the editable project's finder, gone
    (site / "ghost.pth").write_text("/nowhere/at/all\n")  # site skips a missing dir: fine
    (old / "bin" / "envtool").write_text("#!/usr/bin/env python3\nprint(1)\n")
    (old / "bin" / "envtool").chmod(0o755)
    # the venv copied to a new path (Docker's COPY --from to another path), the old one gone
    new = tmp_path / "new"
    subprocess.run(["cp", "-a", str(old), str(new)], check=True)
    shutil.rmtree(old)
    python = new / "bin" / "python"

    started = subprocess.run([str(python), "-c", "pass"], capture_output=True, text=True)
    assert f"Error processing line 1 of {new}" in started.stderr
    assert f"No module named '{finder}'" in started.stderr
    assert "module '_tool_hack' has no attribute 'add_shim'" in started.stderr
    script = subprocess.run(["sh", "-c", f'"{new}/bin/toolb"'], capture_output=True, text=True)
    assert script.returncode == 127 and "not found" in script.stderr, script.stderr

    run = run_cli("--python", str(python), "--format", "json", cache_dir=cache_dir)
    assert run.returncode == 1
    assert run.codes() == {
        ("paths", "script-interpreter", None),
        ("paths", "pth-error", "edi"),
        ("paths", "pth-error", "tool-a"),
        ("record", "missing-file", "edi"),
    }, run.findings
    scripts = run.find("script-interpreter")
    assert scripts["path"] == str(new / "bin" / "toolb")
    assert "2 scripts (toolb, toolb-x) start with" in scripts["message"]
    assert f"#!{old}/bin/python, which does not exist" in scripts["message"]
    assert f"moved or copied from {old} to {new}" in scripts["message"]
    assert f"-m venv --clear {new} && {new}/bin/python -m pip install -r" in scripts["hint"]
    assert scripts["hint"].startswith(f"recreate the venv where it now is: {python} -m pip freeze")

    editable = next(f for f in run.findings if f["distribution"] == "edi" and f["check"] == "paths")
    assert editable["path"] == str(site_packages(new) / "__editable__.edi-1.0.pth")
    assert f"line 1 of edi 1.0's {editable['path']}" in editable["message"]
    assert f"module '{finder}' is in no sys.path directory" in editable["message"]
    assert editable["hint"] == f"{python} -m pip install --force-reinstall --no-deps edi==1.0"

    hack = next(f for f in run.findings if f["distribution"] == "tool-a")
    assert hack["path"].endswith("tool-a-precedence.pth")
    assert (
        "it uses add_shim of" in hack["message"] and "which tool-b 2.0 installed" in hack["message"]
    )
    assert hack["hint"].startswith(f"{python} -m pip install --upgrade tool-b")
