"""recipe/recipe.yaml says what pyproject.toml says: version, run dependencies, Python floor,
console scripts; its test section runs ``verify-env --version`` and ``conda verify --help``; and
nothing in it makes the package depend on conda at run time."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

from tests.support.miniyaml import load

ROOT = Path(__file__).resolve().parents[2]
# tomllib is 3.11+; mypy checks against 3.10, where the project itself never reads TOML.
tomllib: Any = importlib.import_module("tomllib")


def _recipe() -> dict[str, Any]:
    recipe: dict[str, Any] = load((ROOT / "recipe" / "recipe.yaml").read_text())
    return recipe


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def _spec(text: str) -> tuple[str, str]:
    """``packaging>=23.0`` and ``packaging >=23.0`` -> (``packaging``, ``>=23.0``). An
    environment marker (``; python_version < '3.11'``) is dropped: a noarch package cannot
    express it, so the recipe depends on the package everywhere."""
    text = text.split(";", 1)[0]
    m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*(.*?)\s*(#.*)?", text)
    assert m, text
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_version_and_name() -> None:
    recipe = _recipe()
    assert recipe["context"] == {"name": _project()["name"], "version": _project()["version"]}
    assert recipe["package"] == {"name": "${{ name }}", "version": "${{ version }}"}


def test_run_dependencies_match_pyproject() -> None:
    run = [_spec(s) for s in _recipe()["requirements"]["run"]]
    python = [v for n, v in run if n == "python"]
    assert python == [_project()["requires-python"]]
    assert sorted((n, v) for n, v in run if n != "python") == sorted(
        _spec(d) for d in _project()["dependencies"]
    )
    assert all(n != "conda" for n, _ in run)  # the registry's conda is ancient; never depend


def test_entry_points_match_pyproject() -> None:
    recipe = _recipe()
    points = {_ep(e) for e in recipe["build"]["python"]["entry_points"]}
    assert points == set(_project()["scripts"].items())
    assert recipe["build"]["noarch"] == "python"
    conda_group = _project()["entry-points"]["conda"]
    assert conda_group == {"verify-env": "verify_env_conda"}  # pip installs it into dist-info
    assert "pip install ." in recipe["build"]["script"]


def _ep(text: str) -> tuple[str, str]:
    name, _, target = text.partition("=")
    return name.strip(), target.strip()


def test_test_section_runs_the_commands() -> None:
    tests = _recipe()["tests"]
    scripts = [line for t in tests if "script" in t for line in t["script"]]
    assert "verify-env --version" in scripts and "conda verify --help" in scripts
    imports = [m for t in tests if "python" in t for m in t["python"]["imports"]]
    assert {"verify_env", "verify_env_conda"} <= set(imports)
