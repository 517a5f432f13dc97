"""The linkage check's parts on real files: the ld.so.cache reader against ``ldconfig -p``, the
search order on gcc-built libraries (RPATH vs RUNPATH, inheritance, LD_LIBRARY_PATH, NODEFLIB,
$ORIGIN), optional imports decided by ast, BLAS names, and the scope edge."""

from __future__ import annotations

import os
import re
import struct
import subprocess
from pathlib import Path

import pytest

from tests.support.envs import site_packages
from tests.support.linkwheels import FAKEBLAS, build_library
from verify_env.binary.elfsym import symbol_names, symbols_matching
from verify_env.cache.statcache import StatCache
from verify_env.checks.linkage import blas
from verify_env.checks.linkage.blas_probe import naming
from verify_env.checks.linkage.facts import FileFacts
from verify_env.checks.linkage.optional import is_optional, module_name
from verify_env.inventory import build_inventory
from verify_env.loader.consumers import consumers_of
from verify_env.loader.ldcache import parse_ld_cache, read_ld_cache
from verify_env.loader.search import (
    ObjectFacts,
    SearchSetup,
    closure,
    expand,
    read_facts,
    search_setup,
)
from verify_env.target.model import resolve_target
from verify_env.transaction.scope import Scope


def test_ld_cache_agrees_with_ldconfig() -> None:
    cache = read_ld_cache("x86_64", 64)
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    want: dict[str, list[str]] = {}
    for m in re.finditer(r"^\s+(\S+) \(libc6,x86-64[^)]*\) => (\S+)$", out, re.M):
        want.setdefault(m[1], []).append(m[2])
    assert want and {k: tuple(v) for k, v in want.items()} == cache
    assert "libc.so.6" in cache


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"glibc-ld.so.cache1.1",
        b"ld.so-1.7.0\0\0\0\0\xff\xff",
        b"glibc-ld.so.cache1.1" + struct.pack("<II", 10**6, 0) + bytes(24),
    ],
)
def test_damaged_ld_cache_is_empty(data: bytes) -> None:
    assert parse_ld_cache(data, "x86_64", 64) == {}


def test_ld_cache_string_offsets_out_of_range_are_dropped() -> None:
    head = b"glibc-ld.so.cache1.1" + struct.pack("<IIB3xI12x", 1, 0, 2, 0)
    entry = struct.pack("<iIIIQ", 0x0303, 10**6, 10**6, 0, 0)
    assert parse_ld_cache(head + entry, "x86_64", 64) == {}


def _setup(**kw: object) -> SearchSetup:
    base = search_setup("x86_64", 64, "glibc", {})
    return SearchSetup(**{**{f: getattr(base, f) for f in base.__slots__}, **kw})


def test_expand_tokens() -> None:
    s = _setup()
    assert expand("$ORIGIN/../lib", "/a/b", s) == "/a/b/../lib"
    assert expand("${ORIGIN}/x", "/a", s) == "/a/x"
    assert expand("/opt/$LIB", "/a", s) == f"/opt/{s.lib}"
    assert expand("/opt/$PLATFORM", "/a", s) == "/opt/x86_64"
    assert expand("$UNKNOWN/x", "/a", s) is None
    assert expand("relative/dir", "/a", s) is None
    assert s.lib in ("lib/x86_64-linux-gnu", "lib64")


def _chain(tmp: Path, top_link: list[str]) -> Path:
    """top.so -> libmid.so.1 -> libleaf.so.1; leaf and mid in tmp/deps, top in tmp/top."""
    deps = tmp / "deps"
    leaf = build_library(deps / "libleaf.so.1", "int leaf(void){return 1;}\n", "libleaf.so.1")
    mid = build_library(
        deps / "libmid.so.1",
        "int leaf(void);\nint mid(void){return leaf();}\n",
        "libmid.so.1",
        [str(leaf)],
    )
    return build_library(
        tmp / "top" / "libtop.so",
        "int mid(void);\nint top(void){return mid();}\n",
        "libtop.so",
        [str(mid), *top_link],
    )


def _facts(path: str) -> ObjectFacts | str:
    return read_facts(path)


def test_rpath_is_inherited_and_runpath_is_not(tmp_path: Path) -> None:
    rp = _chain(tmp_path / "r", ["-Wl,--disable-new-dtags,-rpath,$ORIGIN/../deps"])
    cl = closure(str(rp), _setup(), _facts)
    assert cl.missing == []
    assert cl.resolved["libleaf.so.1"].how == "rpath"
    ru = _chain(tmp_path / "u", ["-Wl,--enable-new-dtags,-rpath,$ORIGIN/../deps"])
    cl = closure(str(ru), _setup(), _facts)
    assert cl.resolved["libmid.so.1"].how == "runpath"
    (miss,) = cl.missing
    assert miss.name == "libleaf.so.1" and miss.requester.endswith("libmid.so.1")
    assert "/etc/ld.so.cache" in miss.searched
    # what the loader of the top object passes down (a Python process: libpython's RPATH)
    inherited = closure(str(ru), _setup(), _facts, inherited=(str(tmp_path / "u" / "deps"),))
    assert inherited.missing == [] and inherited.resolved["libleaf.so.1"].how == "rpath"


def test_ld_library_path_and_preloaded_names(tmp_path: Path) -> None:
    top = _chain(tmp_path, [])
    assert {m.name for m in closure(str(top), _setup(), _facts).missing} == {"libmid.so.1"}
    deps = str(tmp_path / "deps")
    cl = closure(str(top), _setup(ld_library_path=(deps,)), _facts)
    assert cl.missing == [] and cl.resolved["libmid.so.1"].how == "LD_LIBRARY_PATH"
    pre = closure(str(top), _setup(), _facts, preloaded={"libmid.so.1": f"{deps}/libmid.so.1"})
    assert pre.missing == [] and pre.resolved["libmid.so.1"].how == "loaded"


def test_nodeflib_skips_cache_and_default_dirs(tmp_path: Path) -> None:
    src = "#include <string.h>\nint a(const char *s){return (int)strlen(s);}\n"
    plain = build_library(tmp_path / "a" / "liba.so", src, "liba.so", ["-Wl,--no-as-needed"])
    nodef = build_library(
        tmp_path / "b" / "libb.so", src, "libb.so", ["-Wl,--no-as-needed", "-Wl,-z,nodefaultlib"]
    )
    libc = closure(str(plain), _setup(), _facts).resolved.get("libc.so.6")
    assert libc is not None and libc.how == "ld.so.cache"
    f = read_facts(str(nodef))
    assert isinstance(f, ObjectFacts) and f.nodeflib
    assert [m.name for m in closure(str(nodef), _setup(), _facts).missing] == ["libc.so.6"]


def test_candidate_of_another_class_is_skipped(tmp_path: Path) -> None:
    top = _chain(tmp_path, ["-Wl,--disable-new-dtags,-rpath,$ORIGIN/../wrong:$ORIGIN/../deps"])
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    head = bytearray((tmp_path / "deps" / "libmid.so.1").read_bytes())
    head[4] = 1  # ELFCLASS32: ld.so skips it and searches on
    (wrong / "libmid.so.1").write_bytes(bytes(head[:64]))
    cl = closure(str(top), _setup(), _facts)
    found = cl.resolved["libmid.so.1"].path
    assert found is not None and os.path.normpath(found) == str(tmp_path / "deps" / "libmid.so.1")


def test_blas_names() -> None:
    assert blas.split("scipy_dgemm_64_") == ("dgemm_", True)
    assert blas.split("cblas_dgemm64_") == ("cblas_dgemm", True)
    assert blas.split("dgemm_64") == ("dgemm_", True)
    assert blas.split("ddot_") == ("ddot_", False)
    assert blas.split("LAPACKE_dgesv") == ("LAPACKE_dgesv", False)
    assert blas.split("memcpy") is None and blas.split("PyInit_x") is None
    assert blas.is_blas_soname("libscipy_openblas64_-32a4b2a6.so")
    assert blas.is_blas_soname("libblas.so.3") and not blas.is_blas_soname("libc.so.6")
    assert naming(("scipy_dgemm_64_", "scipy_cblas_ddot64_"), True) == ("scipy_", "_64_")
    assert naming(("cblas_ddot",), False) == ("", "_")
    # issue 16 §4: scipy_dgesvd_ is another routine, not dgesv with a "d_" suffix
    assert naming(("scipy_dgesvd_",), False) == ("scipy_", "_")
    assert naming(("dgesvd_64_", "sgemm_64_", "dgemm_64_"), True) == ("", "_64_")
    assert naming(("scipy_dgesvd_", "scipy_dgesv_"), False) == ("scipy_", "_")


def test_symbols_matching_agrees_with_the_full_table(tmp_path: Path) -> None:
    lib = build_library(
        tmp_path / "libfakeblas.so.3",
        FAKEBLAS + "\ndouble dsdot_(void){return 0;}\ndouble sdot_(void){return 0;}\n",
        "libfakeblas.so.3",
    )
    full = symbol_names(lib)
    fast = symbols_matching(lib, blas.NAMES)
    assert fast.defined == {n for n in full.defined if blas.split(n)}
    assert {"sdot_", "dsdot_", "ddot_", "dgemm_", "dgesv_"} <= fast.defined


def test_prefetched_symbol_names_are_the_files_own(tmp_path: Path) -> None:
    """The binding pass takes the names the prefetch workers read (NUL-joined across the pipe):
    exports, strong and weak imports each as the file's own table says, for the files
    prefetched and for an object met before (as the interpreter's libraries are)."""
    source = (
        "extern int needed_strong(void);\n"
        "extern int needed_weak(void) __attribute__((weak));\n"
        '__attribute__((visibility("hidden"))) int kept_inside(void) {{ return 1; }}\n'
        "int exported_{n}(void) {{ return needed_strong() + kept_inside()"
        " + (needed_weak ? needed_weak() : 0); }}\n"
    )
    libs = [
        build_library(tmp_path / f"lib{n}.so", source.format(n=n), f"lib{n}.so")
        for n in ("met", "one", "two")
    ]
    facts = FileFacts(StatCache(None))
    facts.object(str(libs[0]))  # met before the prefetch
    facts.prefetch([str(p) for p in libs[1:]], 2)
    for lib in libs:
        got, own = facts.symbol_names(str(lib)), symbol_names(lib)
        assert got == own, lib.name
        assert f"exported_{lib.name[3:-3]}" in got.defined and "kept_inside" not in got.defined
        assert "needed_strong" in got.undefined and "needed_weak" in got.weak_undefined


@pytest.mark.parametrize(("storage", "version"), [("const char", "0.3.91"), ("char", "0.3.92")])
def test_openblas_build_string_in_read_only_or_writable_data(
    tmp_path: Path, storage: str, version: str
) -> None:
    """The literal is looked for in .rodata first; a build that keeps it writable (.data) is
    still read, from the whole file."""
    config = f"OpenBLAS {version} USE64BITINT DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"
    lib = build_library(
        tmp_path / "libopenblas64_.so.0",
        FAKEBLAS + f'\n{storage} openblas_config_str[] = "{config}";\n'
        "const char *openblas_get_config(void) { return openblas_config_str; }\n"
        'const char openblas_corename[] = "Haswell";\n',
        "libopenblas64_.so.0",
    )
    sections = subprocess.run(
        ["readelf", "-SW", str(lib)], capture_output=True, text=True, check=True
    ).stdout
    assert " .rodata " in sections and " .data " in sections
    assert blas.read_build_string(str(lib)) == config
    facts = blas.BlasFacts((), ("dgemm_",), "OpenBLAS", config)
    assert blas.version_of(facts) == version
    assert blas.interface_of(str(lib), None, facts, as_consumer=False) == "ILP64"


def test_optional_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    cases = {
        "guarded": "try:\n    from . import _ext\nexcept ImportError:\n    _ext = None\n",
        "guarded_tuple": "try:\n    import pkg._ext\nexcept (OSError, ModuleNotFoundError):\n"
        "    pass\n",
        "in_function": "def f():\n    from pkg._ext import x\n    return x\n",
        "unconditional": "from ._ext import thing\n",
        "parent": "from .. import _ext\n",
        "by_name": "import importlib\nm = importlib.import_module('pkg._ext')\n",
    }
    for name, text in cases.items():
        (pkg / f"{name}.py").write_text(text)

    def opt(*names: str) -> bool:
        return is_optional("pkg._ext", [(str(pkg / f"{n}.py"), f"pkg/{n}.py") for n in names])

    assert opt("guarded", "guarded_tuple", "in_function")
    assert opt()  # nothing imports it by name at all
    assert not opt("guarded", "unconditional")
    assert not opt("by_name")
    sub = pkg / "sub"
    sub.mkdir()
    (sub / "m.py").write_text(cases["parent"])
    assert not is_optional("pkg._ext", [(str(sub / "m.py"), "pkg/sub/m.py")])
    assert (
        module_name(
            "/s/pkg/sub/_e.cpython-311-x86_64-linux-gnu.so",
            ["/s"],
            [".cpython-311-x86_64-linux-gnu.so", ".so"],
        )
        == "pkg.sub._e"
    )


def test_scope_widens_to_consumers_of_a_changed_library(numpy_venv: Path) -> None:
    target = resolve_target(str(numpy_venv / "bin" / "python"))
    inventory = build_inventory(target)
    (openblas,) = (site_packages(numpy_venv) / "numpy.libs").glob("libscipy_openblas64_*.so")
    assert consumers_of(inventory, [str(openblas)]) == {"numpy"}
    assert consumers_of(inventory, [openblas.name]) == {"numpy"}
    assert consumers_of(inventory, ["libblas.so.3"]) == frozenset()
    narrow = Scope(frozenset({"pip"}), "pip install pip")
    wide = narrow.with_consumers(inventory, [os.fspath(openblas)])
    assert wide.keys == frozenset({"pip", "numpy"}) and "numpy" in wide.reason
    assert Scope.full().with_consumers(inventory, [str(openblas)]) == Scope.full()


def test_musl_order(tmp_path: Path) -> None:
    """musl: LD_LIBRARY_PATH, then the RPATH/RUNPATH of the object and its loaders, then the
    path file's directories; no ld.so.cache."""
    top = _chain(tmp_path, ["-Wl,--enable-new-dtags,-rpath,$ORIGIN/../deps"])
    deps = str(tmp_path / "deps")
    musl = _setup(musl=True, ld_cache={}, default_dirs=("/nonexistent",))
    cl = closure(str(top), musl, _facts)
    assert cl.resolved["libmid.so.1"].how == "rpath"
    # unlike glibc, musl passes RUNPATH down the chain: libmid finds libleaf through it
    assert {m.name for m in cl.missing} <= {"libc.so.6"}
    first = closure(
        str(top), _setup(musl=True, ld_library_path=(deps,), ld_cache={}, default_dirs=()), _facts
    )
    assert first.resolved["libmid.so.1"].how == "LD_LIBRARY_PATH"
    fallback = closure(
        str(top), _setup(musl=True, ld_cache={}, default_dirs=(deps,)), _facts, inherited=()
    )
    assert fallback.resolved["libleaf.so.1"].path is not None


def test_realpaths_agree_with_os_realpath_on_a_tree_of_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Library dirs are full of links (libfoo.so.1 -> libfoo.so.1.2, lib64 -> lib): the
    per-directory resolver must answer exactly what os.path.realpath answers."""
    from verify_env.loader.search import RealPaths

    real = tmp_path / "real" / "lib"
    real.mkdir(parents=True)
    (real / "libfoo.so.1.2").write_bytes(b"x")
    (real / "sub").mkdir()
    (real / "sub" / "libbar.so").write_bytes(b"y")
    (tmp_path / "lib64").symlink_to(real)  # a directory link
    (real / "libfoo.so.1").symlink_to("libfoo.so.1.2")  # relative
    (real / "libfoo.so").symlink_to("libfoo.so.1")  # a chain
    (real / "abs.so").symlink_to(real / "sub" / "libbar.so")  # absolute
    (real / "up.so").symlink_to("sub/../libfoo.so.1.2")  # '..' after a component
    (real / "sublink").symlink_to("sub")
    (real / "via.so").symlink_to("sublink/../libfoo.so")  # '..' after a link: kernel order
    (real / "dangling.so").symlink_to("nowhere.so")
    (real / "loop.so").symlink_to("loop.so")
    names = [
        "libfoo.so.1.2",
        "libfoo.so.1",
        "libfoo.so",
        "abs.so",
        "up.so",
        "via.so",
        "dangling.so",
        "loop.so",
        "missing.so",
        "sub/libbar.so",
        "sublink/libbar.so",
    ]
    resolve = RealPaths()
    (tmp_path / "deep").symlink_to(real / "sub")  # deep/.. is real/, not tmp_path/
    (tmp_path / "hop").symlink_to("deep/../sublink")  # a directory link through '..'
    (tmp_path / "ring").symlink_to("ring2")
    (tmp_path / "ring2").symlink_to("ring")  # a loop of directory links
    monkeypatch.chdir(tmp_path)  # relative paths resolve from the working directory
    for base in (
        str(real),
        str(tmp_path / "lib64"),
        str(tmp_path / "lib64" / "sub" / ".."),
        str(tmp_path / "deep" / ".."),
        str(tmp_path / "hop"),
        str(tmp_path / "ring"),
        "lib64/./sub/..",
        "deep/../..",
    ):
        for name in names:
            path = os.path.join(base, name)
            assert resolve(path) == os.path.realpath(path), path
