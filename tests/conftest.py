"""Session-wide real environments, built once and cloned (hard links) per test."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.envs import clone_env, download_wheel, make_venv, pyenv_python
from tests.support.installers import install_tools
from tests.support.shared import built_once
from tests.support.six import download_six

# Versions from the local indexes; the CPU torch wheel lies on disk (pip finds it by name).
NUMPY = "numpy==2.2.6"
NUMPY_OLD = "numpy==1.26.4"


# Session fixtures that build large real environments: a test that uses one is slow whether or
# not it says so, so `-m "not slow"` never builds them.
SLOW_FIXTURES = frozenset({"big_venv"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _fresh_process_facts() -> Iterator[None]:
    """Facts cached for the process (functools.cache) must not leak between tests."""
    yield
    from verify_env.target import model as target

    for value in vars(target).values():
        if isinstance(value, functools._lru_cache_wrapper):
            value.cache_clear()


@pytest.fixture(scope="session")
def py311() -> str:
    return pyenv_python(11)


@pytest.fixture(scope="session")
def tools(tmp_path_factory: pytest.TempPathFactory, py311: str) -> Path:
    """The bin dir of a venv holding virtualenv, pdm, pipx and uv, from the registry."""
    return built_once(tmp_path_factory, "tools", lambda d: install_tools(d / "tools", py311))


@pytest.fixture(scope="session")
def wheel_dir(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Path:
    """Downloaded foreign wheels, kept in pytest's cache between runs."""
    cache = getattr(pytestconfig, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("wheels"))
    return tmp_path_factory.mktemp("wheels")


@pytest.fixture(scope="session")
def six_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """six's wheel: the one distribution of `tests.support.six.six_env`."""
    return download_six(tmp_path_factory.mktemp("six-wheel"))


@pytest.fixture(scope="session")
def bare_venv(tmp_path_factory: pytest.TempPathFactory, py311: str) -> Path:
    # Built per worker, like numpy_venv: a clone's files are hard links to these, so a clone
    # made by another worker would change their ctime under a test that expects a warm cache.
    return make_venv(tmp_path_factory.mktemp("bare") / "venv", py311)


@pytest.fixture(scope="session")
def numpy_venv(tmp_path_factory: pytest.TempPathFactory, py311: str) -> Path:
    """A 3.11 venv with a real numpy 2 wheel installed by pip: the source of damaged clones."""
    return make_venv(tmp_path_factory.mktemp("numpy") / "venv", py311, [NUMPY])


@pytest.fixture
def numpy_env(numpy_venv: Path, tmp_path: Path) -> Path:
    """A private clone of `numpy_venv` to damage."""
    return clone_env(numpy_venv, tmp_path / "env")


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def old_numpy_wheel(tmp_path_factory: pytest.TempPathFactory, py311: str) -> Path:
    """numpy 1.26.4 for 3.11 from the local index: the source of leftovers."""
    return built_once(tmp_path_factory, "old-numpy", lambda d: _download_old_numpy(d, py311))


def _download_old_numpy(dest: Path, py311: str) -> Path:
    subprocess.run(
        [
            py311,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(dest),
            NUMPY_OLD,
        ],
        check=True,
    )
    return next(dest.glob("numpy-1.26.4-*.whl"))


@pytest.fixture(scope="session")
def cp312_numpy_wheel(tmp_path_factory: pytest.TempPathFactory, wheel_dir: Path) -> Path:
    return built_once(
        tmp_path_factory,
        "cp312-numpy",
        lambda _: download_wheel(
            wheel_dir, NUMPY, python_version="3.12", platform="manylinux_2_17_x86_64"
        ),
    )


@pytest.fixture(scope="session")
def aarch64_wheel(tmp_path_factory: pytest.TempPathFactory, wheel_dir: Path) -> Path:
    return built_once(
        tmp_path_factory,
        "aarch64-wheel",
        lambda _: download_wheel(
            wheel_dir, "markupsafe==3.0.2", python_version="3.11", platform="manylinux_2_17_aarch64"
        ),
    )


@pytest.fixture(scope="session")
def musl_wheel(tmp_path_factory: pytest.TempPathFactory, wheel_dir: Path) -> Path:
    return built_once(
        tmp_path_factory,
        "musl-wheel",
        lambda _: download_wheel(
            wheel_dir, "markupsafe==3.0.2", python_version="3.11", platform="musllinux_1_2_x86_64"
        ),
    )


@pytest.fixture(scope="session")
def big_venv(tmp_path_factory: pytest.TempPathFactory, py311: str) -> Path:
    """The clean control: numpy, scipy, pandas, scikit-learn and the CPU torch wheel."""
    return built_once(
        tmp_path_factory,
        "big",
        lambda d: make_venv(
            d / "venv", py311, ["torch==2.13.0", NUMPY, "scipy", "pandas", "scikit-learn"]
        ),
    )


def gcc() -> str:
    found = shutil.which("gcc") or shutil.which("cc")
    if not found:
        raise RuntimeError("gcc is required to build extension-module fixtures")
    return found


def env_snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """(size, mtime_ns, mode) of every entry below ``root``: proof a run wrote nothing."""
    out: dict[str, tuple[int, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[path] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return out
