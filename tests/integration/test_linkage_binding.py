"""What ld.so checks once a closure is mapped, through the real CLI on gcc-built wheels installed
by pip: symbol versions the library the loader picks lacks (`symbol-version`), symbols nothing in
the process defines (`undefined-symbol`, by default), two KMP OpenMP runtimes in one process
(`openmp-runtimes`). Each damage is first proven by the env's own python (the real error, or
the runtimes really mapped twice), then found with its distribution, path and words; the clean
parts of the same env (weak references, GNU libgomp copies, an unrelated runtime, a v4 ISA note
on this v4 machine) stay silent."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cxxneed import build_cxx_extension, build_older_libstdcxx, cxx_need
from tests.support.envs import CliRun, run_cli, site_packages
from tests.support.linkwheels import (
    PLAIN_EXTENSION,
    build_extension,
    build_library,
    make_platform_wheel,
    python_include,
)
from verify_env.binary.isa import cpu_level

SUFFIX = ".cpython-311-x86_64-linux-gnu.so"


def _system_gomp() -> Path:
    """The GNU OpenMP runtime gcc links with ``-fopenmp`` (a real libgomp to vendor)."""
    out = subprocess.run(
        ["gcc", "-print-file-name=libgomp.so.1"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return Path(os.path.realpath(out))


# a stand-in for a KMP runtime (libiomp5/libomp): its SONAME and the identifying exports
KMP_STANDIN = r"""
int omp_get_num_threads(void) { return 1; }
void __kmpc_fork_call(void *loc, int argc, void *microtask, ...) { (void)loc; (void)argc;
    (void)microtask; }
void GOMP_parallel(void (*fn)(void *), void *data, unsigned n, unsigned flags) {
    (void)n; (void)flags; fn(data); }
"""


def _call(decl: str, expr: str) -> str:
    return PLAIN_EXTENSION.replace("EXTERN_DECLS", decl).replace("CALL_EXPR", expr)


def _ext(root: Path, inc: str, dist: str, decl: str, expr: str, link: list[str]) -> Path:
    return build_extension(root / dist / f"_m{SUFFIX}", _call(decl, expr), "_m", inc, link)


def _script(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return f"-Wl,--version-script={path}"


@dataclass(frozen=True)
class Env:
    root: Path
    venv: Path
    run: CliRun


def _build(root: Path, python: str) -> list[Path]:
    inc, b, wheels = python_include(python), root / "build", root / "wheels"
    out = []
    # cxxneed: built against a libstdc++ that defines GLIBCXX_3.4.99; the loader picks the
    # system's (ld.so.cache), whose newest is older
    newer = build_library(
        b / "newcxx" / "libstdc++.so.6",
        "int vx_newer_feature(void) { return 5; }\n",
        "libstdc++.so.6",
        [_script(b / "cxx.map", "GLIBCXX_3.4.99 { global: vx_newer_feature; local: *; };\n")],
    )
    ext = _ext(b, inc, "cxxneed", "int vx_newer_feature(void);", "vx_newer_feature()", [str(newer)])
    out.append(
        make_platform_wheel(
            wheels,
            "cxxneed",
            "1.0",
            {"cxxneed/__init__.py": "from . import _m\n", f"cxxneed/_m{SUFFIX}": ext},
        )
    )
    # cxxsys needs the system libstdc++'s newest GLIBCXX: met, unless LD_LIBRARY_PATH names a
    # directory holding an older copy (built beside, not installed)
    need = cxx_need()
    build_older_libstdcxx(root / "olderlibs" / "libstdc++.so.6", need)
    ext = build_cxx_extension(b / "cxxsys" / f"_m{SUFFIX}", need, inc, [])
    out.append(
        make_platform_wheel(
            wheels,
            "cxxsys",
            "1.0",
            {"cxxsys/__init__.py": "from . import _m\n", f"cxxsys/_m{SUFFIX}": ext},
        )
    )
    # vxuser needs VX_2.0 of libvx.so.1; the copy vxlib 1.0 ships (found through vxuser's
    # RUNPATH) defines only VX_1.0
    old = build_library(
        b / "vxold" / "libvx.so.1",
        "int vx_one(void) { return 1; }\n",
        "libvx.so.1",
        [_script(b / "vx1.map", "VX_1.0 { global: vx_one; local: *; };\n")],
    )
    new = build_library(
        b / "vxnew" / "libvx.so.1",
        "int vx_one(void) { return 1; }\nint vx_two(void) { return 2; }\n",
        "libvx.so.1",
        [
            _script(
                b / "vx2.map", "VX_1.0 { global: vx_one; };\nVX_2.0 { global: vx_two; } VX_1.0;\n"
            )
        ],
    )
    out.append(
        make_platform_wheel(
            wheels, "vxlib", "1.0", {"vxlib/__init__.py": "", "vxlib/lib/libvx.so.1": old}
        )
    )
    ext = _ext(
        b,
        inc,
        "vxuser",
        "int vx_two(void);",
        "vx_two()",
        [str(new), "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../vxlib/lib"],
    )
    out.append(
        make_platform_wheel(
            wheels,
            "vxuser",
            "1.0",
            {"vxuser/__init__.py": "import vxlib\nfrom . import _m\n", f"vxuser/_m{SUFFIX}": ext},
            requires=["vxlib"],
        )
    )
    # frame-plugin was built against frame-core 1 (frame_old); frame-core 2 dropped it. Its
    # weak reference to frame_maybe may stay unresolved.
    v1 = build_library(
        b / "frame1" / "libframe.so.2",
        "int frame_old(void) { return 1; }\nint frame_new(void) { return 2; }\n",
        "libframe.so.2",
    )
    v2 = build_library(
        b / "frame2" / "libframe.so.2", "int frame_new(void) { return 2; }\n", "libframe.so.2"
    )
    out.append(
        make_platform_wheel(
            wheels,
            "frame-core",
            "2.0",
            {"frame_core/__init__.py": "", "frame_core/lib/libframe.so.2": v2},
        )
    )
    ext = _ext(
        b,
        inc,
        "frame_plugin",
        "int frame_old(void);\nextern int frame_maybe(void) __attribute__((weak));",
        "frame_old() + (frame_maybe ? frame_maybe() : 0)",
        [str(v1), "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../frame_core/lib"],
    )
    out.append(
        make_platform_wheel(
            wheels,
            "frame-plugin",
            "1.0",
            {
                "frame_plugin/__init__.py": "import frame_core\nfrom . import _m\n",
                f"frame_plugin/_m{SUFFIX}": ext,
            },
            requires=["frame-core"],
        )
    )
    # OpenMP: omp-a and omp-b each vendor a KMP runtime renamed as auditwheel does; omp-b
    # requires omp-a (one process) and vendors GNU libgomp too; omp-c's runtime is unrelated
    for dist, tag, requires, gomp in (
        ("omp_a", "1a2b3c4d", [], False),
        ("omp_b", "5e6f7a8b", ["omp-a"], True),
        ("omp_c", "9c0d1e2f", [], False),
    ):
        name = f"libiomp5-{tag}.so"
        kmp = build_library(b / f"{dist}.libs" / name, KMP_STANDIN, name)
        files: dict[str, Path | str] = {f"{dist}.libs/{name}": kmp}
        link = [str(kmp), f"-Wl,--enable-new-dtags,-rpath,$ORIGIN/../{dist}.libs"]
        if gomp:
            copy = b / f"{dist}.libs" / "libgomp.so.1"
            shutil.copyfile(_system_gomp(), copy)
            files[f"{dist}.libs/libgomp.so.1"] = copy
            link.insert(1, str(copy))
        ext = _ext(b, inc, dist, "int omp_get_num_threads(void);", "omp_get_num_threads()", link)
        files[f"{dist}/_m{SUFFIX}"] = ext
        imports = "".join(f"import {r.replace('-', '_')}\n" for r in requires)
        files[f"{dist}/__init__.py"] = imports + "from . import _m\n"
        out.append(make_platform_wheel(wheels, dist.replace("_", "-"), "1.0", files, requires))
    # isa-ext: built for x86-64-v4 with the ISA note (tags / cpu-baseline)
    ext = _ext(b, inc, "isa_ext", "", "7", ["-march=x86-64-v4", "-mneeded"])
    out.append(
        make_platform_wheel(
            wheels,
            "isa-ext",
            "1.0",
            {"isa_ext/__init__.py": "from . import _m\n", f"isa_ext/_m{SUFFIX}": ext},
        )
    )
    return out


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, py311: str) -> Env:
    root = tmp_path_factory.mktemp("binding")
    # a venv without its own pip (ensurepip costs ~10 s here), filled by the base's pip
    venv = root / "venv"
    subprocess.run([py311, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run(
        [
            py311,
            "-m",
            "pip",
            "--python",
            str(venv / "bin/python"),
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-index",
            "--no-deps",
            *(str(w) for w in _build(root, py311)),
        ],
        check=True,
    )
    cache = root / "cache"
    run = run_cli(
        "--python",
        str(venv / "bin/python"),
        "--checks",
        "linkage",
        "--format",
        "json",
        cache_dir=cache,
    )
    return Env(root, venv, run)


def _import(
    venv: Path, module: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin/python"), "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env=None if env is None else {**os.environ, **env},
    )


def _only(run: CliRun, code: str) -> list[dict[str, str]]:
    return [f for f in run.findings if f["code"] == code]


def test_version_the_system_libstdcxx_lacks(env: Env) -> None:
    err = _import(env.venv, "cxxneed").stderr
    assert "version `GLIBCXX_3.4.99' not found" in err
    (f,) = [f for f in _only(env.run, "symbol-version") if f["distribution"] == "cxxneed"]
    assert (f["severity"], f["path"]) == ("error", f"cxxneed/_m{SUFFIX}")
    msg = f["message"]
    assert "needs version GLIBCXX_3.4.99 of libstdc++.so.6" in msg
    assert (
        "libstdc++.so.6 (ld.so.cache)" in msg and "newest GLIBCXX_ version is GLIBCXX_3.4." in msg
    )
    assert "reinstall" not in f["hint"] and "defines GLIBCXX_3.4.99" in f["hint"]


def test_version_an_older_copy_on_ld_library_path_lacks(env: Env) -> None:
    """verify-env models the loader of the process the user starts: the target's probe reads
    LD_LIBRARY_PATH from verify-env's own environment (it inherits the caller's), so the run
    sees what ``LD_LIBRARY_PATH=… python`` meets, and a run without it does not."""
    need, older = cxx_need(), env.root / "olderlibs"
    assert _import(env.venv, "cxxsys").returncode == 0
    err = _import(env.venv, "cxxsys", {"LD_LIBRARY_PATH": str(older)}).stderr
    assert f"{older}/libstdc++.so.6: version `{need.newest}' not found" in err
    assert not [f for f in env.run.findings if f["distribution"] == "cxxsys"]
    run = run_cli(
        "--python",
        str(env.venv / "bin/python"),
        "--checks",
        "linkage",
        "--format",
        "json",
        cache_dir=env.root / "cache",
        env={"LD_LIBRARY_PATH": str(older)},
    )
    assert run.returncode == 1
    (f,) = [f for f in _only(run, "symbol-version") if f["distribution"] == "cxxsys"]
    assert (f["severity"], f["path"]) == ("error", f"cxxsys/_m{SUFFIX}")
    msg = f["message"]
    assert f"needs version {need.newest} of libstdc++.so.6" in msg
    assert f"loader picks {older}/libstdc++.so.6 (LD_LIBRARY_PATH)" in msg
    assert f"newest GLIBCXX_ version is {need.older}" in msg
    hint = f["hint"]
    assert "reinstall" not in hint and "from LD_LIBRARY_PATH" in hint
    assert hint.startswith(f"remove {older} from LD_LIBRARY_PATH"), hint


def test_version_an_older_vendored_copy_lacks(env: Env) -> None:
    err = _import(env.venv, "vxuser").stderr
    assert "version `VX_2.0' not found" in err
    (f,) = [f for f in _only(env.run, "symbol-version") if f["distribution"] == "vxuser"]
    assert f["path"] == f"vxuser/_m{SUFFIX}"
    assert (
        "VX_2.0 of libvx.so.1" in f["message"] and "vxlib/lib/libvx.so.1 of vxlib" in f["message"]
    )
    assert "(runpath)" in f["message"] and "newest VX_ version is VX_1.0" in f["message"]
    assert "upgrade vxlib to a build whose libvx.so.1 defines VX_2.0:" in f["hint"]
    assert "-m pip install --upgrade vxlib" in f["hint"], f["hint"]


def test_undefined_symbol_by_default(env: Env) -> None:
    err = _import(env.venv, "frame_plugin").stderr
    assert "undefined symbol: frame_old" in err
    found = _only(env.run, "undefined-symbol")
    assert len(found) == 1, found
    (f,) = found
    assert (f["distribution"], f["path"]) == ("frame-plugin", f"frame_plugin/_m{SUFFIX}")
    assert "frame_old" in f["message"] and "frame_maybe" not in f["message"]
    assert "reinstall" not in f["hint"] and "built for the libraries" in f["hint"]
    assert "symbol references resolved" not in env.run.stdout  # a --verbose line only


def test_two_kmp_runtimes_in_one_process(env: Env) -> None:
    # the two copies really are mapped side by side when omp_b is imported
    maps = subprocess.run(
        [str(env.venv / "bin/python"), "-c", "import omp_b; print(open('/proc/self/maps').read())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "libiomp5-1a2b3c4d.so" in maps and "libiomp5-5e6f7a8b.so" in maps
    (f,) = _only(env.run, "openmp-runtimes")
    assert (f["distribution"], f["severity"]) == ("omp-b", "error")
    msg = f["message"]
    for part in (
        "omp_a.libs/libiomp5-1a2b3c4d.so",
        "from omp-a",
        f"omp_a/_m{SUFFIX}",
        "omp_b.libs/libiomp5-5e6f7a8b.so",
        "from omp-b",
        f"omp_b/_m{SUFFIX}",
        "OMP: Error #15",
    ):
        assert part in msg, part
    assert "libgomp" not in msg and "libiomp5-9c0d1e2f" not in msg
    assert "omp-a" in f["hint"] and "omp-b" in f["hint"]


def test_cpu_level_of_this_machine(env: Env) -> None:
    """Whatever this CPU is: the v4 module loads exactly when no finding says it cannot."""
    level = cpu_level()
    assert level is not None
    imported = _import(env.venv, "isa_ext")
    found = _only(env.run, "cpu-baseline")
    if level >= 4:
        assert imported.returncode == 0 and found == []
    else:
        assert "CPU ISA level is lower than required" in imported.stderr
        assert [(f["distribution"], f["path"]) for f in found] == [
            ("isa-ext", f"isa_ext/_m{SUFFIX}")
        ]


def test_nothing_else(env: Env) -> None:
    codes = sorted(
        (f["code"], f["distribution"]) for f in env.run.findings if f["code"] != "cpu-baseline"
    )
    assert codes == [
        ("openmp-runtimes", "omp-b"),
        ("symbol-version", "cxxneed"),
        ("symbol-version", "vxuser"),
        ("undefined-symbol", "frame-plugin"),
    ]
    assert env.run.returncode == 1
    assert _import(env.venv, "omp_c").returncode == 0
    assert (site_packages(env.venv) / "omp_b.libs" / "libgomp.so.1").is_file()
