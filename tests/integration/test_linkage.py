"""The linkage check through the real CLI, on gcc-built wheels installed by pip and on real
numpy/scipy/torch wheels: each damage found with the right code, distribution and path, and
clean environments (the big venv, the Debian system python) without a single linkage error."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.envs import CliRun, break_link, clone_env, make_venv, run_cli, site_packages
from tests.support.linkwheels import (
    CONSUMER,
    FAKEBLAS,
    FAKEBLAS_ILP64_NAMES,
    FAKEBLAS_ILP64_SUFFIX,
    FAKEBLAS_NO_DGEMM,
    PLAIN_EXTENSION,
    build_extension,
    build_library,
    make_platform_wheel,
    python_include,
)

SUFFIX = ".cpython-311-x86_64-linux-gnu.so"
CORE = f"fakeblas_ext/_core{SUFFIX}"
SYSTEM_BLAS = Path("/usr/lib/x86_64-linux-gnu/libblas.so.3")
SYSTEM_LAPACK = Path("/usr/lib/x86_64-linux-gnu/liblapack.so.3")


def _call(decl: str, expr: str) -> str:
    return PLAIN_EXTENSION.replace("EXTERN_DECLS", decl).replace("CALL_EXPR", expr)


def _fn(name: str, value: int, body: str = "") -> str:
    return f"{body}\nint {name}(void) {{ return {value}; }}\n"


class Built:
    """Every wheel and outside library of the fixtures, built once per session."""

    def __init__(self, root: Path, python: str) -> None:
        inc = python_include(python)
        self.root, self.wheels = root, root / "wheels"
        b = root / "build"
        # fakeblas-ext: a BLAS consumer with its library beside it through $ORIGIN RUNPATH
        lib = build_library(b / "fakeblas.libs" / "libfakeblas.so.3", FAKEBLAS, "libfakeblas.so.3")
        core = build_extension(
            b / "fb" / f"_core{SUFFIX}",
            CONSUMER,
            "_core",
            inc,
            [str(lib), "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../fakeblas.libs"],
        )
        self.fakeblas = make_platform_wheel(
            self.wheels,
            "fakeblas-ext",
            "1.0",
            {
                "fakeblas_ext/__init__.py": "from . import _core\n",
                CORE: core,
                "fakeblas.libs/libfakeblas.so.3": lib,
            },
        )
        self.variants = {
            name: build_library(b / name / "libfakeblas.so.3", src, "libfakeblas.so.3")
            for name, src in (
                ("no-dgemm", FAKEBLAS_NO_DGEMM),
                ("ilp64-suffix", FAKEBLAS_ILP64_SUFFIX),
                ("ilp64-names", FAKEBLAS_ILP64_NAMES),
            )
        }
        # ldpath-ext: its library lives only in a directory LD_LIBRARY_PATH names
        self.ldpath_dir = root / "ldpath"
        ldp = build_library(self.ldpath_dir / "libldp.so.1", _fn("ldp", 7), "libldp.so.1")
        m = build_extension(
            b / "ldp" / f"_m{SUFFIX}", _call("int ldp(void);", "ldp()"), "_m", inc, [str(ldp)]
        )
        self.ldpath = make_platform_wheel(
            self.wheels,
            "ldpath-ext",
            "1.0",
            {"ldpath_ext/__init__.py": "from . import _m\n", f"ldpath_ext/_m{SUFFIX}": m},
        )
        # rpath-ext: libmid (no search path of its own) finds libleaf through the DT_RPATH of
        # the extension module that loads it
        libs = b / "rpath_ext.libs"
        leaf = build_library(libs / "libleaf.so.1", _fn("leaf", 3), "libleaf.so.1")
        mid = build_library(
            libs / "libmid.so.1",
            "int leaf(void);\nint mid(void) { return leaf() + 1; }\n",
            "libmid.so.1",
            [str(leaf)],
        )
        wheel_files: dict[str, Path | str] = {
            "rpath_ext.libs/libleaf.so.1": leaf,
            "rpath_ext.libs/libmid.so.1": mid,
        }
        for name, dtags in (
            ("rpath_ext", "--disable-new-dtags"),
            ("runpath_ext", "--enable-new-dtags"),
        ):
            ext = build_extension(
                b / name / f"_m{SUFFIX}",
                _call("int mid(void);", "mid()"),
                "_m",
                inc,
                [str(mid), f"-Wl,{dtags},-rpath,$ORIGIN/../rpath_ext.libs"],
            )
            wheel_files[f"{name}/_m{SUFFIX}"] = ext
            wheel_files[f"{name}/__init__.py"] = "from . import _m\n"
        self.rpath = make_platform_wheel(
            self.wheels,
            "rpath-ext",
            "1.0",
            {k: v for k, v in wheel_files.items() if not k.startswith("runpath_ext")},
        )
        runpath_files = {k: v for k, v in wheel_files.items() if k.startswith("runpath_ext")}
        self.runpath = make_platform_wheel(self.wheels, "runpath-ext", "1.0", runpath_files)
        # the same, requiring rpath-ext: its extension put libleaf in the process first
        self.runpath_req = make_platform_wheel(
            self.wheels / "req", "runpath-ext", "1.0", runpath_files, requires=["rpath-ext"]
        )
        # debblas-ext: a consumer of Debian's libblas3/liblapack3 (OpenBLAS by alternatives)
        deb = build_extension(
            b / "deb" / f"_core{SUFFIX}",
            CONSUMER,
            "_core",
            inc,
            ["-Wl,--no-as-needed", str(SYSTEM_BLAS), str(SYSTEM_LAPACK)],
        )
        self.debblas = make_platform_wheel(
            self.wheels,
            "debblas-ext",
            "1.0",
            {"debblas_ext/__init__.py": "from . import _core\n", f"debblas_ext/_core{SUFFIX}": deb},
        )
        # optional-ext / needy-ext: an accelerator needing a library nobody ships
        gone = build_library(
            b / "gone" / "libnotthere_vx.so.1", _fn("accel", 1), "libnotthere_vx.so.1"
        )
        accel = build_extension(
            b / "acc" / f"_accel{SUFFIX}",
            _call("int accel(void);", "accel()"),
            "_accel",
            inc,
            [str(gone)],
        )
        self.optional = make_platform_wheel(
            self.wheels,
            "optional-ext",
            "1.0",
            {
                "optional_ext/__init__.py": "try:\n    from . import _accel\nexcept ImportError:\n"
                "    _accel = None\n",
                f"optional_ext/_accel{SUFFIX}": accel,
            },
        )
        self.needy = make_platform_wheel(
            self.wheels,
            "needy-ext",
            "1.0",
            {
                "needy_ext/__init__.py": "from ._accel import accel\n",
                f"needy_ext/_accel{SUFFIX}": accel,
            },
        )
        # core-pkg loads libfakecore through $ORIGIN; user-pkg names it bare and requires
        # core-pkg (so the library is in the process first); orphan-pkg names it without that
        fcore = build_library(
            b / "core_pkg.libs" / "libfakecore.so.1", _fn("fcore", 5), "libfakecore.so.1"
        )
        c_ext = build_extension(
            b / "cp" / f"_c{SUFFIX}",
            _call("int fcore(void);", "fcore()"),
            "_c",
            inc,
            [str(fcore), "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../core_pkg.libs"],
        )
        u_ext = build_extension(
            b / "up" / f"_u{SUFFIX}", _call("int fcore(void);", "fcore()"), "_u", inc, [str(fcore)]
        )
        self.core = make_platform_wheel(
            self.wheels,
            "core-pkg",
            "1.0",
            {
                "core_pkg/__init__.py": "from . import _c\n",
                f"core_pkg/_c{SUFFIX}": c_ext,
                "core_pkg.libs/libfakecore.so.1": fcore,
            },
        )
        self.user = make_platform_wheel(
            self.wheels,
            "user-pkg",
            "1.0",
            {
                "user_pkg/__init__.py": "import core_pkg\nfrom . import _u\n",
                f"user_pkg/_u{SUFFIX}": u_ext,
            },
            requires=["core-pkg"],
        )
        # loose-ext: calls a function no library defines (a shared object may link so)
        loose = build_extension(
            b / "loose" / f"_l{SUFFIX}", _call("int nowhere_fn(void);", "nowhere_fn()"), "_l", inc
        )
        self.loose = make_platform_wheel(
            self.wheels,
            "loose-ext",
            "1.0",
            {"loose_ext/__init__.py": "", f"loose_ext/_l{SUFFIX}": loose},
        )
        # plugin-pkg: a library no extension module loads (a dlopen()ed plugin) lacking one
        plugin = build_library(
            b / "plugin" / "libplugin.so",
            _fn("plug", 1),
            "libplugin.so",
            ["-Wl,--no-as-needed", str(gone)],
        )
        self.plugin = make_platform_wheel(
            self.wheels,
            "plugin-pkg",
            "1.0",
            {"plugin_pkg/__init__.py": "", "plugin_pkg/libplugin.so": plugin},
        )
        self.orphan = make_platform_wheel(
            self.wheels,
            "orphan-pkg",
            "1.0",
            {"orphan_pkg/__init__.py": "from . import _u\n", f"orphan_pkg/_u{SUFFIX}": u_ext},
        )


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, py311: str) -> Built:
    return Built(tmp_path_factory.mktemp("linkwheels"), py311)


def _install(path: Path, python: str, wheels: list[Path]) -> Path:
    return make_venv(path, python, [str(w) for w in wheels], pip_args=["--no-index", "--no-deps"])


@pytest.fixture(scope="session")
def link_venv(tmp_path_factory: pytest.TempPathFactory, py311: str, built: Built) -> Path:
    """Every clean fixture wheel, installed by pip."""
    return _install(
        tmp_path_factory.mktemp("linkvenv") / "venv",
        py311,
        [
            built.fakeblas,
            built.ldpath,
            built.rpath,
            built.debblas,
            built.optional,
            built.core,
            built.user,
        ],
    )


def _verify(
    env: Path, cache_dir: Path, *args: str, env_vars: dict[str, str] | None = None
) -> CliRun:
    return run_cli(
        "--python",
        str(env / "bin" / "python"),
        "--checks",
        "linkage",
        "--format",
        "json",
        *args,
        cache_dir=cache_dir,
        env=env_vars,
    )


def _linkage(run: CliRun, severity: str | None = "error") -> list[dict[str, str]]:
    return [
        f
        for f in run.findings
        if f["check"] == "linkage" and (severity is None or f["severity"] == severity)
    ]


def _blas(run: CliRun) -> dict[str, dict[str, Any]]:
    return {e["consumer"]: e for e in run.report["environment"].get("blas", [])}


def test_clean_fixtures_have_no_findings(link_venv: Path, built: Built, cache_dir: Path) -> None:
    run = _verify(link_venv, cache_dir, env_vars={"LD_LIBRARY_PATH": str(built.ldpath_dir)})
    assert run.returncode == 0, run.stdout
    assert _linkage(run, None) == [
        f for f in _linkage(run, None) if f["distribution"] == "optional-ext"
    ]
    blas = _blas(run)
    assert blas[CORE]["provider"].endswith("site-packages/fakeblas.libs/libfakeblas.so.3")
    assert (blas[CORE]["interface"], blas[CORE]["problem"]) == ("LP64", None)
    deb = blas[f"debblas_ext/_core{SUFFIX}"]
    assert deb["family"] == "OpenBLAS" and deb["provider"].startswith("/")
    assert deb["problem"] is None
    text = run_cli(
        "--python",
        str(link_venv / "bin" / "python"),
        "--checks",
        "linkage",
        cache_dir=cache_dir,
        env={"LD_LIBRARY_PATH": str(built.ldpath_dir)},
    )
    assert (
        f"fakeblas-ext: {CORE} -> lib/python3.11/site-packages/fakeblas.libs/"
        "libfakeblas.so.3 (unknown, LP64)" in text.stdout
    )


def test_library_only_on_ld_library_path(link_venv: Path, cache_dir: Path) -> None:
    run = _verify(link_venv, cache_dir)
    assert run.returncode == 1
    (f,) = _linkage(run)
    assert (f["code"], f["distribution"], f["path"]) == (
        "missing-library",
        "ldpath-ext",
        f"ldpath_ext/_m{SUFFIX}",
    )
    assert "'libldp.so.1'" in f["message"] and "expected from outside" in f["message"]


def test_optional_extension_missing_its_library_is_a_warning(
    link_venv: Path, built: Built, cache_dir: Path
) -> None:
    run = _verify(link_venv, cache_dir, env_vars={"LD_LIBRARY_PATH": str(built.ldpath_dir)})
    (f,) = _linkage(run, "warning")
    assert (f["code"], f["distribution"]) == ("missing-library", "optional-ext")
    assert "libnotthere_vx.so.1" in f["message"] and "optionally" in f["message"]
    assert run.returncode == 0
    strict = _verify(
        link_venv, cache_dir, "--strict", env_vars={"LD_LIBRARY_PATH": str(built.ldpath_dir)}
    )
    assert strict.returncode == 1
    assert [f["code"] for f in _linkage(strict, None)] == ["missing-library"]


def test_every_undefined_symbol_by_default(
    tmp_path: Path, py311: str, built: Built, cache_dir: Path
) -> None:
    env = _install(tmp_path / "venv", py311, [built.loose])
    run = _verify(env, cache_dir)
    assert run.returncode == 1
    (f,) = _linkage(run)
    assert (f["code"], f["distribution"], f["path"]) == (
        "undefined-symbol",
        "loose-ext",
        f"loose_ext/_l{SUFFIX}",
    )
    assert "nowhere_fn" in f["message"] and "PyLong_FromLong" not in f["message"]


def test_unconditional_import_and_missing_required_dist_are_errors(
    tmp_path: Path, py311: str, built: Built, cache_dir: Path
) -> None:
    env = _install(tmp_path / "venv", py311, [built.needy, built.core, built.orphan, built.plugin])
    run = _verify(env, cache_dir)
    assert run.returncode == 1
    got = {(f["code"], f["distribution"], f["path"]) for f in _linkage(run)}
    assert got == {
        ("missing-library", "needy-ext", f"needy_ext/_accel{SUFFIX}"),
        ("missing-library", "orphan-pkg", f"orphan_pkg/_u{SUFFIX}"),
    }
    # the plugin nothing loads at import: noted, never an error or a warning
    (note,) = _linkage(run, "info")
    assert (note["distribution"], note["path"]) == ("plugin-pkg", "plugin_pkg/libplugin.so")
    assert "libnotthere_vx.so.1" in note["message"] and _linkage(run, "warning") == []


def test_deleted_provider(link_venv: Path, tmp_path: Path, cache_dir: Path) -> None:
    env = clone_env(link_venv, tmp_path / "env")
    (site_packages(env) / "fakeblas.libs" / "libfakeblas.so.3").unlink()
    run = _verify(env, cache_dir, env_vars={})
    codes = {(f["code"], f["path"]) for f in _linkage(run) if f["distribution"] == "fakeblas-ext"}
    assert codes == {("missing-library", CORE), ("blas-missing", CORE)}
    missing = run.find("missing-library", CORE)
    assert "'libfakeblas.so.3'" in missing["message"] and "ships it" in missing["message"]
    py = env / "bin/python"
    assert missing["hint"] == f"{py} -m pip install --force-reinstall --no-deps fakeblas-ext==1.0"


def _replace_provider(env: Path, source: Path) -> None:
    lib = site_packages(env) / "fakeblas.libs" / "libfakeblas.so.3"
    break_link(lib)
    shutil.copyfile(source, lib)


def test_provider_without_dgemm(
    link_venv: Path, built: Built, tmp_path: Path, cache_dir: Path
) -> None:
    env = clone_env(link_venv, tmp_path / "env")
    _replace_provider(env, built.variants["no-dgemm"])
    run = _verify(env, cache_dir)
    codes = {f["code"] for f in _linkage(run) if f["path"] == CORE}
    assert codes == {"blas-symbols", "undefined-symbol"}
    assert "dgemm_" in run.find("blas-symbols", CORE)["message"]


def test_ilp64_provider_under_an_lp64_consumer(
    link_venv: Path, built: Built, tmp_path: Path, cache_dir: Path
) -> None:
    env = clone_env(link_venv, tmp_path / "env")
    _replace_provider(env, built.variants["ilp64-suffix"])
    run = _verify(env, cache_dir)
    assert {f["code"] for f in _linkage(run) if f["path"] == CORE} == {"blas-interface"}
    assert "LP64" in run.find("blas-interface", CORE)["message"]


def test_ilp64_under_plain_names_needs_the_probe(
    link_venv: Path, built: Built, tmp_path: Path, cache_dir: Path
) -> None:
    env = clone_env(link_venv, tmp_path / "env")
    _replace_provider(env, built.variants["ilp64-names"])
    quiet = _verify(env, cache_dir)
    assert not [f for f in _linkage(quiet) if f["path"] == CORE]
    run = _verify(env, cache_dir, "--blas-probe")
    probe = run.find("blas-probe", CORE)
    assert probe["distribution"] == "fakeblas-ext" and "expected" in probe["message"]
    # the clean provider and Debian's OpenBLAS pass the same probe
    clean = _verify(link_venv, cache_dir, "--blas-probe")
    assert not [f for f in _linkage(clean) if f["code"] == "blas-probe"]


def test_rpath_inherited_from_the_loading_extension(
    link_venv: Path, tmp_path: Path, py311: str, built: Built, cache_dir: Path
) -> None:
    clean = _verify(link_venv, cache_dir)
    assert not [f for f in _linkage(clean) if f["distribution"] == "rpath-ext"]
    # the same libmid under an extension with DT_RUNPATH: not inherited, libleaf is lost
    env = _install(tmp_path / "venv", py311, [built.rpath, built.runpath])
    run = _verify(env, cache_dir)
    (f,) = _linkage(run)
    assert (f["code"], f["distribution"], f["path"]) == (
        "missing-library",
        "rpath-ext",
        "rpath_ext.libs/libmid.so.1",
    )
    assert "'libleaf.so.1'" in f["message"] and "not where the loader looks" in f["message"]
    subprocess.run(
        [
            str(env / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--force-reinstall",
            str(built.runpath_req),
        ],
        check=True,
    )
    assert _verify(env, cache_dir).returncode == 0


def test_hostile_files_named_so(
    tmp_path: Path, py311: str, bare_venv: Path, cache_dir: Path
) -> None:
    real = SYSTEM_BLAS.read_bytes()
    elf64 = bytearray(real)
    phoff = int.from_bytes(elf64[0x20:0x28], "little")
    phentsize, phnum = (
        int.from_bytes(elf64[0x36:0x38], "little"),
        int.from_bytes(elf64[0x38:0x3A], "little"),
    )
    past_end = bytearray(real)
    needed_bad = bytearray(real)
    for i in range(phnum):
        at = phoff + i * phentsize
        if int.from_bytes(real[at : at + 4], "little") == 2:  # PT_DYNAMIC
            past_end[at + 8 : at + 16] = (len(real) + 4096).to_bytes(8, "little")
            dyn = int.from_bytes(real[at + 8 : at + 16], "little")
            for j in range(0, 4096, 16):
                if int.from_bytes(real[dyn + j : dyn + j + 8], "little") == 1:  # DT_NEEDED
                    needed_bad[dyn + j + 8 : dyn + j + 16] = (1 << 30).to_bytes(8, "little")
                    break
    hostile = {
        "truncated": real[:40],
        "dynamic_past_eof": bytes(past_end),
        "needed_out_of_range": bytes(needed_bad),
        "elf32": b"\x7fELF\x01\x01\x01" + bytes(9) + (3).to_bytes(2, "little") + bytes(64),
        "bigendian": b"\x7fELF\x02\x02\x01" + bytes(9) + (3).to_bytes(2, "big") + bytes(64),
        "macho": bytes.fromhex("cffaedfe") + bytes(60),
        "pe": b"MZ" + bytes(126),
    }
    files: dict[str, bytes | str | Path] = {"hostile/__init__.py": ""}
    files.update({f"hostile/{k}{SUFFIX}": v for k, v in hostile.items()})
    files["hostile.libs/libneeded_bad.so.1"] = bytes(needed_bad)
    # a sound extension module whose library (beside it, through RUNPATH) is a truncated file
    victim = build_library(tmp_path / "b" / "libvictim.so.1", _fn("victim", 2), "libvictim.so.1")
    files[f"hostile/_user{SUFFIX}"] = build_extension(
        tmp_path / "b" / f"_user{SUFFIX}",
        _call("int victim(void);", "victim()"),
        "_user",
        python_include(py311),
        [str(victim), "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../hostile.libs"],
    )
    files["hostile.libs/libvictim.so.1"] = victim.read_bytes()[:100]
    wheel = make_platform_wheel(tmp_path / "w", "hostile", "1.0", files)
    env = _install(tmp_path / "venv", py311, [wheel])
    run = _verify(env, cache_dir, "--verbose")
    run.assert_no_traceback()
    assert run.returncode in (0, 1)
    (bad,) = _linkage(run)
    assert (bad["code"], bad["path"]) == ("missing-library", f"hostile/_user{SUFFIX}")
    assert "libvictim.so.1" in bad["message"] and "cannot use" in bad["message"]
    text = run_cli(
        "--python",
        str(env / "bin" / "python"),
        "--checks",
        "linkage",
        "--verbose",
        cache_dir=cache_dir,
    )
    text.assert_no_traceback()
    assert "not a loadable ELF object" in text.stdout


def test_numpy_without_its_openblas(numpy_env: Path, cache_dir: Path) -> None:
    libs = site_packages(numpy_env) / "numpy.libs"
    (openblas,) = libs.glob("libscipy_openblas64_*.so")
    openblas.unlink()
    run = _verify(numpy_env, cache_dir)
    assert run.returncode == 1
    umath = "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"
    missing = run.find("missing-library", umath)
    assert missing["distribution"] == "numpy" and openblas.name in missing["message"]
    assert run.find("blas-missing", umath)["distribution"] == "numpy"


def test_big_venv_is_clean_with_the_right_providers(big_venv: Path, cache_dir: Path) -> None:
    run = _verify(big_venv, cache_dir)
    assert run.returncode == 0, _linkage(run)
    assert _linkage(run, None) == []
    blas = _blas(run)
    umath = blas["numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"]
    assert "numpy.libs/libscipy_openblas64_" in umath["provider"]
    assert (umath["interface"], umath["consumer_interface"]) == ("ILP64", "ILP64")
    assert umath["family"].startswith("OpenBLAS") and umath["version"]
    # a LAPACK-only consumer (no gemm/dot) that links the BLAS library counts too
    lite = blas["numpy/linalg/lapack_lite.cpython-311-x86_64-linux-gnu.so"]
    assert lite["consumer_interface"] == "ILP64" and lite["provider"] == umath["provider"]
    scipy = [e for e in blas.values() if e["distribution"] == "scipy"]
    assert scipy and all("scipy.libs/libscipy_openblas-" in e["provider"] for e in scipy)
    assert all(e["interface"] == "LP64" and e["problem"] is None for e in scipy)


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="no system python")
def test_debian_system_python_is_clean(cache_dir: Path) -> None:
    run = run_cli(
        "--python",
        "/usr/bin/python3",
        "--checks",
        "linkage",
        "--format",
        "json",
        cache_dir=cache_dir,
    )
    assert run.returncode == 0 and _linkage(run, None) == []


def test_system_blas_packages_are_installed() -> None:
    """The Debian providers the fixtures link against (``.ci/run`` installs them)."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Status}\\n", "libopenblas0", "libblas3", "liblapack3"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.stdout.count("install ok installed") == 3, out.stdout + out.stderr


def _hwcaps_v2() -> bool:
    out = subprocess.run(
        ["/lib64/ld-linux-x86-64.so.2", "--help"], capture_output=True, text=True, check=False
    ).stdout
    return "x86-64-v2 (supported, searched)" in out


@pytest.mark.skipif(not _hwcaps_v2(), reason="this CPU/glibc does not search x86-64-v2 hwcaps")
def test_loader_wins_where_the_static_model_disagrees(
    link_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """glibc-hwcaps subdirectories are not modelled; ld.so prefers them, and is believed."""
    env = clone_env(link_venv, tmp_path / "env")
    libs = site_packages(env) / "fakeblas.libs"
    hwcaps = libs / "glibc-hwcaps" / "x86-64-v2"
    hwcaps.mkdir(parents=True)
    shutil.copyfile(libs / "libfakeblas.so.3", hwcaps / "libfakeblas.so.3")
    run = run_cli(
        "--python",
        str(env / "bin" / "python"),
        "--checks",
        "linkage",
        "--verbose",
        cache_dir=cache_dir,
    )
    line = next(x for x in run.stdout.splitlines() if "libfakeblas.so.3: the static search" in x)
    assert "glibc-hwcaps/x86-64-v2/libfakeblas.so.3, and ld.so wins" in line
    report = _verify(env, cache_dir)
    assert "glibc-hwcaps" in _blas(report)[CORE]["provider"]
    quiet = run_cli(
        "--python", str(env / "bin" / "python"), "--checks", "linkage", cache_dir=cache_dir
    )
    assert "the static search" not in quiet.stdout
