"""verify_env.probe writes out packaging's marker formulas instead of importing them; they must
stay equal, on every interpreter the probe describes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import packaging
import packaging.markers
import pytest

from tests.support.envs import pyenv_python
from verify_env import probe

PROBE = Path(probe.__file__)
PACKAGING_DIR = str(Path(packaging.__file__).parent.parent)


def test_markers_equal_packagings_default_environment_here() -> None:
    assert probe.collect()["markers"] == packaging.markers.default_environment()


@pytest.mark.parametrize("minor", [9, 13])  # packaging 26 no longer imports on 3.8
def test_markers_equal_packagings_on_another_interpreter(minor: int) -> None:
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
                "-B",
                "-c",
                "import json, sys; sys.path.insert(0, sys.argv[1]); "
                "from packaging.markers import default_environment as d; print(json.dumps(d()))",
                PACKAGING_DIR,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert facts["markers"] == theirs
    assert facts["version"][:2] == [3, minor]
