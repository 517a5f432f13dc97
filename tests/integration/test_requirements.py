"""The requirements check on real environments, side by side with ``pip check``; numpy-abi on
real scipy wheels built against NumPy 1.x and 2.x."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.envs import CliRun, clone_env, make_venv, pyenv_python, run_cli
from tests.support.wheels import make_wheel

_PIP_MISSING = re.compile(r"^(\S+) \S+ requires (\S+), which is not installed\.$")
_PIP_CONFLICT = re.compile(r"^(\S+) \S+ has requirement ([A-Za-z0-9._-]+).*, but you have ")


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_check(venv: Path, python: str | None = None) -> set[tuple[str, str, str]]:
    """(dependent, code, required project) for each line of ``pip check``."""
    proc = subprocess.run(
        [python or str(venv / "bin/python"), "-m", "pip", "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    out: set[tuple[str, str, str]] = set()
    for line in proc.stdout.splitlines():
        if m := _PIP_MISSING.match(line):
            out.add((_canon(m[1]), "requirement-missing", _canon(m[2])))
        elif m := _PIP_CONFLICT.match(line):
            out.add((_canon(m[1]), "requirement-conflict", _canon(m[2])))
    return out


def verdicts(run: CliRun) -> set[tuple[str, str, str]]:
    """The same triples from our findings (the required project is the message's first
    name after 'requires')."""
    out: set[tuple[str, str, str]] = set()
    for f in run.findings:
        if (
            f["code"] in ("requirement-missing", "requirement-conflict")
            and "requires Python" not in f["message"]
        ):
            m = re.search(r" requires ([A-Za-z0-9._-]+)", f["message"])
            assert m, f
            out.add((_canon(f["distribution"]), f["code"], _canon(m[1])))
    return out


def requirements(venv: Path, cache_dir: Path, *extra: str) -> CliRun:
    return run_cli(
        "--python",
        str(venv / "bin/python"),
        "--checks",
        "requirements",
        "--format",
        "json",
        *extra,
        cache_dir=cache_dir,
    )


@pytest.fixture(scope="session")
def scipy_for_numpy1_env(tmp_path_factory: pytest.TempPathFactory, numpy_venv: Path) -> Path:
    """numpy 2.2.6 with scipy 1.11.1 (built against NumPy 1.x) forced in with --no-deps."""
    env = clone_env(numpy_venv, tmp_path_factory.mktemp("scipy-old") / "env")
    subprocess.run(
        [
            str(env / "bin/python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--disable-pip-version-check",
            "scipy==1.11.1",
        ],
        check=True,
    )
    return env


def test_numpy2_under_scipy_built_for_numpy1(scipy_for_numpy1_env: Path, cache_dir: Path) -> None:
    run = requirements(scipy_for_numpy1_env, cache_dir)
    assert run.returncode == 1, run.stdout
    conflict = run.find("requirement-conflict")
    assert conflict["distribution"] == "scipy" and conflict["version"] == "1.11.1"
    assert "numpy<1.28.0,>=1.21.6" in conflict["message"] and "2.2.6" in conflict["message"]
    abi = run.find("numpy-abi")
    assert (abi["check"], abi["distribution"], abi["severity"]) == (
        "requirements",
        "scipy",
        "error",
    )
    assert abi["path"].startswith("scipy/") and abi["path"].endswith(".so"), abi
    assert "NumPy 1.x" in abi["message"] and "numpy 2.2.6 is installed" in abi["message"]
    assert "numpy<1.28.0,>=1.21.6" in abi["message"]  # the NumPy it needs, from its metadata
    assert "numpy<2" in abi["hint"] and "--upgrade" in abi["hint"]
    python = scipy_for_numpy1_env / "bin" / "python"
    assert abi["hint"].startswith(f'{python} -m pip install --upgrade "scipy"')
    assert verdicts(run) == pip_check(scipy_for_numpy1_env)
    # the shape Cython modules fail with first, named as such (issue 17)
    imported = subprocess.run(
        [str(python), "-c", "import scipy.special"], capture_output=True, text=True
    )
    assert "ValueError: numpy.dtype size changed, may indicate binary incompatibility" in (
        imported.stderr
    )
    assert "check numpy.dtype's size first (Cython)" in abi["message"]
    assert "'numpy.dtype size changed, may indicate binary incompatibility." in abi["message"]


@pytest.mark.slow
def test_numpy2_with_scipy_built_for_numpy2_is_clean(big_venv: Path, cache_dir: Path) -> None:
    run = requirements(big_venv, cache_dir)
    assert run.returncode == 0, run.stdout
    assert run.findings == []
    assert pip_check(big_venv) == set()


def test_numpy1_with_scipy_built_for_numpy2_is_clean(
    tmp_path: Path, py311: str, cache_dir: Path
) -> None:
    """NumPy 2 headers build modules that also run on 1.x: no numpy-abi the other way round."""
    venv = make_venv(tmp_path / "venv", py311, ["numpy==1.26.4", "scipy==1.13.1"])
    run = requirements(venv, cache_dir)
    assert run.returncode == 0, run.stdout
    assert [f for f in run.findings if f["code"] == "numpy-abi"] == []


@pytest.mark.slow
def test_pandas_without_dateutil_same_verdict_as_pip(
    big_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    env = clone_env(big_venv, tmp_path / "env")
    subprocess.run(
        [str(env / "bin/python"), "-m", "pip", "uninstall", "-q", "-y", "python-dateutil"],
        check=True,
    )
    run = requirements(env, cache_dir)
    assert run.returncode == 1, run.stdout
    f = run.find("requirement-missing")
    assert (f["distribution"], f["installer"]) == ("pandas", "pip"), f
    assert "python-dateutil" in f["message"] and "not installed" in f["message"]
    assert f["hint"].startswith(f'{env / "bin/python"} -m pip install "python-dateutil')
    assert verdicts(run) == pip_check(env) == {("pandas", "requirement-missing", "python-dateutil")}


@pytest.fixture(scope="session")
def marker_wheels(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    dest = tmp_path_factory.mktemp("marker-wheels")
    return [
        make_wheel(dest, "asks-extra", "1.0", {"asks_extra.py": ""}, requires=["has-extras[fast]"]),
        make_wheel(
            dest,
            "has-extras",
            "2.0",
            {"has_extras.py": ""},
            extras=["fast", "never"],
            requires=['fast-dep>=1; extra == "fast"', 'never-dep; extra == "never"'],
        ),
        make_wheel(
            dest,
            "old-pythons-only",
            "1.0",
            {"old_pythons_only.py": ""},
            requires=['legacy-dep; python_version < "3.9"'],
        ),
        make_wheel(dest, "new-python", "1.0", {"new_python.py": ""}, requires_python=">=3.12"),
    ]


def _install(venv: Path, wheels: list[Path], *args: str) -> None:
    subprocess.run(
        [
            str(venv / "bin/python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--disable-pip-version-check",
            *args,
            *map(str, wheels),
        ],
        check=True,
    )


def test_markers_and_requested_extras_are_judged_for_the_target(
    tmp_path: Path, py311: str, marker_wheels: list[Path], cache_dir: Path
) -> None:
    venv = make_venv(tmp_path / "venv", py311)
    _install(venv, marker_wheels, "--ignore-requires-python")
    run = requirements(venv, cache_dir)
    assert run.returncode == 1, run.stdout
    by_dist = {(f["distribution"], f["code"]): f for f in run.findings}
    extra = by_dist[("has-extras", "requirement-missing")]
    assert "fast-dep>=1" in extra["message"] and "extra 'fast'" in extra["message"]
    assert "requested by asks-extra" in extra["message"]
    assert "never-dep" not in run.stdout  # nobody requests that extra
    assert ("old-pythons-only", "requirement-missing") not in by_dist  # marker false on 3.11
    python = by_dist[("new-python", "requirement-conflict")]
    assert "requires Python >=3.12" in python["message"] and "3.11" in python["message"]


def test_markers_use_the_targets_python_not_ours(
    tmp_path: Path, marker_wheels: list[Path], cache_dir: Path
) -> None:
    """verify-env runs on 3.11 here; the 3.8 target's own markers decide."""
    venv = make_venv(tmp_path / "venv38", pyenv_python(8))
    _install(venv, [w for w in marker_wheels if w.name.startswith("old_pythons_only")])
    run = requirements(venv, cache_dir)
    assert run.returncode == 1, run.stdout
    f = run.find("requirement-missing")
    assert f["distribution"] == "old-pythons-only" and "legacy-dep" in f["message"]
    assert verdicts(run) == pip_check(venv)


def test_debian_packages_requirements_are_apts_business(cache_dir: Path) -> None:
    """pip check fails on a stock Debian python (python3-gi declares pycairo, which apt leaves
    optional); for us each such line is a warning naming the OS package, never an error."""
    python = shutil.which("python3", path="/usr/bin")
    assert python is not None
    run = run_cli(
        "--python", python, "--checks", "requirements", "--format", "json", cache_dir=cache_dir
    )
    assert run.returncode == 0, run.stdout
    pip_says = pip_check(Path("/usr"), python)
    ours = {(_canon(f["distribution"]), f["code"]): f for f in run.findings}
    for dependent, code, required in pip_says:
        f = ours[(dependent, code)]
        assert f["severity"] == "warning" and f["installer"] == "dpkg", f
        assert re.search(r"python3-[a-z0-9]", f["message"]) and required in f["message"], f


def test_requirements_runs_by_default(bare_venv: Path, cache_dir: Path) -> None:
    run = run_cli(
        "--python", str(bare_venv / "bin/python"), "--format", "json", cache_dir=cache_dir
    )
    assert "requirements" in run.report["checks"] and "imports" not in run.report["checks"]


@pytest.mark.parametrize(
    ("lines", "quoted", "not_quoted"),
    [
        (  # a numpy line for another Python first: the one that applies is quoted
            ['numpy>=1.19.5; python_version < "3.9"', "numpy<1.28.0,>=1.21.6"],
            "'numpy<1.28.0,>=1.21.6'",
            "1.19.5",
        ),
        (  # metadata that allows the installed numpy: the binaries are the fault
            ["numpy>=1.21.6"],
            "its metadata's 'numpy>=1.21.6' allows numpy 2.2.6, but its binaries do not",
            "1.28.0",
        ),
    ],
    ids=["marker-for-another-python", "metadata-allows-numpy-2"],
)
def test_numpy_abi_quotes_the_requirement_that_fails(
    scipy_for_numpy1_env: Path,
    tmp_path: Path,
    cache_dir: Path,
    lines: list[str],
    quoted: str,
    not_quoted: str,
) -> None:
    """Issue 16 §5: the message quoted the first numpy line, whatever its marker."""
    env = clone_env(scipy_for_numpy1_env, tmp_path / "env")
    metadata = next(env.glob("lib/python3.*/site-packages/scipy-1.11.1.dist-info/METADATA"))
    text = metadata.read_text()
    metadata.unlink()  # hard-linked to the session env: replace, never write through
    kept = [line for line in text.split("\n") if not line.startswith("Requires-Dist: numpy")]
    at = kept.index(next(line for line in kept if line.startswith("Requires-Dist:")))
    kept[at:at] = [f"Requires-Dist: {line}" for line in lines]
    metadata.write_text("\n".join(kept))
    run = requirements(env, cache_dir)
    abi = run.find("numpy-abi")
    assert quoted in abi["message"], abi["message"]
    assert not_quoted not in abi["message"], abi["message"]
