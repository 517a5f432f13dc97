"""Clean environments made by the installers people use, each proven working, verified by the
real CLI: no error and no warning. Then one recorded file damaged and one deleted in a copy of
each: both found, with the right code, distribution and path (issue 16 §1).

The installers come from the registry into a tools venv of their own: virtualenv, the project
tools built on its seeder (tox and hatch installing with pip, poetry with its own installer, each
on a small project of one's own), meson-python's editable install, pdm with its install cache in
each link mode, pipx, uv, and pip's ``--target``. Their RECORD dialects differ: rows without
hash or size, ``sha256=`` rows with an empty digest for linked files, console scripts whose
``#!`` line is edited after recording, rows relative to a directory the files were moved out of.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.envs import CliRun, run_cli
from tests.support.installers import run_checked

PACKAGES = ("six", "markupsafe", "click")  # pure, compiled, a package with many modules


@dataclass(frozen=True, slots=True)
class Built:
    """A clean environment made by one installer, and how to verify and damage it."""

    root: Path
    """The directory that holds it all (copied whole to damage it)."""
    python: Path
    """The interpreter to verify with."""
    site: Path
    """Where the installer put the packages."""
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment for verify-env (``PYTHONPATH`` for a ``--target`` dir)."""
    flip: str | None = "hash-mismatch"
    """What a flipped byte in a recorded file is: the installer's record promises a digest
    (hash-mismatch), only a size (pdm's hardlinks: a byte added is size-mismatch), or nothing
    about bytes (virtualenv's --symlink-app-data records only its links: None)."""

    def moved(self, root: Path) -> Built:
        def move(p: Path) -> Path:
            return root / p.relative_to(self.root)

        env = {k: str(move(Path(v))) for k, v in self.env.items()}
        return Built(root, move(self.python), move(self.site), env, self.flip)


def _site(venv: Path) -> Path:
    return next(venv.glob("lib/python3.*/site-packages"))


def _prove(python: Path, *modules: str, env: dict[str, str] | None = None) -> None:
    """The environment works: its modules import (the compiled one included) and run."""
    code = f"import {', '.join(modules)}; print(markupsafe.escape('<'))"
    run_checked(python, "-c", code, env=env)


def _virtualenv(tools: Path, base: Path, py: str, *flags: str) -> Built:
    env = {"VIRTUALENV_OVERRIDE_APP_DATA": str(base / "app-data")}
    venv = base / "venv"
    run_checked(tools / "virtualenv", "-q", "-p", py, *flags, venv, env=env)
    run_checked(venv / "bin" / "python", "-m", "pip", "--version")
    run_checked(venv / "bin" / "python", "-c", "import setuptools")
    flip = None if "--symlink-app-data" in flags else "hash-mismatch"
    return Built(base, venv / "bin" / "python", _site(venv), flip=flip)


def _pdm(tools: Path, base: Path, py: str, method: str) -> Built:
    project = base / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0.1"\nrequires-python = ">=3.8"\n'
        f"dependencies = {list(PACKAGES)!r}\n[tool.pdm]\ndistribution = false\n".replace("'", '"')
    )
    env = {
        "PDM_CACHE_DIR": str(base / "pdm-cache"),
        "PDM_CONFIG_FILE": str(base / "pdm-config.toml"),
        "PDM_CHECK_UPDATE": "false",
    }
    pdm = tools / "pdm"
    for key, value in (
        ("install.cache", "on"),
        ("install.cache_method", method),
        ("python.use_venv", "true"),
    ):
        run_checked(pdm, "config", "-l", key, value, env=env, cwd=project)
    run_checked(pdm, "venv", "create", py, env=env, cwd=project)
    run_checked(pdm, "install", env=env, cwd=project)
    python = project / ".venv" / "bin" / "python"
    _prove(python, *PACKAGES)
    flip = "size-mismatch" if method == "hardlink" else "hash-mismatch"
    return Built(base, python, _site(project / ".venv"), flip=flip)


def _pipx(tools: Path, base: Path, py: str) -> Built:
    env = {
        "PIPX_HOME": str(base / "pipx"),
        "PIPX_BIN_DIR": str(base / "bin"),
        "PIPX_MAN_DIR": str(base / "man"),
    }
    run_checked(tools / "pipx", "install", "--python", py, "pycowsay", env=env)
    run_checked(base / "bin" / "pycowsay", "moo")
    venv = base / "pipx" / "venvs" / "pycowsay"
    return Built(base, venv / "bin" / "python", _site(venv))


def _uv(tools: Path, base: Path, py: str, link_mode: str = "copy") -> Built:
    """uv; with ``--link-mode=symlink`` every file is a link into uv's cache."""
    venv = base / "venv"
    env = {"UV_CACHE_DIR": str(base / "uv-cache")}
    run_checked(tools / "uv", "venv", "-q", "-p", py, venv, env=env)
    run_checked(
        tools / "uv",
        "pip",
        "install",
        "-q",
        f"--link-mode={link_mode}",
        *PACKAGES,
        env={**env, "VIRTUAL_ENV": str(venv)},
    )
    _prove(venv / "bin" / "python", *PACKAGES)
    return Built(base, venv / "bin" / "python", _site(venv))


def _target(tools: Path, base: Path, py: str) -> Built:
    """``pip install --target DIR`` (an AWS Lambda layer), used through ``PYTHONPATH=DIR``."""
    venv = base / "venv"
    run_checked(py, "-m", "venv", venv)
    target = base / "layer"
    run_checked(
        venv / "bin" / "python",
        "-m",
        "pip",
        "install",
        "-q",
        "--target",
        target,
        *PACKAGES,
        "pycowsay",
    )
    env = {"PYTHONPATH": str(target)}
    _prove(venv / "bin" / "python", *PACKAGES, env=env)
    return Built(base, venv / "bin" / "python", target, env)


def _project(base: Path, py: str) -> Path:
    """A small project of one's own (hatchling-built, ``src/`` layout) needing ``PACKAGES``,
    with a tox.ini: what tox, hatch and poetry are pointed at."""
    project = base / "proj"
    (project / "src" / "proj").mkdir(parents=True)
    (project / "src" / "proj" / "__init__.py").write_text("X = 1\n")
    deps = ", ".join(f'"{p}"' for p in PACKAGES)
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "proj"\nversion = "0.1"\ndependencies = [{deps}]\n\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    )
    (project / "tox.ini").write_text(
        "[tox]\nenv_list = py\n[testenv]\n"
        f"basepython = {py}\ndeps =\n" + "".join(f"    {p}\n" for p in PACKAGES)
    )
    return project


def _tox(tools: Path, base: Path, py: str) -> Built:
    """tox's test env: virtualenv's seeder, then pip installs the deps and the project."""
    project = _project(base, py)
    run_checked(tools / "tox", "-q", "-e", "py", "--notest", cwd=project)
    venv = project / ".tox" / "py"
    _prove(venv / "bin" / "python", "proj", *PACKAGES)
    run_checked(venv / "bin" / "python", "-m", "pip", "check")
    return Built(base, venv / "bin" / "python", _site(venv))


def _hatch(tools: Path, base: Path, py: str) -> Built:
    """hatch's default env: virtualenv, then the deps and the project as an editable install."""
    project = _project(base, py)
    env = {
        "HATCH_DATA_DIR": str(base / "hatch-data"),
        "HATCH_CACHE_DIR": str(base / "hatch-cache"),
        "HATCH_PYTHON": py,
    }
    run_checked(tools / "hatch", "env", "create", env=env, cwd=project)
    venv = next((base / "hatch-data" / "env" / "virtual").glob("proj/*/proj"))
    _prove(venv / "bin" / "python", "proj", *PACKAGES)
    run_checked(venv / "bin" / "python", "-m", "pip", "check")
    return Built(base, venv / "bin" / "python", _site(venv))


def _poetry(tools: Path, base: Path, py: str) -> Built:
    """poetry's in-project venv: virtualenv, then poetry's own installer (its own RECORD
    writer), the project editable."""
    project = _project(base, py)
    env = {
        "POETRY_VIRTUALENVS_IN_PROJECT": "true",
        "POETRY_CACHE_DIR": str(base / "poetry-cache"),
        "POETRY_CONFIG_DIR": str(base / "poetry-config"),
    }
    run_checked(tools / "poetry", "env", "use", "-q", py, env=env, cwd=project)
    run_checked(tools / "poetry", "install", "-q", env=env, cwd=project)
    venv = project / ".venv"
    _prove(venv / "bin" / "python", "proj", *PACKAGES)
    run_checked(venv / "bin" / "python", "-m", "pip", "check")
    return Built(base, venv / "bin" / "python", _site(venv))


_MESON_BUILD = """project('mesproj', 'c')
py = import('python').find_installation(pure: false)
py.extension_module('_speed', 'src/speed.c', install: true, subdir: 'mesproj')
py.install_sources('src/__init__.py', subdir: 'mesproj')
"""
_SPEED_C = """#include <Python.h>
static PyObject *twice(PyObject *s, PyObject *a) { return PyNumber_Add(a, a); }
static PyMethodDef methods[] = {{"twice", twice, METH_O, ""}, {0}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "_speed", 0, -1, methods};
PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&def); }
"""


def _meson_python(tools: Path, base: Path, py: str) -> Built:
    """An editable install by meson-python: a ``.pth`` and an import hook of its own that
    finds the compiled module in the project's build dir (and rebuilds it when it changed)."""
    project = base / "mesproj"
    (project / "src").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[build-system]\nbuild-backend = "mesonpy"\nrequires = ["meson-python"]\n\n'
        '[project]\nname = "mesproj"\nversion = "0.1"\n'
    )
    (project / "meson.build").write_text(_MESON_BUILD)
    (project / "src" / "speed.c").write_text(_SPEED_C)
    (project / "src" / "__init__.py").write_text("from ._speed import twice\n")
    venv = base / "venv"
    run_checked(py, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run_checked(python, "-m", "pip", "install", "-q", "meson-python", "meson", "ninja")
    path = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    run_checked(
        python, "-m", "pip", "install", "-q", "--no-build-isolation", "-e", project, env=path
    )
    run_checked(python, "-c", "import mesproj; assert mesproj.twice(21) == 42", env=path)
    return Built(base, python, _site(venv))


BUILDERS: dict[str, Callable[[Path, Path, str], Built]] = {
    "meson-python-editable": _meson_python,
    "tox": _tox,
    "hatch": _hatch,
    "poetry": _poetry,
    "virtualenv": lambda t, b, p: _virtualenv(t, b, p),
    "virtualenv-symlink-app-data": lambda t, b, p: _virtualenv(t, b, p, "--symlink-app-data"),
    "pdm-symlink": lambda t, b, p: _pdm(t, b, p, "symlink"),
    "pdm-symlink_individual": lambda t, b, p: _pdm(t, b, p, "symlink_individual"),
    "pdm-hardlink": lambda t, b, p: _pdm(t, b, p, "hardlink"),
    "pipx": _pipx,
    "uv": _uv,
    "uv-symlink": lambda t, b, p: _uv(t, b, p, "symlink"),
    "pip-target": _target,
}

_built: dict[str, Built] = {}


@pytest.fixture(params=sorted(BUILDERS))
def built(
    request: pytest.FixtureRequest,
    tools: Path,
    py311: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Built:
    return _built_by(str(request.param), tools, py311, tmp_path_factory)


def _verify(built: Built, cache_dir: Path) -> CliRun:
    return run_cli(
        "--python", str(built.python), "--format", "json", cache_dir=cache_dir, env=built.env
    )


def test_clean_env_has_no_finding(built: Built, cache_dir: Path) -> None:
    for attempt in ("cold", "warm"):  # the stat cache must not change the verdict
        run = _verify(built, cache_dir)
        assert run.returncode == 0, (attempt, run.stdout[:4000])
        assert run.findings == [], (attempt, run.findings)
        assert run.report["summary"]["distributions"] >= 1


def _rows(site: Path) -> list[tuple[str, str]]:
    """(path, hash field) of every RECORD row of the site dir that names an existing entry."""
    rows = []
    for record in sorted(site.glob("*.dist-info/RECORD")):
        for line in record.read_text().splitlines():
            path, _, rest = line.partition(",")
            if path and not path.endswith(".pyc") and os.path.lexists(site / path):
                rows.append((path, rest.partition(",")[0]))
    return rows


def test_damage_is_found(built: Built, tmp_path: Path, cache_dir: Path) -> None:
    _verify(built, cache_dir)  # warm the cache on the clean original first
    subprocess.run(["cp", "-al", str(built.root), str(tmp_path / "copy")], check=True)
    damaged = built.moved(tmp_path / "copy")
    site = damaged.site
    rows = _rows(site)
    flipped = None
    if damaged.flip is not None:
        path = next(
            p
            for p, h in rows
            if h.startswith("sha256") and p.endswith(".py") and (site / p).stat().st_size
        )
        flipped = site / path
        data = bytearray(flipped.read_bytes())
        flipped.unlink()  # its own inode: neither the original nor pdm's cache changes
        if damaged.flip == "hash-mismatch":
            data[len(data) // 2] ^= 0x01
        else:
            data += b"#"
        flipped.write_bytes(bytes(data))
    deleted = next(
        p for p, _ in rows if p.endswith(".py") or ("/" not in p and (site / p).is_symlink())
    )
    if flipped is not None and site / deleted == flipped:
        deleted = next(p for p, _ in rows if p.endswith(".py") and site / p != flipped)
    if (site / deleted).is_dir() and not (site / deleted).is_symlink():
        raise AssertionError(f"{deleted} is a directory")
    (site / deleted).unlink()

    run = _verify(damaged, cache_dir)
    assert run.returncode == 1, run.stdout[:4000]
    errors = {(f["code"], f["path"]) for f in run.findings if f["severity"] == "error"}
    if flipped is not None:
        assert (damaged.flip, os.path.relpath(flipped, site)) in errors, run.findings
    assert ("missing-file", deleted) in errors, run.findings
    f = run.find("missing-file", deleted)
    assert f["check"] == "record" and f["distribution"], f


def _built_by(name: str, tools: Path, py311: str, factory: pytest.TempPathFactory) -> Built:
    if name not in _built:
        _built[name] = BUILDERS[name](tools, factory.mktemp(name), py311)
    return _built[name]


@pytest.mark.parametrize(
    ("edit", "flagged"),
    [
        (lambda first, body: (first + b" -s", body), False),  # another isolating flag
        (lambda first, body: (first, body.replace(b"import", b"import ", 1)), True),
        (lambda first, body: (first + b" -cimport os", body), True),  # runs other code
        (lambda first, body: (first.replace(b"python", b"python3.99"), body), True),
    ],
    ids=["flag", "body", "code-flag", "interpreter"],
)
def test_pipx_script_is_held_to_its_body(
    tools: Path,
    py311: str,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    cache_dir: Path,
    edit: Callable[[bytes, bytes], tuple[bytes, bytes]],
    flagged: bool,
) -> None:
    """pipx appends " -E" to its apps' shebangs after pip recorded them: only isolating flags
    on the #! line are let through; the body below it is held to the recorded digest."""
    built = _built_by("pipx", tools, py311, tmp_path_factory)
    subprocess.run(["cp", "-al", str(built.root), str(tmp_path / "copy")], check=True)
    damaged = built.moved(tmp_path / "copy")
    script = damaged.python.parent / "pycowsay"
    first, _, body = script.read_bytes().partition(b"\n")
    assert first.endswith(b" -E"), first  # what pipx does today
    first, body = edit(first, body)
    script.unlink()
    script.write_bytes(first + b"\n" + body)
    run = _verify(damaged, cache_dir)
    errors = {(f["code"], f["path"]) for f in run.findings if f["severity"] == "error"}
    if flagged:
        assert run.returncode == 1
        if b"python3.99" in first:  # a #! naming no interpreter also fails to start (paths)
            assert ("script-interpreter", str(script)) in errors, run.findings
            errors.discard(("script-interpreter", str(script)))
        assert {p for _, p in errors} == {"../../../bin/pycowsay"}, run.findings
    else:
        assert (run.returncode, errors) == (0, set()), run.findings


def test_target_dir_scripts_are_found_where_pip_moved_them(
    tools: Path,
    py311: str,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    cache_dir: Path,
) -> None:
    built = _built_by("pip-target", tools, py311, tmp_path_factory)
    subprocess.run(["cp", "-al", str(built.root), str(tmp_path / "copy")], check=True)
    damaged = built.moved(tmp_path / "copy")
    (damaged.site / "bin" / "pycowsay").unlink()
    run = _verify(damaged, cache_dir)
    assert run.returncode == 1
    f = run.find("missing-file", "../../bin/pycowsay")
    assert (f["distribution"], f["severity"]) == ("pycowsay", "error")


def test_pdm_refer_to_opens_no_way_out(
    tools: Path,
    py311: str,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    cache_dir: Path,
) -> None:
    """pdm's links may lead into the cache its REFER_TO names, and nowhere else (issue 18 §9):
    a REFER_TO naming a directory others can write declares nothing, so a link from the
    environment to a file in it is path-escape, never opened."""
    built = _built_by("pdm-symlink", tools, py311, tmp_path_factory)
    subprocess.run(["cp", "-al", str(built.root), str(tmp_path / "copy")], check=True)
    damaged = built.moved(tmp_path / "copy")
    site = damaged.site
    meta = next(
        p
        for p in site.iterdir()
        if p.name.lower().startswith("markupsafe-") and p.name.endswith(".dist-info")
    )
    shared = tmp_path / "shared"
    (shared / meta.name).mkdir(parents=True)
    shared.chmod(0o777)
    cached = Path((meta / "REFER_TO").read_text().strip())
    (shared / meta.name / "RECORD").write_bytes((cached / meta.name / "RECORD").read_bytes())
    refer = meta / "REFER_TO"
    refer.unlink()
    refer.write_text(str(shared))
    secret = shared / "someone-elses.txt"  # in the directory REFER_TO names: still not ours
    secret.write_text("not the environment's\n")
    link = site / "markupsafe" / "_native.py"
    link.unlink()
    link.symlink_to(secret)
    run = _verify(damaged, cache_dir)
    assert run.returncode == 1
    f = run.find("path-escape", "markupsafe/_native.py")
    assert f["distribution"] == "MarkupSafe" and "not opened" in f["message"]


@pytest.mark.parametrize("image", ["no-dist-info", "shared-dir"])
def test_a_link_out_is_followed_only_into_a_copy_of_the_wheel(
    tools: Path,
    py311: str,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    cache_dir: Path,
    image: str,
) -> None:
    """uv's symlink mode links each file to IMAGE/<its recorded path> in uv's cache; a link
    to the same path under a directory that holds no copy of the dist-info, or that others
    can write, is path-escape and never opened (issue 18 §9)."""
    built = _built_by("uv-symlink", tools, py311, tmp_path_factory)
    subprocess.run(["cp", "-al", str(built.root), str(tmp_path / "copy")], check=True)
    damaged = built.moved(tmp_path / "copy")
    site = damaged.site
    link = site / "six.py"
    assert link.is_symlink()
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "six.py").write_text("someone else's file\n")
    if image == "shared-dir":
        meta = next(site.glob("six-*.dist-info"))
        (fake / meta.name).mkdir()
        (fake / meta.name / "RECORD").write_bytes((meta / "RECORD").read_bytes())
        fake.chmod(0o777)
    link.unlink()
    link.symlink_to(fake / "six.py")
    run = _verify(damaged, cache_dir)
    assert run.returncode == 1
    f = run.find("path-escape", "six.py")
    assert f["distribution"] == "six" and "not opened" in f["message"]
