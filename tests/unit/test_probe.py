"""verify_env.target.introspect writes out packaging's marker formulas instead of importing
them; they must stay equal, on every interpreter the probe describes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import packaging
import packaging.markers
import pytest

from tests.support.envs import pyenv_python
from verify_env.target import introspect as probe

PROBE = Path(probe.__file__)
PACKAGING_DIR = str(Path(packaging.__file__).parent.parent)


def test_markers_equal_packagings_default_environment_here() -> None:
    assert probe.collect()["markers"] == packaging.markers.default_environment()


# packaging's side of the comparison on another interpreter: a release that imports on every
# interpreter the probe describes (3.8+), not the newest, which drops old Pythons as it pleases
# (26.0 dropped 3.8, 26.4 dropped 3.9). It is installed for the test alone; the comparison
# holds the probe's formulas equal to a packaging that runs there.
PACKAGING_FOR_EVERY_PYTHON = "packaging==24.2"


@pytest.fixture(scope="session")
def packaging_for_every_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    dest = tmp_path_factory.mktemp("packaging-any-python")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "--target",
            str(dest),
            PACKAGING_FOR_EVERY_PYTHON,
        ],
        check=True,
    )
    return str(dest)


@pytest.mark.parametrize("minor", [8, 9, 10, 12, 13])
def test_markers_equal_packagings_on_another_interpreter(
    minor: int, packaging_for_every_python: str
) -> None:
    python = pyenv_python(minor)
    facts = json.loads(
        subprocess.run(
            [str(python), "-B", str(PROBE), PACKAGING_DIR],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    theirs = json.loads(
        subprocess.run(
            [
                str(python),
                "-I",
                "-B",
                "-c",
                "import json, sys; sys.path.insert(0, sys.argv[1]); "
                "from packaging.markers import default_environment as d; print(json.dumps(d()))",
                packaging_for_every_python,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert facts["markers"] == theirs
    assert facts["version"][:2] == [3, minor]
