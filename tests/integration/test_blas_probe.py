"""``--blas-probe`` on official numpy/scipy wheels (issue 16 §4): the provider is loaded as its
consumer loads it. scipy 1.11's vendored OpenBLAS needs the vendored libgfortran its consumers
find in ``scipy.libs`` through their RUNPATH; loaded bare it cannot open (27 false
``blas-probe`` errors before). A clean env, proven by real linear algebra, probes clean."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.envs import run_cli


@pytest.fixture(scope="module")
def old_scipy(tmp_path_factory: pytest.TempPathFactory, py311: str) -> Path:
    venv = tmp_path_factory.mktemp("probe") / "venv"
    subprocess.run([py311, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run(
        [py311, "-m", "pip", "--python", str(venv / "bin/python"), "install", "-q",
         "--disable-pip-version-check", "numpy==1.26.4", "scipy==1.11.1"],
        check=True,
    )  # fmt: skip
    return venv


def test_official_wheels_probe_clean(old_scipy: Path, cache_dir: Path) -> None:
    work = subprocess.run(
        [str(old_scipy / "bin/python"), "-c",
         "import numpy as np, scipy.linalg as la; "
         "print(la.solve(np.array([[2.0, 1.0], [1.0, 3.0]]), np.array([3.0, 5.0])).round(6))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert work.stdout.strip() == "[0.8 1.4]"
    run = run_cli(
        "--python", str(old_scipy / "bin/python"), "--checks", "linkage", "--blas-probe",
        "--format", "json", cache_dir=cache_dir,
    )  # fmt: skip
    assert [f for f in run.findings if f["severity"] == "error"] == []
    assert run.returncode == 0
    providers = {e["provider"] for e in run.report["environment"]["blas"]}
    assert any("scipy.libs/libopenblas" in p for p in providers)
    assert any("numpy.libs/libopenblas64_" in p for p in providers)
