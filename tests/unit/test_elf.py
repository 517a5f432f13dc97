"""verify_env.binary.elf against real gcc-built files, hand-built 32-bit and big-endian files, and
hostile inputs (each must raise ElfFormatError, nothing else, and quickly)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import platform
import random
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from verify_env.binary.elf import (
    DynamicInfo,
    ElfFormatError,
    ElfHeader,
    ReadStats,
    VersionNeed,
    classify,
    glibc_versions_needed,
    machine_name,
    read_dynamic,
    read_header,
)
from verify_env.binary.elfsym import (
    Symbol,
    SymbolNames,
    dynamic_strings,
    dynamic_symbols,
    name_table,
)

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT = 0, 1, 4, 5, 6, 10, 11
DT_SONAME, DT_RPATH, DT_RUNPATH = 14, 15, 29
DT_GNU_HASH, DT_VERSYM, DT_FLAGS_1 = 0x6FFFFEF5, 0x6FFFFFF0, 0x6FFFFFFB
DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF
STB_GLOBAL, STT_OBJECT, STT_FUNC = 1, 1, 2
DF_1_NOW, DF_1_NODELETE = 0x1, 0x8
EM_X86_64, EM_386, EM_PPC64, EM_S390 = 62, 3, 21, 22

ON_LINUX_GCC = sys.platform.startswith("linux") and shutil.which("gcc") is not None
needs_gcc = pytest.mark.skipif(not ON_LINUX_GCC, reason="needs gcc on Linux")
MAX_SECONDS = 2.0  # a hostile file must be rejected well within this


# --------------------------------------------------------------------------------------------
# Hand-built ELF files: any class, any byte order, every table the reader looks at.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tiny:
    data: bytes
    dynamic: int  # file offset (= virtual address) of the dynamic section, or -1
    verneed: int  # file offset of the first Elf_Verneed, or -1


def build_elf(
    *,
    is64: bool,
    little: bool,
    machine: int = EM_X86_64,
    interp: str | None = None,
    needed: Sequence[str] = ("libc.so.6",),
    soname: str | None = "libtiny.so.1",
    rpath: str | None = None,
    runpath: str | None = None,
    verneed: Sequence[tuple[str, Sequence[str]]] = (("libc.so.6", ("GLIBC_2.4", "GLIBC_2.17")),),
    symbols: Sequence[tuple[str, bool, int]] = (("tiny_fn", True, 1), ("memcpy", False, 3)),
    hash_style: str = "sysv",
    flags_1: int = 0,
    dynamic: bool = True,
) -> Tiny:
    """A minimal but valid ET_DYN file; one PT_LOAD maps it whole at address 0.

    `symbols` are (name, defined, versym index); vernaux indices count up from 2.
    """
    e = "<" if little else ">"
    ehsize, phentsize = (64, 56) if is64 else (52, 32)
    nph = 1 + dynamic + (interp is not None)
    base = ehsize + nph * phentsize
    body = bytearray()

    def place(blob: bytes) -> int:
        body.extend(b"\0" * (-len(body) % 8))
        body.extend(blob)
        return base + len(body) - len(blob)

    strtab = bytearray(b"\0")

    def s(text: str) -> int:
        strtab.extend(text.encode() + b"\0")
        return len(strtab) - len(text.encode()) - 1

    dyn: list[tuple[int, int]] = [(DT_NEEDED, s(n)) for n in needed]
    if soname is not None:
        dyn.append((DT_SONAME, s(soname)))
    if rpath is not None:
        dyn.append((DT_RPATH, s(rpath)))
    if runpath is not None:
        dyn.append((DT_RUNPATH, s(runpath)))
    sym_names = [s(name) for name, _, _ in symbols]
    vn_strings = [(s(f), [s(v) for v in vs]) for f, vs in verneed]
    interp_off = place(interp.encode() + b"\0") if interp is not None else 0
    sym_fmt = e + ("IBBHQQ" if is64 else "IIIBBH")
    syms = [struct.pack(sym_fmt, *([0] * 6))]
    for (_, defined, _), name in zip(symbols, sym_names, strict=True):
        info, shndx = (STB_GLOBAL << 4) | STT_FUNC, 7 if defined else 0
        fields = (name, info, 0, shndx, 0, 0) if is64 else (name, 0, 0, info, 0, shndx)
        syms.append(struct.pack(sym_fmt, *fields))
    nsyms = len(syms)
    if hash_style == "sysv":
        word = "Q" if is64 and machine == EM_S390 else "I"
        words = [1, nsyms, nsyms - 1] + [max(i - 1, 0) for i in range(nsyms)]
        hash_blob = struct.pack(f"{e}{len(words)}{word}", *words)
    else:  # gnu: one bucket holding symbols 1.., one bloom word
        bloom = b"\0" * (8 if is64 else 4)
        chain = [0] * (nsyms - 2) + [1] if nsyms > 1 else []
        hash_blob = (
            struct.pack(e + "IIII", 1, 1, 1, 6)
            + bloom
            + struct.pack(f"{e}{1 + len(chain)}I", 1 if nsyms > 1 else 0, *chain)
        )
    dyn.append((DT_STRTAB, place(bytes(strtab))))
    dyn.append((DT_STRSZ, len(strtab)))
    dyn.append((DT_SYMTAB, place(b"".join(syms))))
    dyn.append((DT_SYMENT, struct.calcsize(sym_fmt)))
    dyn.append((DT_HASH if hash_style == "sysv" else DT_GNU_HASH, place(hash_blob)))
    versym = [0] + [v for _, _, v in symbols]
    dyn.append((DT_VERSYM, place(struct.pack(f"{e}{len(versym)}H", *versym))))
    vn = bytearray()
    other = 2
    for i, (file_idx, names) in enumerate(vn_strings):
        last = i == len(vn_strings) - 1
        vn += struct.pack(
            e + "HHIII", 1, len(names), file_idx, 16, 0 if last else 16 * (1 + len(names))
        )
        for j, name in enumerate(names):
            nxt = 0 if j == len(names) - 1 else 16
            vn += struct.pack(e + "IHHII", 0, 0, other, name, nxt)
            other += 1
    verneed_off = place(bytes(vn)) if vn_strings else -1
    if vn_strings:
        dyn += [(DT_VERNEED, verneed_off), (DT_VERNEEDNUM, len(vn_strings))]
    if flags_1:
        dyn.append((DT_FLAGS_1, flags_1))
    dyn.append((DT_NULL, 0))
    dyn_fmt = e + ("qQ" if is64 else "iI")
    dyn_blob = b"".join(struct.pack(dyn_fmt, t, v) for t, v in dyn)
    dyn_off = place(dyn_blob) if dynamic else -1
    total = base + len(body)

    def phdr(p_type: int, off: int, size: int) -> bytes:
        if is64:
            return struct.pack(e + "IIQQQQQQ", p_type, 4, off, off, off, size, size, 8)
        return struct.pack(e + "IIIIIIII", p_type, off, off, off, size, size, 4, 8)

    phdrs = phdr(PT_LOAD, 0, total)
    if dynamic:
        phdrs += phdr(PT_DYNAMIC, dyn_off, len(dyn_blob))
    if interp is not None:
        phdrs += phdr(PT_INTERP, interp_off, len(interp) + 1)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1 if little else 2, 1, 0]) + b"\0" * 8
    rest = "HHIQQQIHHHHHH" if is64 else "HHIIIIIHHHHHH"
    head = ident + struct.pack(
        e + rest, 3, machine, 1, 0, ehsize, 0, 0, ehsize, phentsize, nph, 0, 0, 0
    )
    return Tiny(head + phdrs + bytes(body), dyn_off, verneed_off)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


CLASSES = [
    pytest.param(True, True, id="64-little"),
    pytest.param(True, False, id="64-big"),
    pytest.param(False, True, id="32-little"),
    pytest.param(False, False, id="32-big"),
]


@pytest.mark.parametrize(("is64", "little"), CLASSES)
@pytest.mark.parametrize("hash_style", ["sysv", "gnu"])
def test_hand_built_file_in_every_class_and_byte_order(
    tmp_path: Path, is64: bool, little: bool, hash_style: str
) -> None:
    tiny = build_elf(
        is64=is64,
        little=little,
        machine=EM_X86_64 if is64 else EM_386,
        interp="/lib/ld-tiny.so.1",
        needed=("libc.so.6", "libm.so.6"),
        runpath="$ORIGIN/../lib::/opt/x:",
        rpath="/old",
        flags_1=DF_1_NOW,
        hash_style=hash_style,
    )
    path = write(tmp_path, "libtiny.so", tiny.data)
    info = read_dynamic(path)
    assert info == DynamicInfo(
        header=ElfHeader(64 if is64 else 32, little, EM_X86_64 if is64 else EM_386, 0, 3),
        interpreter="/lib/ld-tiny.so.1",
        needed=("libc.so.6", "libm.so.6"),
        soname="libtiny.so.1",
        rpath=("/old",),
        runpath=("$ORIGIN/../lib", "/opt/x"),
        flags_1=DF_1_NOW,
        version_needs=(VersionNeed("libc.so.6", ("GLIBC_2.4", "GLIBC_2.17")),),
        has_dynamic=True,
    )
    assert read_header(tiny.data[:64]) == info.header
    assert glibc_versions_needed(info) == (2, 17)
    assert dynamic_symbols(path) == (
        Symbol("tiny_fn", True, None, STB_GLOBAL, STT_FUNC),
        Symbol("memcpy", False, "GLIBC_2.17", STB_GLOBAL, STT_FUNC),
    )
    # the column reader (no step per symbol) sees the same, in every class and byte order
    table = name_table(path)
    assert table.names() == SymbolNames(frozenset({"tiny_fn"}), frozenset({"memcpy"}), frozenset())
    assert table.strings == dynamic_strings(path) and b"\0tiny_fn\0" in table.strings


@pytest.mark.skipif(shutil.which("readelf") is None, reason="needs binutils readelf")
@pytest.mark.parametrize(("is64", "little"), CLASSES)
@pytest.mark.parametrize("hash_style", ["sysv", "gnu"])
def test_hand_built_files_are_valid_for_readelf(
    tmp_path: Path, is64: bool, little: bool, hash_style: str
) -> None:
    """The fixtures are checked by an independent reader, not only by the one under test."""
    tiny = build_elf(
        is64=is64,
        little=little,
        hash_style=hash_style,
        verneed=TWO_FILES,
        symbols=(("tiny_fn", True, 1), ("memcpy", False, 3), ("cos", False, 5)),
    )
    path = write(tmp_path, "libtiny.so", tiny.data)
    out = subprocess.run(
        ["readelf", "-W", "-D", "-s", "-d", str(path)], capture_output=True, text=True, check=True
    )
    assert out.stderr == ""
    assert "Symbol table for image contains 4 entries" in out.stdout
    for text in ("tiny_fn", "memcpy@GLIBC_2.17 (3)", "cos@GLIBC_2.29 (5)", "[libtiny.so.1]"):
        assert text in out.stdout
    assert [s.version for s in dynamic_symbols(path)] == [None, "GLIBC_2.17", "GLIBC_2.29"]


def test_s390x_hash_table_has_eight_byte_words(tmp_path: Path) -> None:
    tiny = build_elf(is64=True, little=False, machine=EM_S390)
    path = write(tmp_path, "libs390.so", tiny.data)
    assert machine_name(read_dynamic(path).header.machine) == "s390x"
    assert [s.name for s in dynamic_symbols(path)] == ["tiny_fn", "memcpy"]


def test_file_without_dynamic_section(tmp_path: Path) -> None:
    path = write(tmp_path, "static", build_elf(is64=False, little=False, dynamic=False).data)
    info = read_dynamic(path)
    assert not info.has_dynamic
    assert (info.needed, info.rpath, info.runpath, info.version_needs) == ((), (), (), ())
    assert (info.soname, info.interpreter, info.flags_1) == (None, None, 0)
    assert dynamic_symbols(path) == ()


def test_dynamic_section_without_strings(tmp_path: Path) -> None:
    tiny = build_elf(is64=True, little=True, needed=(), soname=None, verneed=(), symbols=())
    path = write(tmp_path, "libempty.so", tiny.data)
    info = read_dynamic(path)
    assert info.has_dynamic and info.needed == () and info.version_needs == ()
    assert glibc_versions_needed(info) is None
    assert dynamic_symbols(path) == ()


def test_reads_only_what_it_needs_from_a_large_sparse_file(tmp_path: Path) -> None:
    path = write(tmp_path, "libbig.so", build_elf(is64=True, little=True).data)
    with path.open("r+b") as f:
        f.truncate(512 << 20)  # sparse: costs no disk, but a whole-file read would be slow
    stats = ReadStats()
    assert read_dynamic(path, stats=stats).needed == ("libc.so.6",)
    assert len(dynamic_symbols(path, stats=stats)) == 2
    assert 0 < stats.bytes_read <= 4 * 4096 and stats.reads <= 4


# --------------------------------------------------------------------------------------------
# Real files built with gcc.
# --------------------------------------------------------------------------------------------

LIB_C = r"""
#include <math.h>
#include <stdlib.h>
int foo_data = 42;
double foo_cos(double x) { return cos(x) + (getenv("FOO_X") != NULL); }
"""
BIG_C = "const char foo_big[16 << 20] = {1};  /* .rodata: pushes .dynamic 16 MiB out */\n"
PROG_C = "double foo_cos(double);\nint main(void) { return foo_cos(0.0) > 5.0; }\n"
STATIC_C = "int main(void) { return 0; }\n"
VERSION_MAP = "FOO_1.0 { global: foo_cos; foo_data; local: *; };\n"


def gcc(*args: str | Path) -> None:
    proc = subprocess.run(["gcc", *map(str, args)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"gcc {' '.join(map(str, args))} failed:\n{proc.stderr}")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not ON_LINUX_GCC:
        pytest.skip("needs gcc on Linux")
    d = tmp_path_factory.mktemp("elf")
    (d / "foo.c").write_text(LIB_C)
    (d / "big.c").write_text(LIB_C + BIG_C)
    (d / "main.c").write_text(PROG_C)
    (d / "static.c").write_text(STATIC_C)
    (d / "foo.map").write_text(VERSION_MAP)
    (d / "rp").mkdir()
    lib = ["-shared", "-fPIC", "-O0", "-Wl,-soname,libfoo.so.1", "-Wl,-rpath,$ORIGIN/../lib"]
    libm = ["-Wl,--no-as-needed", "-lm"]
    out = {
        "rpath": d / "rp" / "libfoo.so",
        "runpath": d / "libfoo-runpath.so",
        "versioned": d / "libfoo-versioned.so",
        "sysv": d / "libfoo-sysv.so",
        "gnu": d / "libfoo-gnu.so",
        "big": d / "libfoo-big.so",
        "prog": d / "prog",
        "obj": d / "foo.o",
    }
    gcc(*lib, "-Wl,--disable-new-dtags", "-Wl,-z,nodelete", "-o", out["rpath"], d / "foo.c", *libm)
    gcc(*lib, "-Wl,--enable-new-dtags", "-Wl,-z,now", "-o", out["runpath"], d / "foo.c", *libm)
    gcc(*lib, f"-Wl,--version-script={d / 'foo.map'}", "-o", out["versioned"], d / "foo.c", *libm)
    gcc(*lib, "-Wl,--hash-style=sysv", "-o", out["sysv"], d / "foo.c", *libm)
    gcc(*lib, "-Wl,--hash-style=gnu", "-o", out["gnu"], d / "foo.c", *libm)
    gcc(*lib, "-o", out["big"], d / "big.c", *libm)
    gcc(
        "-o",
        out["prog"],
        d / "main.c",
        f"-L{d / 'rp'}",
        "-lfoo",
        "-Wl,-rpath-link," + str(d / "rp"),
    )
    gcc("-c", "-fPIC", "-o", out["obj"], d / "foo.c")
    static = subprocess.run(
        ["gcc", "-static", "-o", str(d / "static"), str(d / "static.c")],
        capture_output=True,
        check=False,
    )
    if static.returncode == 0:
        out["static"] = d / "static"
    return out


def versions_from(info: DynamicInfo, file: str) -> tuple[str, ...]:
    return next(n.versions for n in info.version_needs if n.file == file)


@needs_gcc
def test_shared_library_with_rpath(built: dict[str, Path]) -> None:
    info = read_dynamic(built["rpath"])
    assert info.has_dynamic and info.interpreter is None
    assert info.header.type == 3 and info.header.little_endian == (sys.byteorder == "little")
    assert info.header.elf_class == (64 if sys.maxsize > 2**32 else 32)
    assert info.soname == "libfoo.so.1"
    assert info.rpath == ("$ORIGIN/../lib",) and info.runpath == ()
    assert info.needed.index("libm.so.6") < info.needed.index("libc.so.6")
    assert info.flags_1 & DF_1_NODELETE
    assert any(v.startswith("GLIBC_2.") for v in versions_from(info, "libc.so.6"))
    assert any(v.startswith("GLIBC_2.") for v in versions_from(info, "libm.so.6"))
    found = glibc_versions_needed(info)
    assert found is not None and found[0] == 2


@needs_gcc
def test_shared_library_with_runpath(built: dict[str, Path]) -> None:
    info = read_dynamic(built["runpath"])
    assert info.runpath == ("$ORIGIN/../lib",) and info.rpath == ()
    assert info.flags_1 & DF_1_NOW
    assert info.soname == "libfoo.so.1"


@needs_gcc
def test_dynamic_symbols_of_a_real_library(built: dict[str, Path]) -> None:
    syms = {s.name: s for s in dynamic_symbols(built["rpath"])}
    assert syms["foo_cos"] == Symbol("foo_cos", True, None, STB_GLOBAL, STT_FUNC)
    assert syms["foo_data"].defined and syms["foo_data"].type == STT_OBJECT
    for imported in ("cos", "getenv"):
        assert not syms[imported].defined
        assert (syms[imported].version or "").startswith("GLIBC_"), syms[imported]


TAILS_C = r"""
extern int needed_strong(void);
extern int needed_weak(void) __attribute__((weak));
__attribute__((visibility("hidden"))) int kept_inside(void) { return 1; }
__attribute__((visibility("protected"))) int shown_protected(void) { return 2; }
int sdot_(void) { return needed_strong() + kept_inside(); }
int dsdot_(void) { return needed_weak ? needed_weak() : 0; }
int cblas_dsdot(void) { return 3; }
"""


@needs_gcc
@pytest.mark.parametrize("extra", ["imports", "exports"])
def test_name_table_agrees_with_the_symbol_by_symbol_reader(tmp_path: Path, extra: str) -> None:
    """`name_table` reads the symbol table by columns, and takes a kind with many names from
    the split string table, one with few name by name: its names are those of
    `dynamic_symbols`, a name the linker stores as the tail of another (``sdot_`` inside
    ``dsdot_``) included, on both paths (60 more imports, or 60 more exports)."""
    more = (
        "extern int extra_{0}(void);\n"
        if extra == "imports"
        else "int extra_{0}(void) {{ return 0; }}\n"
    )
    calls = " + ".join(f"extra_{i}()" for i in range(60)) if extra == "imports" else "0"
    source = TAILS_C + "".join(more.format(i) for i in range(60))
    source += f"int uses_extras(void) {{ return {calls}; }}\n"
    (tmp_path / "tails.c").write_text(source)
    lib = tmp_path / "libtails.so"
    gcc("-shared", "-fPIC", "-O0", "-o", lib, tmp_path / "tails.c")
    strings = name_table(lib).strings
    assert b"\0dsdot_\0" in strings and b"\0sdot_\0" not in strings  # merged: a tail
    syms = dynamic_symbols(lib)
    local, weak = 0, 2  # STB_LOCAL, STB_WEAK
    got = name_table(lib).names()
    many = 3 * len(got.defined) >= strings.count(0), 3 * len(got.undefined) >= strings.count(0)
    assert many == ((False, True) if extra == "imports" else (True, False))  # both paths
    assert got.undefined == {s.name for s in syms if not s.defined and s.binding != weak}
    assert got.weak_undefined == {s.name for s in syms if not s.defined and s.binding == weak}
    exported = {s.name for s in syms if s.defined and s.binding != local}
    assert got.defined == exported - {"kept_inside"}
    assert {"sdot_", "dsdot_", "cblas_dsdot", "shown_protected", "uses_extras"} <= got.defined
    assert "needed_strong" in got.undefined and "needed_weak" in got.weak_undefined
    blas = re.compile(rb"\x00((?:cblas_)?d?sdot_?[a-z]*)(?=\x00)")
    assert name_table(lib).matching(blas).defined == {"sdot_", "dsdot_", "cblas_dsdot"}


@needs_gcc
def test_dynamic_symbols_with_defined_versions(built: dict[str, Path]) -> None:
    syms = {s.name: s for s in dynamic_symbols(built["versioned"])}
    assert syms["foo_cos"].version == "FOO_1.0" and syms["foo_cos"].defined
    assert syms["foo_data"].version == "FOO_1.0"
    assert (syms["cos"].version or "").startswith("GLIBC_")
    assert "FOO_1.0" not in [
        v for n in read_dynamic(built["versioned"]).version_needs for v in n.versions
    ]


@needs_gcc
def test_sysv_and_gnu_hash_give_the_same_symbols(built: dict[str, Path]) -> None:
    def key(s: Symbol) -> tuple[str, bool, str | None]:
        return s.name, s.defined, s.version

    sysv, gnu = dynamic_symbols(built["sysv"]), dynamic_symbols(built["gnu"])
    assert sorted(map(key, sysv)) == sorted(map(key, gnu))
    assert "foo_cos" in {s.name for s in gnu}


@needs_gcc
def test_program_with_interpreter(built: dict[str, Path]) -> None:
    info = read_dynamic(built["prog"])
    assert info.interpreter is not None and os.path.basename(info.interpreter).startswith("ld")
    assert info.needed[0] == "libfoo.so.1" and "libc.so.6" in info.needed
    assert info.header.type in (2, 3)  # ET_EXEC, or ET_DYN for a PIE


@needs_gcc
def test_object_file_and_static_program_are_not_dynamic(built: dict[str, Path]) -> None:
    obj = read_dynamic(built["obj"])
    assert not obj.has_dynamic and obj.header.type == 1 and obj.needed == ()
    if "static" in built:
        info = read_dynamic(built["static"])
        assert not info.has_dynamic and info.interpreter is None and info.needed == ()


@needs_gcc
def test_large_library_reads_only_a_few_blocks(built: dict[str, Path]) -> None:
    assert built["big"].stat().st_size > 16 << 20
    stats = ReadStats()
    assert read_dynamic(built["big"], stats=stats).soname == "libfoo.so.1"
    assert "foo_big" in {s.name for s in dynamic_symbols(built["big"], stats=stats)}
    assert stats.bytes_read < 64 * 1024, stats


def test_running_interpreter() -> None:
    exe = os.path.realpath(sys.executable)
    with open(exe, "rb") as f:
        if classify(f.read(4)) != "elf":
            pytest.skip("the running interpreter is not an ELF file")
    info = read_dynamic(exe)
    arch = platform.machine()
    if arch in ("x86_64", "aarch64", "s390x"):
        assert machine_name(info.header.machine, little_endian=info.header.little_endian) == arch
    if info.has_dynamic:
        assert info.interpreter is not None
        assert isinstance(dynamic_symbols(exe), tuple)


def stdlib_extensions() -> list[Path]:
    """ELF extension modules of the running Python (lib-dynload, where the math and _ssl
    modules live unless they are built in)."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    dirs = {sysconfig.get_config_var("DESTSHARED")}
    for name in ("math", "_ssl"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin and spec.origin.endswith(suffixes):
            dirs.add(os.path.dirname(spec.origin))
    found = {p for d in dirs if d and os.path.isdir(d) for p in Path(d).iterdir()}
    return sorted(p for p in found if p.name.endswith(suffixes) and is_elf(p))


def is_elf(path: Path) -> bool:
    with path.open("rb") as f:
        return classify(f.read(4)) == "elf"


def test_stdlib_extension_modules() -> None:
    exts = stdlib_extensions()
    if not exts:
        pytest.skip("no ELF extension modules in lib-dynload")
    preferred = [p for p in exts if p.name.split(".")[0] in ("_ssl", "math")] or exts[:1]
    for ext in preferred:
        info = read_dynamic(ext)
        assert info.has_dynamic and info.interpreter is None
        init = "PyInit_" + ext.name.split(".")[0]
        assert any(s.name == init and s.defined for s in dynamic_symbols(ext)), ext


@pytest.mark.skipif(shutil.which("readelf") is None, reason="needs binutils readelf")
def test_needed_agrees_with_readelf() -> None:
    exts = stdlib_extensions()[:20]
    if not exts:
        pytest.skip("no ELF extension modules in lib-dynload")
    for ext in exts:
        out = subprocess.run(
            ["readelf", "-dW", str(ext)], capture_output=True, text=True, check=True
        )
        needed = [
            ln.split("[", 1)[1].rstrip("]") for ln in out.stdout.splitlines() if "(NEEDED)" in ln
        ]
        assert list(read_dynamic(ext).needed) == needed, ext


# --------------------------------------------------------------------------------------------
# Hostile inputs.
# --------------------------------------------------------------------------------------------


def rejects(path: Path, match: str | None = None) -> None:
    """Both readers raise ElfFormatError (and nothing else), quickly."""
    for reader in (read_dynamic, dynamic_symbols):
        start = time.perf_counter()
        with pytest.raises(ElfFormatError, match=match):
            reader(path)
        assert time.perf_counter() - start < MAX_SECONDS, reader


def survives(path: Path) -> None:
    """Each reader returns or raises ElfFormatError (and nothing else), quickly."""
    for reader in (read_dynamic, dynamic_symbols, name_table):
        start = time.perf_counter()
        try:
            reader(path)
        except ElfFormatError:
            pass
        assert time.perf_counter() - start < MAX_SECONDS, reader


@dataclass(frozen=True)
class Layout:
    """Where things are in a (real) file, worked out independently of the reader."""

    e: str
    is64: bool
    phdrs: list[tuple[int, int, int, int, int]]  # (entry offset, type, offset, vaddr, filesz)

    @classmethod
    def of(cls, data: bytes) -> Layout:
        is64, e = data[4] == 2, "<" if data[5] == 1 else ">"
        if is64:
            (phoff,) = struct.unpack_from(e + "Q", data, 32)
            phentsize, phnum = struct.unpack_from(e + "HH", data, 54)
        else:
            (phoff,) = struct.unpack_from(e + "I", data, 28)
            phentsize, phnum = struct.unpack_from(e + "HH", data, 42)
        rows = []
        for i in range(phnum):
            at = phoff + i * phentsize
            if is64:
                t, _, off, vaddr, _, filesz = struct.unpack_from(e + "IIQQQQ", data, at)
            else:
                t, off, vaddr, _, filesz = struct.unpack_from(e + "IIIII", data, at)
            rows.append((at, t, off, vaddr, filesz))
        return cls(e, is64, rows)

    def phdr(self, p_type: int) -> tuple[int, int, int, int, int]:
        return next(r for r in self.phdrs if r[1] == p_type)

    def dynamic(self, data: bytes) -> list[tuple[int, int, int]]:
        """(entry offset, tag, value) up to DT_NULL."""
        _, _, off, _, size = self.phdr(PT_DYNAMIC)
        fmt = self.e + ("qQ" if self.is64 else "iI")
        step = struct.calcsize(fmt)
        out = []
        for at in range(off, off + size, step):
            tag, val = struct.unpack_from(fmt, data, at)
            if tag == DT_NULL:
                break
            out.append((at, tag, val))
        return out

    def offset_of(self, addr: int) -> int:
        for _, t, off, vaddr, filesz in self.phdrs:
            if t == PT_LOAD and vaddr <= addr < vaddr + filesz:
                return off + addr - vaddr
        raise AssertionError(addr)

    def patch_word(self, data: bytearray, at: int, value: int, wide: bool) -> None:
        struct.pack_into(self.e + ("Q" if wide and self.is64 else "I"), data, at, value)


@pytest.fixture(scope="module")
def real_so(built: dict[str, Path]) -> bytes:
    return built["rpath"].read_bytes()


def test_empty_file(tmp_path: Path) -> None:
    rejects(write(tmp_path, "libempty.so", b""), "too short")


@needs_gcc
@pytest.mark.parametrize("cut", [10, 40, 63, "after-phdrs"])
def test_truncated_real_library(tmp_path: Path, real_so: bytes, cut: int | str) -> None:
    if cut == "after-phdrs":
        layout = Layout.of(real_so)
        cut = max(at for at, *_ in layout.phdrs) + (56 if layout.is64 else 32)
    assert isinstance(cut, int)
    rejects(write(tmp_path, "libcut.so", real_so[:cut]))


@needs_gcc
def test_dynamic_section_past_end_of_file(tmp_path: Path, real_so: bytes) -> None:
    data = bytearray(real_so)
    layout = Layout.of(real_so)
    at = layout.phdr(PT_DYNAMIC)[0]
    layout.patch_word(data, at + (8 if layout.is64 else 4), len(data) + 0x1000, wide=True)
    rejects(
        write(tmp_path, "libdyn.so", bytes(data)),
        r"dynamic section at offset 0x[0-9a-f]+ .*past the end",
    )


@needs_gcc
def test_needed_string_out_of_range(tmp_path: Path, real_so: bytes) -> None:
    data = bytearray(real_so)
    layout = Layout.of(real_so)
    at = next(at for at, tag, _ in layout.dynamic(real_so) if tag == DT_NEEDED)
    layout.patch_word(data, at + (8 if layout.is64 else 4), 0x7FFFFFF0, wide=True)
    path = write(tmp_path, "libneeded.so", bytes(data))
    with pytest.raises(ElfFormatError, match="DT_NEEDED string offset 0x7ffffff0"):
        read_dynamic(path)


@needs_gcc
@pytest.mark.parametrize("phnum", [0xFFFE, 0xFFFF])
def test_huge_program_header_count(tmp_path: Path, real_so: bytes, phnum: int) -> None:
    data = bytearray(real_so)
    layout = Layout.of(real_so)
    struct.pack_into(layout.e + "H", data, 56 if layout.is64 else 44, phnum)
    if phnum == 0xFFFF:  # PN_XNUM: the count moves to section header 0's sh_info
        shoff = struct.unpack_from(
            layout.e + ("Q" if layout.is64 else "I"), data, 40 if layout.is64 else 32
        )[0]
        struct.pack_into(layout.e + "I", data, shoff + (44 if layout.is64 else 28), 0xFFFFFFFF)
    rejects(write(tmp_path, "libphnum.so", bytes(data)), "program headers")


@needs_gcc
def test_verneed_chain_looping_back_in_a_real_library(tmp_path: Path, real_so: bytes) -> None:
    data = bytearray(real_so)
    layout = Layout.of(real_so)
    dyn = layout.dynamic(real_so)
    first = layout.offset_of(next(v for _, t, v in dyn if t == DT_VERNEED))
    last = first
    while (nxt := struct.unpack_from(layout.e + "I", data, last + 12)[0]) != 0:
        last += nxt
    assert last != first, "the fixture needs versions from two files"
    struct.pack_into(layout.e + "I", data, last + 12, (first - last) & 0xFFFFFFFF)
    at = next(at for at, t, _ in dyn if t == DT_VERNEEDNUM)
    layout.patch_word(data, at + (8 if layout.is64 else 4), 0xFFFFFFFF, wide=True)
    rejects(write(tmp_path, "libloop.so", bytes(data)), "loop")


TWO_FILES = (("libc.so.6", ("GLIBC_2.4", "GLIBC_2.17")), ("libm.so.6", ("GLIBC_2.2", "GLIBC_2.29")))


@pytest.mark.parametrize(("is64", "little"), CLASSES)
@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        pytest.param(16 + 16 + 12, -16, "vna_next .* loop", id="vna_next-back"),
        pytest.param(48 + 12, -48, "vn_next .* loop", id="vn_next-back"),
        pytest.param(12, 4, "vn_next .* overlaps", id="vn_next-overlap"),
        pytest.param(8, 0, "vn_aux .* overlaps", id="vn_aux-zero"),
        pytest.param(16 + 12, 3, "vna_next .* overlaps", id="vna_next-overlap"),
        pytest.param(16 + 8, 0x7FFFFFFF, "vna_name string offset", id="vna_name-range"),
        pytest.param(4, 0x7FFFFFFF, "vn_file string offset", id="vn_file-range"),
    ],
)
def test_hostile_verneed_chains(
    tmp_path: Path, is64: bool, little: bool, field: int, value: int, match: str
) -> None:
    tiny = build_elf(
        is64=is64,
        little=little,
        verneed=TWO_FILES,
        symbols=(("tiny_fn", True, 1), ("cos", False, 5)),
    )
    data = bytearray(tiny.data)
    e = "<" if little else ">"
    struct.pack_into(e + "I", data, tiny.verneed + field, value & 0xFFFFFFFF)
    if field == 48 + 12:  # make the declared count big enough to keep walking
        num_at = Layout.of(tiny.data).dynamic(tiny.data)
        at = next(at for at, t, _ in num_at if t == DT_VERNEEDNUM)
        struct.pack_into(e + ("Q" if is64 else "I"), data, at + (8 if is64 else 4), 0x7FFFFFFF)
    rejects(write(tmp_path, "libvn.so", bytes(data)), match)


def test_symbol_count_beyond_the_file(tmp_path: Path) -> None:
    tiny = build_elf(is64=True, little=True)
    data = bytearray(tiny.data)
    layout = Layout.of(tiny.data)
    hash_at = next(v for _, t, v in layout.dynamic(tiny.data) if t == DT_HASH)
    struct.pack_into("<I", data, hash_at + 4, 0xFFFFFFFF)  # nchain
    path = write(tmp_path, "libnchain.so", bytes(data))
    assert read_dynamic(path).soname == "libtiny.so.1"  # only the symbol reader cares
    with pytest.raises(ElfFormatError, match="nchain 4294967295 do not fit"):
        dynamic_symbols(path)


def test_gnu_hash_chain_without_end(tmp_path: Path) -> None:
    tiny = build_elf(is64=False, little=False, hash_style="gnu")
    data = bytearray(tiny.data)
    layout = Layout.of(tiny.data)
    gnu_at = next(v for _, t, v in layout.dynamic(tiny.data) if t == DT_GNU_HASH)
    chain_end = gnu_at + 16 + 4 + 4 + 8  # header, one bloom word, one bucket, two chain words
    struct.pack_into(">I", data, chain_end - 4, 0)  # clear the end bit of the last chain word
    load_at = layout.phdr(PT_LOAD)[0]
    struct.pack_into(">II", data, load_at + 16, chain_end, chain_end)  # p_filesz, p_memsz
    path = write(tmp_path, "libgnu.so", bytes(data))
    with pytest.raises(
        ElfFormatError, match=r"DT_GNU_HASH chain at offset 0x[0-9a-f]+ is unterminated"
    ):
        dynamic_symbols(path)


def test_endless_gnu_hash_chain_in_a_large_file_is_rejected_fast(tmp_path: Path) -> None:
    tiny = build_elf(is64=True, little=True, hash_style="gnu")
    data = bytearray(tiny.data)
    layout = Layout.of(tiny.data)
    gnu_at = next(v for _, t, v in layout.dynamic(tiny.data) if t == DT_GNU_HASH)
    chains_at = gnu_at + 16 + 8 + 4
    size = 64 << 20
    # Point the only bucket at a chain that starts in the zeros past the real data.
    struct.pack_into("<I", data, gnu_at + 24, 1 + (len(data) + 64 - chains_at) // 4)
    load_at = layout.phdr(PT_LOAD)[0]
    struct.pack_into("<QQ", data, load_at + 32, size, size)  # p_filesz, p_memsz
    path = write(tmp_path, "libendless.so", bytes(data))
    with path.open("r+b") as f:
        f.truncate(size)
    assert read_dynamic(path).soname == "libtiny.so.1"
    start = time.perf_counter()
    with pytest.raises(ElfFormatError, match=r"DT_GNU_HASH chain .* is unterminated"):
        dynamic_symbols(path)
    assert time.perf_counter() - start < MAX_SECONDS


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (struct.pack("<I", 0xFEEDFACF), "mach-o"),
        (struct.pack(">I", 0xFEEDFACF), "mach-o"),
        (struct.pack("<I", 0xFEEDFACE), "mach-o"),
        (struct.pack(">I", 0xFEEDFACE), "mach-o"),
        (bytes.fromhex("cafebabe"), "mach-o"),
        (b"MZ\x90\x00", "pe"),
        (b"\x7fELF", "elf"),
        (b"#!/bin/sh\n", "other"),
        (b"\x7fEL", "other"),
        (b"", "other"),
    ],
)
def test_classify(tmp_path: Path, head: bytes, kind: str) -> None:
    assert classify(head) == kind
    if kind in ("mach-o", "pe"):
        rejects(write(tmp_path, "libfake.so", head + b"\0" * 4092), f"not an ELF file \\({kind}\\)")


def test_bad_header_fields(tmp_path: Path) -> None:
    good = build_elf(is64=True, little=True).data
    for at, value, match in [(4, 3, "EI_CLASS 3"), (5, 0, "EI_DATA 0")]:
        data = bytearray(good)
        data[at] = value
        rejects(write(tmp_path, "libbad.so", bytes(data)), match)
    with pytest.raises(ElfFormatError, match="need 64"):
        read_header(good[:63])
    with pytest.raises(ElfFormatError, match="e_ident needs 16"):
        read_header(good[:10])
    data = bytearray(good)
    struct.pack_into("<H", data, 54, 8)  # e_phentsize too small for a program header
    rejects(write(tmp_path, "libphent.so", bytes(data)), "e_phentsize 8 at offset 0x36")


def test_random_bytes(tmp_path: Path) -> None:
    rng = random.Random(20240601)
    for i in range(50):
        blob = rng.randbytes(rng.randrange(1, 2048))
        if blob.startswith(b"\x7fELF"):
            continue
        rejects(write(tmp_path, f"librandom{i}.so", blob), "not an ELF file|too short")


def test_random_bytes_behind_an_elf_identification(tmp_path: Path) -> None:
    rng = random.Random(7)
    for i in range(200):
        ident = b"\x7fELF" + bytes([rng.choice((1, 2)), rng.choice((1, 2)), 1, 0]) + bytes(8)
        survives(write(tmp_path, f"libnoise{i}.so", ident + rng.randbytes(rng.randrange(0, 4096))))


def flip_bytes(data: bytes, rng: random.Random, ranges: Sequence[range], count: int) -> bytes:
    out = bytearray(data)
    for _ in range(count):
        out[rng.choice(rng.choice(ranges))] = rng.randrange(256)
    return bytes(out)


def fuzz(tmp_path: Path, data: bytes, seed: int, rounds: int) -> None:
    layout = Layout.of(data)
    _, _, dyn_off, _, dyn_size = layout.phdr(PT_DYNAMIC)
    ranges = [
        range(min(len(data), 64 + 8 * 56)),
        range(min(len(data), 16384)),
        range(dyn_off, dyn_off + dyn_size),
    ]
    rng = random.Random(seed)
    path = tmp_path / "libfuzz.so"
    for _ in range(rounds):
        path.write_bytes(flip_bytes(data, rng, ranges, rng.randrange(1, 6)))
        survives(path)


@needs_gcc
def test_fuzz_byte_flips_in_a_real_library(tmp_path: Path, real_so: bytes) -> None:
    fuzz(tmp_path, real_so, seed=1234, rounds=300)


@pytest.mark.parametrize(("is64", "little"), CLASSES)
def test_fuzz_byte_flips_in_hand_built_files(tmp_path: Path, is64: bool, little: bool) -> None:
    data = build_elf(is64=is64, little=little, interp="/lib/ld.so", verneed=TWO_FILES).data
    fuzz(tmp_path, data, seed=99, rounds=150)


# --------------------------------------------------------------------------------------------
# Small helpers.
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("machine", "little", "name"),
    [
        (62, True, "x86_64"),
        (183, True, "aarch64"),
        (3, True, "i386"),
        (EM_PPC64, True, "ppc64le"),
        (EM_PPC64, False, "ppc64"),
        (EM_S390, False, "s390x"),
        (40, True, "arm"),
        (243, True, "riscv64"),
        (9999, True, "EM_9999"),
    ],
)
def test_machine_name(machine: int, little: bool, name: str) -> None:
    assert machine_name(machine, little_endian=little) == name


def test_glibc_versions_needed_compares_numerically() -> None:
    header = ElfHeader(64, True, 62, 0, 3)
    needs = (
        VersionNeed("libc.so.6", ("GLIBC_2.2.5", "GLIBC_2.9", "GLIBC_PRIVATE")),
        VersionNeed("libm.so.6", ("GLIBC_2.10.1", "GLIBC_ABI_DT_RELR")),
        VersionNeed("libfoo.so", ("FOO_GLIBC_2.99",)),
    )
    info = DynamicInfo(header, None, (), None, (), (), 0, needs, True)
    assert glibc_versions_needed(info) == (2, 10)
    assert glibc_versions_needed(DynamicInfo(header, None, (), None, (), (), 0, (), False)) is None


def test_a_fifo_named_like_a_library_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "libblas.so.3"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a readable regular file"):
        read_dynamic(fifo)
