"""Read what the dynamic loader needs from an ELF file, without loading or importing it.

Contract: a reader opens the file read-only and reads only the ELF header, the program
headers, PT_INTERP, PT_DYNAMIC and the tables the dynamic section points at (strings,
versions and, for `dynamic_symbols`, the symbol and hash tables), through a small cache of
4 KiB blocks; never the whole file, because extension modules and BLAS builds run to
hundreds of megabytes.  The files are untrusted (a broken environment is what we look
for), so every offset, count and string index is checked against the file, and against the
PT_LOAD segment it must lie in, before anything is read or allocated, and every chain is
bounded.  Anything malformed raises `ElfFormatError` quoting the bad value and its offset;
no IndexError, struct.error, MemoryError or endless loop escapes.  Failing to open the file
is an OSError, as usual.  Names are decoded as UTF-8 with surrogateescape, so `os.fsencode`
gives back their exact bytes.  Only `struct` is used: five tables do not justify a
dependency on a full ELF library, and it is faster: the dynamic sections of the torch venv's
344 shared objects in 55-172 ms in-process here (4.5 MB read of 836 MB), against ~400 ms for
pyelftools (issue 5's figure; bench/linkage_bench.py, bench/README.md).  The symbol tables are
read by `elfsym.py`.
"""

from __future__ import annotations

import os
import re
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import FileIO
from typing import TypeVar

from verify_env.files import open_regular

__all__ = [
    "DynamicInfo", "ElfFormatError", "ElfHeader", "ReadStats", "VersionNeed",
    "classify", "glibc_versions_needed", "machine_name", "read_dynamic", "read_dynamic_and",
    "read_header",
]  # fmt: skip

_MAGIC = b"\x7fELF"
_MACHO_MAGICS = frozenset(
    map(bytes.fromhex, ["feedface", "feedfacf", "cefaedfe", "cffaedfe", "cafebabe", "cafebabf"])
)
_BLOCK = 4096  # unit of the read cache
_MAX_BLOCKS = 64  # cached blocks kept per open file
_MAX_NAME = 65536  # longest string accepted from a lazily read string table
_SMALL_STRTAB = 65536  # a string table up to this size is read whole (one read, no blocks)
_MAX_INTERP = 4096  # PATH_MAX: the longest PT_INTERP accepted
_MAX_VERSIONS = 0x7FFF  # version indices are 15 bits wide: no file can name more versions
_MAX_DYN = 0x10000  # dynamic entries read while looking for DT_NULL
_WORDS = 16384  # hash words handled per read
_ODD = bytes(i & 1 for i in range(256))  # translate table: 1 where the low bit is set
_PN_XNUM = 0xFFFF  # e_phnum escape: the real count is in section header 0's sh_info

_PT_LOAD, _PT_DYNAMIC, _PT_INTERP = 1, 2, 3
_DT_NULL, _DT_NEEDED, _DT_HASH, _DT_STRTAB, _DT_SYMTAB = 0, 1, 4, 5, 6
_DT_STRSZ, _DT_SYMENT, _DT_SONAME, _DT_RPATH, _DT_RUNPATH = 10, 11, 14, 15, 29
_DT_GNU_HASH, _DT_VERSYM, _DT_FLAGS_1 = 0x6FFFFEF5, 0x6FFFFFF0, 0x6FFFFFFB
_DT_VERDEF, _DT_VERDEFNUM = 0x6FFFFFFC, 0x6FFFFFFD
_DT_VERNEED, _DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF
_VER_FLG_BASE = 1
_EM_PPC64, _EM_S390, _EM_ALPHA = 21, 22, 0x9026
_MACHINES = {
    2: "sparc", 3: "i386", 8: "mips", 20: "ppc", 22: "s390x", 40: "arm", 43: "sparc64",
    50: "ia64", 62: "x86_64", 183: "aarch64", 243: "riscv64", 258: "loongarch64",
    _EM_ALPHA: "alpha",
}  # fmt: skip
_GLIBC_RE = re.compile(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)*")
_VER_FLG_WEAK = 2
_Need = tuple[str, list[tuple[int, str, int]]]  # vn_file, [(vna_other, vna_name, vna_flags)]


class ElfFormatError(ValueError):
    """The file is not a well-formed ELF file; the message names the bad value and offset."""


@dataclass(frozen=True, slots=True)
class ElfHeader:
    """The parts of the ELF file header that say what the file can run on."""

    elf_class: int
    """32 or 64 (EI_CLASS): the width of addresses and of the on-disk structures."""
    little_endian: bool
    """True for ELFDATA2LSB, False for ELFDATA2MSB (EI_DATA)."""
    machine: int
    """e_machine, the instruction set (62 is x86_64); see `machine_name`."""
    osabi: int
    """EI_OSABI: 0 for System V (most Linux files), 3 for GNU/Linux."""
    type: int
    """e_type: 2 for an executable, 3 for a shared object or PIE, 1 for an object file."""


@dataclass(frozen=True, slots=True)
class VersionNeed:
    """One DT_VERNEED entry: the symbol versions this file needs from one other file."""

    file: str
    """The needed file, as named in DT_NEEDED (e.g. "libc.so.6")."""
    versions: tuple[str, ...]
    """Version names needed from it, in file order (e.g. ("GLIBC_2.17", "GLIBC_2.2.5"))."""
    weak: tuple[str, ...] = ()
    """Those of them needed weakly (VER_FLG_WEAK): ld.so only warns, under LD_VERBOSE, when
    the file it loads lacks one (``elf/dl-version.c``, ``match_symbol``)."""


@dataclass(frozen=True, slots=True)
class DynamicInfo:
    """What the dynamic loader reads before it maps a file: its dependencies and search path."""

    header: ElfHeader
    """The ELF file header."""
    interpreter: str | None
    """The PT_INTERP path (the dynamic loader of a program), or None, as for most libraries."""
    needed: tuple[str, ...]
    """DT_NEEDED entries in file order: the libraries the loader must find."""
    soname: str | None
    """DT_SONAME: the name other files record when they link against this one."""
    rpath: tuple[str, ...]
    """DT_RPATH split on ':' (empty parts dropped, as the loader does); $ORIGIN kept as is."""
    runpath: tuple[str, ...]
    """DT_RUNPATH split on ':' (empty parts dropped); when present, DT_RPATH is ignored."""
    flags_1: int
    """DT_FLAGS_1 (DF_1_NOW, DF_1_NODELETE, DF_1_PIE, ...), or 0 when absent."""
    version_needs: tuple[VersionNeed, ...]
    """The DT_VERNEED table: per needed file, the symbol versions required from it."""
    has_dynamic: bool
    """False for a static or otherwise non-dynamic file (then every tuple above is empty)."""
    version_defs: tuple[str, ...] = ()
    """The DT_VERDEF names this file defines (``GLIBCXX_3.4.30`` …), not its base entry."""


@dataclass(slots=True)
class ReadStats:
    """Running totals of the I/O done by the readers; mutable on purpose, to measure with."""

    reads: int = 0
    """Number of read calls made on files."""
    bytes_read: int = 0
    """Bytes actually read from files."""


def classify(head: bytes) -> str:
    """Return "elf", "mach-o", "pe" or "other" from the first bytes of a file."""
    if head[:4] == _MAGIC:
        return "elf"
    if head[:4] in _MACHO_MAGICS:
        return "mach-o"
    return "pe" if head[:2] == b"MZ" else "other"


def machine_name(machine: int, *, little_endian: bool = True) -> str:
    """A readable name for e_machine ("x86_64", "ppc64le", ...), or f"EM_{machine}"."""
    if machine == _EM_PPC64:
        return "ppc64le" if little_endian else "ppc64"
    return _MACHINES.get(machine, f"EM_{machine}")


def _parse_header(head: bytes) -> tuple[ElfHeader, int, int, int, int, int]:
    """The header, e_phoff, e_phentsize, e_phnum, e_shoff and e_shentsize."""
    if head[:4] != _MAGIC:
        if len(head) < 4:
            raise ElfFormatError(f"file too short for an ELF header: {len(head)} bytes at 0x0")
        raise ElfFormatError(f"not an ELF file ({classify(head)}): magic {head[:4]!r} at 0x0")
    if len(head) < 16:
        raise ElfFormatError(f"truncated ELF header: {len(head)} bytes, e_ident needs 16")
    if head[4] not in (1, 2):
        raise ElfFormatError(f"bad EI_CLASS {head[4]} at offset 0x4 (expected 1 or 2)")
    if head[5] not in (1, 2):
        raise ElfFormatError(f"bad EI_DATA {head[5]} at offset 0x5 (expected 1 or 2)")
    is64, little = head[4] == 2, head[5] == 1
    fmt = struct.Struct(("<" if little else ">") + ("HHIQQQIHHHHHH" if is64 else "HHIIIIIHHHHHH"))
    if len(head) < 16 + fmt.size:
        raise ElfFormatError(f"truncated ELF header: {len(head)} bytes, need {16 + fmt.size}")
    v = fmt.unpack_from(head, 16)  # e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, ...
    header = ElfHeader(64 if is64 else 32, little, v[1], head[7], v[0])
    return header, v[4], v[8], v[9], v[5], v[10]


def read_header(head: bytes) -> ElfHeader:
    """Parse the ELF file header from the first 64 bytes (52 suffice for a 32-bit file)."""
    return _parse_header(head)[0]


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _follow(cur: int, link: int, entsize: int, name: str) -> int:
    """The offset a relative chain link points at; refuse links that cannot advance."""
    if link >= 0x80000000:  # negative as a 32-bit offset: a C reader would walk backwards
        raise ElfFormatError(f"{name} {link:#x} at offset {cur:#x} links backwards: a loop")
    if link < entsize:
        raise ElfFormatError(f"{name} {link:#x} at offset {cur:#x} overlaps its own entry")
    return cur + link


class _File:
    """Bounds-checked reads at offsets, through a small block cache."""

    __slots__ = ("_blocks", "_fh", "_stats", "size")

    def __init__(self, fh: FileIO, stats: ReadStats | None) -> None:
        self._fh, self._stats, self._blocks = fh, stats, dict[int, bytes]()
        self.size = os.fstat(fh.fileno()).st_size

    def read(self, off: int, n: int, what: str) -> bytes:
        if off < 0 or n < 0 or off + n > self.size:
            raise ElfFormatError(
                f"{what} at offset {off:#x} ({n} bytes) lies past the end of the file"
                f" ({self.size} bytes)"
            )
        if n > _BLOCK or n == 0:
            return self._raw(off, n)
        first, last = off // _BLOCK, (off + n - 1) // _BLOCK
        if first == last:  # the common case: no join
            start = off - first * _BLOCK
            return self._block(first)[start : start + n]
        data = b"".join(self._block(i) for i in range(first, last + 1))
        return data[off - first * _BLOCK : off - first * _BLOCK + n]

    def _block(self, i: int) -> bytes:
        block = self._blocks.get(i)
        if block is None:
            if len(self._blocks) >= _MAX_BLOCKS:
                del self._blocks[next(iter(self._blocks))]
            block = self._blocks[i] = self._raw(i * _BLOCK, min(_BLOCK, self.size - i * _BLOCK))
        return block

    def _raw(self, off: int, n: int) -> bytes:
        self._fh.seek(off)
        parts, got = [], 0
        while got < n:
            chunk = self._fh.read(n - got)
            if not chunk:
                raise ElfFormatError(f"file shrank while reading at offset {off + got:#x}")
            parts.append(chunk)
            got += len(chunk)
        if self._stats is not None:
            self._stats.reads += len(parts)
            self._stats.bytes_read += got
        return b"".join(parts)


class _Elf:
    """An open ELF file: header and program headers parsed, everything else on demand."""

    __slots__ = ("_strings", "e", "f", "header", "is64", "phdrs")

    def __init__(self, f: _File) -> None:
        self.f = f
        self._strings: tuple[tuple[int, int], bytes] | None = None
        head = f.read(0, min(64, f.size), "ELF header")
        self.header, phoff, phentsize, phnum, shoff, shentsize = _parse_header(head)
        self.e = "<" if self.header.little_endian else ">"
        self.is64 = self.header.elf_class == 64
        if phnum == _PN_XNUM:  # too many for e_phnum: the count is in section 0's sh_info
            if shoff == 0 or shentsize < (64 if self.is64 else 40):
                raise ElfFormatError(f"e_phnum is PN_XNUM but e_shoff is {shoff:#x}")
            phnum = self.unpack("I", shoff + (44 if self.is64 else 28), "sh_info")[0]
        self.phdrs: list[tuple[int, ...]] = []  # (p_type, p_offset, p_vaddr, p_filesz)
        if phnum == 0:
            return
        if phentsize < (56 if self.is64 else 32):
            at = 0x36 if self.is64 else 0x2A
            raise ElfFormatError(f"e_phentsize {phentsize} at offset {at:#x} is too small")
        table = f.read(phoff, phnum * phentsize, f"program headers ({phnum} x {phentsize})")
        fmt = struct.Struct(self.e + ("IIQQQQQQ" if self.is64 else "IIIIIIII"))
        for i in range(phnum):
            v = fmt.unpack_from(table, i * phentsize)
            self.phdrs.append((v[0], v[2], v[3], v[5]) if self.is64 else (*v[:3], v[4]))

    def unpack(self, fmt: str, off: int, what: str) -> tuple[int, ...]:
        s = struct.Struct(self.e + fmt)
        return s.unpack(self.f.read(off, s.size, what))

    def segment(self, p_type: int, name: str) -> tuple[int, int] | None:
        """File offset and size of the first segment of a type, checked against the file."""
        for t, off, _vaddr, filesz in self.phdrs:
            if t == p_type:
                if off + filesz > self.f.size:
                    raise ElfFormatError(
                        f"{name} at offset {off:#x} ({filesz} bytes) lies past the end of"
                        f" the file ({self.f.size} bytes)"
                    )
                return off, filesz
        return None

    def map(self, addr: int, length: int, what: str) -> tuple[int, int]:
        """File offset of a virtual address, and the file bytes left in its PT_LOAD."""
        for t, off, vaddr, filesz in self.phdrs:
            if t == _PT_LOAD and vaddr <= addr < vaddr + filesz:
                avail = vaddr + filesz - addr
                if length > avail:
                    raise ElfFormatError(
                        f"{what} at address {addr:#x} ({length} bytes) runs past the end of"
                        f" its PT_LOAD segment ({avail} bytes left)"
                    )
                return off + addr - vaddr, avail
        raise ElfFormatError(f"{what} address {addr:#x} is not in any PT_LOAD segment")

    def interpreter(self) -> str | None:
        seg = self.segment(_PT_INTERP, "PT_INTERP")
        if seg is None:
            return None
        if seg[1] > _MAX_INTERP:
            raise ElfFormatError(f"PT_INTERP at offset {seg[0]:#x} is {seg[1]} bytes long")
        return _decode(self.f.read(*seg, "PT_INTERP").split(b"\0", 1)[0])

    def dynamic(self) -> tuple[list[tuple[int, int]], dict[int, int]]:
        """The (d_tag, d_val) entries up to DT_NULL in order, and the first value of each tag."""
        seg = self.segment(_PT_DYNAMIC, "dynamic section")
        out: list[tuple[int, int]] = []
        if seg is None:
            return out, {}
        fmt = struct.Struct(self.e + ("QQ" if self.is64 else "II"))
        pos, size = seg[0], min(seg[1], _MAX_DYN * fmt.size)
        end = pos + size - size % fmt.size
        while pos < end:
            n = min(end - pos, 64 * fmt.size)
            chunk = list(fmt.iter_unpack(self.f.read(pos, n, "dynamic section")))
            null = next((i for i, (tag, _) in enumerate(chunk) if tag == _DT_NULL), None)
            out += chunk[:null]
            if null is not None:
                break
            pos += n
        return out, {tag: val for tag, val in reversed(out)}

    def strtab(self, dyn: dict[int, int]) -> tuple[int, int]:
        """File offset and size of the dynamic string table."""
        if _DT_STRTAB not in dyn:
            raise ElfFormatError("the dynamic section names strings but has no DT_STRTAB")
        size = dyn.get(_DT_STRSZ)
        off, avail = self.map(dyn[_DT_STRTAB], size or 0, "dynamic string table")
        return off, avail if size is None else size

    def string(self, table: tuple[int, int], idx: int, what: str) -> str:
        """Read one NUL-terminated string, a block at a time, never past the table."""
        off, size = table
        if idx >= size:
            raise ElfFormatError(
                f"{what} string offset {idx:#x} lies outside the dynamic string table"
                f" ({size} bytes at offset {off:#x})"
            )
        if size <= _SMALL_STRTAB:  # an extension module's: read whole, once
            if self._strings is None or self._strings[0] != table:
                self._strings = (table, self.f.read(off, size, "dynamic string table"))
            data = self._strings[1]
            nul = data.find(b"\0", idx, idx + _MAX_NAME + 1)
            if nul < 0:
                raise ElfFormatError(f"{what} string at offset {off + idx:#x} is unterminated")
            return _decode(data[idx:nul])
        parts: list[bytes] = []
        pos, end = off + idx, off + size
        while True:
            if pos >= end or pos - off - idx > _MAX_NAME:
                raise ElfFormatError(f"{what} string at offset {off + idx:#x} is unterminated")
            chunk = self.f.read(pos, min(end, (pos // _BLOCK + 1) * _BLOCK) - pos, what)
            nul = chunk.find(b"\0")
            parts.append(chunk if nul < 0 else chunk[:nul])
            if nul >= 0:
                return _decode(b"".join(parts))
            pos += len(chunk)

    def verdef(self, dyn: dict[int, int], strtab: tuple[int, int]) -> dict[int, str]:
        """vd_ndx -> version name for the versions this file defines (not its base name)."""
        out: dict[int, str] = {}
        if _DT_VERDEF not in dyn:
            return out
        off = self.map(dyn[_DT_VERDEF], 20, "DT_VERDEF table")[0]
        for _ in range(min(dyn.get(_DT_VERDEFNUM, _MAX_VERSIONS), _MAX_VERSIONS)):
            _, flags, ndx, cnt, _, aux, nxt = self.unpack("HHHHIII", off, "verdef entry")
            if cnt and not flags & _VER_FLG_BASE:
                name = self.unpack("I", _follow(off, aux, 20, "vd_aux"), "verdaux entry")[0]
                out[ndx & 0x7FFF] = self.string(strtab, name, "vda_name")
            if nxt == 0:
                break
            off = _follow(off, nxt, 20, "vd_next")
        return out

    def verneed(self, dyn: dict[int, int], strtab: tuple[int, int]) -> list[_Need]:
        """Walk DT_VERNEED: (vn_file, [(vna_other, vna_name, vna_flags), ...]) per needed
        file."""
        if _DT_VERNEED not in dyn:
            return []
        off = self.map(dyn[_DT_VERNEED], 16, "DT_VERNEED table")[0]
        out: list[_Need] = []
        total = 0
        for _ in range(min(dyn.get(_DT_VERNEEDNUM, _MAX_VERSIONS), _MAX_VERSIONS)):
            _, cnt, file_idx, aux, nxt = self.unpack("HHIII", off, "verneed entry")
            names: list[tuple[int, str, int]] = []
            pos = _follow(off, aux, 16, "vn_aux") if cnt else off
            for _ in range(cnt):
                _, flags, other, name, anext = self.unpack("IHHII", pos, "vernaux entry")
                names.append((other & 0x7FFF, self.string(strtab, name, "vna_name"), flags))
                total += 1
                if total > _MAX_VERSIONS:
                    raise ElfFormatError(f"DT_VERNEED names over {_MAX_VERSIONS} versions")
                if anext == 0:
                    break
                pos = _follow(pos, anext, 16, "vna_next")
            out.append((self.string(strtab, file_idx, "vn_file"), names))
            if nxt == 0:
                break
            off = _follow(off, nxt, 16, "vn_next")
        return out


@contextmanager
def _open(path: str | os.PathLike[str], stats: ReadStats | None) -> Iterator[_Elf]:
    # Non-blocking and regular files only: a FIFO named like a library must not hang the run.
    opened = open_regular(os.fspath(path))
    if opened is None:
        raise OSError(f"{os.fspath(path)!r} is not a readable regular file")
    with FileIO(opened[0], "rb", closefd=True) as fh:
        yield _Elf(_File(fh, stats))


# The tags check and the linkage check's loader ask for the same files in one run: read each
# once per process while its (device, inode, size, mtime, ctime) holds (the torch venv's 344
# shared objects: ~55 ms, paid once). A file changed in the last 20 ms is not remembered: a
# rewrite within the same timestamp tick would look unchanged (see checks/record.py _racy).
_dynamic_memo: dict[str, tuple[tuple[int, ...], DynamicInfo]] = {}


def read_dynamic(path: str | os.PathLike[str], *, stats: ReadStats | None = None) -> DynamicInfo:
    """Read the header, PT_INTERP and the dynamic section of an ELF file.

    Pass a `ReadStats` to count the I/O (nothing is then taken from or kept in the memo).
    Raises ElfFormatError if the file is malformed.
    """
    if stats is not None:
        return _read_dynamic(path, stats)
    where = os.fspath(path)
    try:
        st = os.stat(where)
    except OSError:
        return _read_dynamic(path, None)
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    hit = _dynamic_memo.get(where)
    if hit is not None and hit[0] == key:
        return hit[1]
    info = _read_dynamic(path, None)
    if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > 20_000_000:
        _dynamic_memo[where] = (key, info)
    return info


_T = TypeVar("_T")


def read_dynamic_and(path: str, also: Callable[[_Elf], _T]) -> tuple[DynamicInfo, _T]:
    """`read_dynamic`, and what ``also`` reads from the same open file (the tags check wants
    the ISA note too: one open and one header parse less per object). The dynamic section is
    remembered as `read_dynamic` does, before ``also`` runs, so a failure of ``also`` (raised
    to the caller) leaves the loader's view as it would be without it."""
    try:
        st = os.stat(path)
    except OSError:
        st = None
    with _open(path, None) as elf:
        info = _dynamic_info(elf)
        if st is not None and time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > 20_000_000:
            key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            _dynamic_memo[path] = (key, info)
        return info, also(elf)


def _read_dynamic(path: str | os.PathLike[str], stats: ReadStats | None) -> DynamicInfo:
    with _open(path, stats) as elf:
        return _dynamic_info(elf)


def _dynamic_info(elf: _Elf) -> DynamicInfo:
    interp = elf.interpreter()
    if not any(p[0] == _PT_DYNAMIC for p in elf.phdrs):
        return DynamicInfo(elf.header, interp, (), None, (), (), 0, (), False)
    entries, dyn = elf.dynamic()
    named = (_DT_NEEDED, _DT_SONAME, _DT_RPATH, _DT_RUNPATH, _DT_VERNEED, _DT_VERDEF)
    strtab = elf.strtab(dyn) if any(t in dyn for t in named) else (0, 0)

    def values(tag: int, what: str) -> list[str]:
        return [elf.string(strtab, v, what) for t, v in entries if t == tag]

    def path_list(tag: int, what: str) -> tuple[str, ...]:
        return tuple(p for v in values(tag, what) for p in v.split(":") if p)

    soname = values(_DT_SONAME, "DT_SONAME")
    needs = elf.verneed(dyn, strtab)
    return DynamicInfo(
        header=elf.header,
        interpreter=interp,
        needed=tuple(values(_DT_NEEDED, "DT_NEEDED")),
        soname=soname[0] if soname else None,
        rpath=path_list(_DT_RPATH, "DT_RPATH"),
        runpath=path_list(_DT_RUNPATH, "DT_RUNPATH"),
        flags_1=dyn.get(_DT_FLAGS_1, 0),
        version_needs=tuple(
            VersionNeed(
                f,
                tuple(n for _, n, _ in v),
                tuple(n for _, n, flags in v if flags & _VER_FLG_WEAK),
            )
            for f, v in needs
        ),
        has_dynamic=True,
        version_defs=tuple(elf.verdef(dyn, strtab).values()),
    )


def glibc_versions_needed(info: DynamicInfo) -> tuple[int, int] | None:
    """The highest GLIBC_X.Y version needed from any file, as (X, Y), or None."""
    found = [
        (int(m[1]), int(m[2]))
        for need in info.version_needs
        for v in need.versions
        if (m := _GLIBC_RE.fullmatch(v))
    ]
    return max(found, default=None)
