"""Editable installs of a project with a C extension built in place (issue 16 §2): setuptools'
``pip install -e`` with a src/ layout (a ``.pth`` path line), ``editable_mode=strict`` (a link
tree under build/), a flat layout (the ``__editable__`` finder's MAPPING), ``uv pip install -e``
and legacy ``setup.py develop`` (an egg-link). Each is proven working, then verified by the real
CLI: no finding at all. The working copy's extension is the distribution's: replaced by garbage
it is an ``elf-arch`` error of that distribution (it still gets the tags check), never an
``unrecorded-extension`` with a hint to delete the developer's source package."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.envs import CliRun, run_cli
from tests.support.installers import run_checked

C_SOURCE = """
#include <Python.h>
static PyObject *add(PyObject *s, PyObject *a) {
    long x, y;
    if (!PyArg_ParseTuple(a, "ll", &x, &y)) return NULL;
    return PyLong_FromLong(x + y);
}
static PyMethodDef M[] = {{"add", add, METH_VARARGS, ""}, {NULL}};
static struct PyModuleDef D = {PyModuleDef_HEAD_INIT, "_speed", NULL, -1, M};
PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&D); }
"""


def _project(base: Path, *, src: bool, pyproject: bool) -> Path:
    project = base / "project"
    package = project / "src" / "cext" if src else project / "cext"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from cext._speed import add\n")
    (package / "_speed.c").write_text(C_SOURCE)
    c_path = "src/cext/_speed.c" if src else "cext/_speed.c"
    if pyproject:
        find = (
            '[tool.setuptools.packages.find]\nwhere = ["src"]\n'
            if src
            else ('[tool.setuptools.packages.find]\ninclude = ["cext*"]\n')
        )
        (project / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["setuptools>=74"]\n'
            'build-backend = "setuptools.build_meta"\n'
            '[project]\nname = "cext-demo"\nversion = "0.1"\n'
            f'[tool.setuptools]\next-modules = [{{name = "cext._speed", sources = ["{c_path}"]}}]\n'
            + find
        )
    else:
        (project / "setup.py").write_text(
            "from setuptools import Extension, setup\n"
            "setup(name='cext-demo', version='0.1', package_dir={'': 'src'}, packages=['cext'],\n"
            f"      ext_modules=[Extension('cext._speed', ['{c_path}'])])\n"
        )
    return project


def _pip(base: Path, py: str, tools: Path, *config: str, src: bool = True) -> Path:
    project = _project(base, src=src, pyproject=True)
    venv = base / "venv"
    run_checked(py, "-m", "venv", venv)
    run_checked(venv / "bin" / "python", "-m", "pip", "install", "-q", *config, "-e", project)
    return venv


def _uv(base: Path, py: str, tools: Path) -> Path:
    project = _project(base, src=True, pyproject=True)
    venv = base / "venv"
    env = {"UV_CACHE_DIR": str(base / "uv-cache")}
    run_checked(tools / "uv", "venv", "-q", "-p", py, venv, env=env)
    run_checked(
        tools / "uv", "pip", "install", "-q", "-e", project, env={**env, "VIRTUAL_ENV": str(venv)}
    )
    return venv


def _develop(base: Path, py: str, tools: Path) -> Path:
    project = _project(base, src=True, pyproject=False)
    venv = base / "venv"
    run_checked(py, "-m", "venv", venv)
    # setuptools as CPython 3.11 bundles it still has `develop` (an egg-link)
    run_checked(venv / "bin" / "python", "setup.py", "-q", "develop", cwd=project)
    return venv


BUILDERS: dict[str, Callable[[Path, str, Path], Path]] = {
    "pip-src-layout": lambda b, p, t: _pip(b, p, t),
    "pip-strict": lambda b, p, t: _pip(b, p, t, "--config-settings", "editable_mode=strict"),
    "pip-flat-layout-finder": lambda b, p, t: _pip(b, p, t, src=False),
    "uv": _uv,
    "setup-py-develop": _develop,
}
_built: dict[str, Path] = {}


@pytest.fixture(params=sorted(BUILDERS))
def editable_venv(
    request: pytest.FixtureRequest,
    tools: Path,
    py311: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    name = str(request.param)
    if name not in _built:
        venv = BUILDERS[name](tmp_path_factory.mktemp(name), py311, tools)
        # proven working from elsewhere than the project: the extension imports and runs
        run_checked(
            venv / "bin" / "python", "-c", "import cext; assert cext.add(1, 2) == 3", cwd=venv
        )
        _built[name] = venv
    return _built[name]


def _verify(venv: Path, cache_dir: Path) -> CliRun:
    return run_cli(
        "--python", str(venv / "bin" / "python"), "--format", "json", cache_dir=cache_dir
    )


def test_clean_editable_install_has_no_finding(editable_venv: Path, cache_dir: Path) -> None:
    run = _verify(editable_venv, cache_dir)
    assert run.returncode == 0, run.stdout[:4000]
    assert run.findings == []


@pytest.fixture
def garbage_extension(editable_venv: Path) -> Iterator[Path]:
    """The in-place extension of the working copy replaced by garbage, restored after."""
    project = editable_venv.parent / "project"
    built = [p for p in project.rglob("_speed.cpython-*.so") if "build" not in p.parts]
    assert len(built) == 1, built
    so = built[0]
    saved = so.with_suffix(".saved")
    shutil.copy2(so, saved)
    so.write_bytes(b"not an ELF file" * 10)
    try:
        yield so
    finally:
        saved.replace(so)


def test_the_working_copys_extension_is_still_checked(
    editable_venv: Path, garbage_extension: Path, cache_dir: Path
) -> None:
    run = _verify(editable_venv, cache_dir)
    assert run.returncode == 1
    errors = [f for f in run.findings if f["severity"] == "error"]
    assert {f["code"] for f in errors} == {"elf-arch"}, errors
    f = errors[0]
    assert f["distribution"] == "cext-demo"
    assert f["path"].endswith("cext/_speed.cpython-311-x86_64-linux-gnu.so")
    assert "not an ELF file" in f["message"]


def test_the_working_copys_extension_gets_the_linkage_check(
    tools: Path,
    py311: str,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    cache_dir: Path,
) -> None:
    """Rebuilt in place against a library the loader cannot find (the finder layout, whose
    package dir is on no sys.path entry): missing-library, of the editable distribution."""
    name = "pip-flat-layout-finder"
    if name not in _built:
        _built[name] = BUILDERS[name](tmp_path_factory.mktemp(name), py311, tools)
    venv = _built[name]
    (so,) = (venv.parent / "project" / "cext").glob("_speed.cpython-*.so")
    (tmp_path / "vetdep.c").write_text("int vetdep(void) { return 1; }\n")
    run_checked("cc", "-shared", "-fPIC", "-o", tmp_path / "libvetdep.so", tmp_path / "vetdep.c")
    includes = subprocess.run(
        [f"{py311}-config", "--includes"], capture_output=True, text=True, check=True
    ).stdout.split()
    saved = so.with_suffix(".saved")
    shutil.copy2(so, saved)
    try:
        run_checked(
            "cc",
            "-shared",
            "-fPIC",
            *includes,
            "-o",
            so,
            so.parent / "_speed.c",
            "-Wl,--no-as-needed",
            f"-L{tmp_path}",
            "-lvetdep",
        )
        run = _verify(venv, cache_dir)
        assert run.returncode == 1
        f = run.find("missing-library", "cext/_speed.cpython-311-x86_64-linux-gnu.so")
        assert (f["distribution"], f["severity"]) == ("cext-demo", "error")
        assert "libvetdep.so" in f["message"]
    finally:
        saved.replace(so)
