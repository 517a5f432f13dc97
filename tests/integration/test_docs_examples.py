"""The examples users copy from the README work: the Dockerfile RUN lines (single- and
multi-stage) and the GitHub Actions ``run:`` steps, extracted from README.md by their
``<!-- example: NAME -->`` markers and run as shell scripts in fresh venvs standing in for the
image's Python (verify-env installed from a wheel of this checkout); and the finding codes
tables of the README and docs/ are the ones `CODES` generates."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import NUMPY
from tests.support.envs import make_venv, site_packages

ROOT = Path(__file__).resolve().parent.parent.parent
README = ROOT / "README.md"
UMATH = "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"


def example(name: str) -> str:
    """The fenced block right after ``<!-- example: NAME -->`` in the README."""
    text = README.read_text(encoding="utf-8")
    marker = f"<!-- example: {name} -->"
    assert marker in text, f"README lost its {marker}"
    match = re.search(r"```[a-z]*\n(.*?)```", text.split(marker, 1)[1], re.S)
    assert match, f"no code block after {marker}"
    return match.group(1)


def run_lines(dockerfile: str) -> list[str]:
    """The RUN instructions of a Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    return [line[4:].strip() for line in joined.splitlines() if line.startswith("RUN ")]


@pytest.fixture(scope="module")
def wheel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this checkout: what ``pip install verify-env`` installs in the examples."""
    dest = tmp_path_factory.mktemp("verify-env-wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dest), str(ROOT)],
        check=True,
    )
    assert list(dest.glob("verify_env-*.whl"))
    return dest


def shell(
    script: str,
    cwd: Path,
    python_bin: Path,
    wheel_dir: Path,
) -> subprocess.CompletedProcess[str]:
    """``sh -ec SCRIPT`` as a Docker build or a CI step runs it: the stand-in Python first on
    PATH, no activated env, pip finding this checkout's wheel besides its usual indexes."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH")
        and not k.startswith("VERIFY_ENV_")
    }
    configured = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.find-links"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    env.update(
        PATH=f"{python_bin}{os.pathsep}/usr/bin{os.pathsep}/bin",
        PIP_FIND_LINKS=" ".join(filter(None, [str(wheel_dir), configured])),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        VERIFY_ENV_CACHE_DIR=str(cwd / ".cache"),
    )
    return subprocess.run(
        ["sh", "-ec", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "requirements.txt").write_text(f"{NUMPY}\n", encoding="utf-8")
    return ws


def test_dockerfile_run_line(tmp_path: Path, py311: str, wheel_dir: Path) -> None:
    (line,) = run_lines(example("dockerfile"))
    assert "verify-env" in line
    image_python = make_venv(tmp_path / "image", py311)
    ws = workspace(tmp_path)
    built = shell(line, ws, image_python / "bin", wheel_dir)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "numpy" in built.stdout or "numpy" in built.stderr
    # the same line fails the build once the install is damaged
    umath = site_packages(image_python) / UMATH
    data = bytearray(umath.read_bytes())
    data[len(data) // 2] ^= 0x01
    umath.write_bytes(bytes(data))
    broken = shell(line, ws, image_python / "bin", wheel_dir)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "hash-mismatch" in broken.stdout and UMATH in broken.stdout


def test_multistage_dockerfile_run_lines(tmp_path: Path, py311: str, wheel_dir: Path) -> None:
    lines = run_lines(example("dockerfile-multistage"))
    assert len(lines) == 2 and "--python /venv/bin/python" in lines[1]
    assert "COPY --from=build /venv /venv" in example("dockerfile-multistage")
    venv = tmp_path / "venv"
    # /venv of the image is a directory of this test (COPY keeps the path: nothing to do)
    lines = [re.sub(r"(?<![\w.])/venv\b", str(venv), line) for line in lines]
    ws = workspace(tmp_path)
    build_stage = shell(lines[0], ws, make_venv(tmp_path / "build", py311) / "bin", wheel_dir)
    assert build_stage.returncode == 0, build_stage.stdout + build_stage.stderr
    final_stage = shell(lines[1], ws, make_venv(tmp_path / "final", py311) / "bin", wheel_dir)
    assert final_stage.returncode == 0, final_stage.stdout + final_stage.stderr
    assert str(venv) in final_stage.stdout  # it verified the copied venv, not its own


def test_github_actions_steps(tmp_path: Path, py311: str, wheel_dir: Path) -> None:
    workflow = example("github-actions")
    runs = re.findall(r"^\s*- run: (.+)$", workflow, re.M)
    assert len(runs) == 2
    sarif_file = re.search(r"-o (\S+)", runs[1])
    assert sarif_file and "github/codeql-action/upload-sarif" in workflow
    assert f"sarif_file: {sarif_file.group(1)}" in workflow
    ws = workspace(tmp_path)
    setup_python = make_venv(tmp_path / "setup-python", py311) / "bin"
    for step in runs:
        done = shell(step, ws, setup_python, wheel_dir)
        assert done.returncode == 0, step + done.stdout + done.stderr
    log = json.loads((ws / sarif_file.group(1)).read_text(encoding="utf-8"))
    schema = json.loads((ROOT / "tests/data/sarif-schema-2.1.0.json").read_text("utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)
    assert log["runs"][0]["properties"]["environment"]["prefix"] == str(ws / ".venv")


def test_codes_tables_are_generated_from_codes() -> None:
    spec = importlib.util.spec_from_file_location("codes_table", ROOT / "docs/codes_table.py")
    assert spec is not None and spec.loader is not None
    codes_table: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(codes_table)
    from verify_env.commands.explain import TABLE_START

    documents = codes_table.documents()
    with_table = [d for d in documents if TABLE_START in d.read_text(encoding="utf-8")]
    assert README in with_table and ROOT / "docs" / "verify-env.md" in with_table
    for doc in with_table:
        text = doc.read_text(encoding="utf-8")
        assert codes_table.updated(text) == text, (
            f"{doc.name}: stale codes table; run python docs/codes_table.py"
        )
