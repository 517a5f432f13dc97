"""The dynamic symbol table of an ELF file: what it defines and what it needs from others.

Split from `elf.py`, which reads what the loader needs before it maps a file; this reads what it
needs while binding symbols (.dynsym through DT_HASH or DT_GNU_HASH, with DT_VERSYM, DT_VERDEF
and DT_VERNEED for version names).  Same contract: only the tables needed are read, every offset
is checked, anything malformed is an `ElfFormatError`.  `name_table` is the fast path for the
linkage check: the names by kind, read by columns, with no object per symbol and no Python step
per entry (a large C++ library has 10^5 of them).
"""

from __future__ import annotations

import os
import re
import struct
import sys
from array import array
from dataclasses import dataclass
from itertools import accumulate, compress

from verify_env.binary.elf import (
    _DT_GNU_HASH,
    _DT_HASH,
    _DT_SYMENT,
    _DT_SYMTAB,
    _DT_VERSYM,
    _EM_ALPHA,
    _EM_S390,
    _ODD,
    _WORDS,
    ElfFormatError,
    ReadStats,
    _decode,
    _Elf,
    _open,
)

__all__ = [
    "NameTable",
    "Symbol",
    "SymbolNames",
    "dynamic_strings",
    "dynamic_symbols",
    "name_table",
    "symbol_names",
    "symbols_matching",
]

_STB_LOCAL, _STB_WEAK = 0, 2
_STV_HIDDEN_MASK = 3  # st_other & 3: 0 default, 1 internal, 2 hidden, 3 protected


def _symbol_count(elf: _Elf, dyn: dict[int, int]) -> int:
    """Number of .dynsym entries, from DT_HASH's nchain or by walking DT_GNU_HASH."""
    if _DT_HASH in dyn:  # s390x and alpha use 8-byte hash words
        word = "Q" if elf.is64 and elf.header.machine in (_EM_S390, _EM_ALPHA) else "I"
        size = struct.calcsize(word)
        off, avail = elf.map(dyn[_DT_HASH], 2 * size, "DT_HASH table")
        nbucket, nchain = elf.unpack(word * 2, off, "DT_HASH header")
        if (2 + nbucket + nchain) * size > avail:
            raise ElfFormatError(
                f"DT_HASH at offset {off:#x}: nbucket {nbucket} and nchain {nchain} do not"
                f" fit in the {avail} bytes left in its segment"
            )
        return nchain
    if _DT_GNU_HASH not in dyn:
        raise ElfFormatError("DT_SYMTAB without DT_HASH or DT_GNU_HASH: cannot count symbols")
    off, avail = elf.map(dyn[_DT_GNU_HASH], 16, "DT_GNU_HASH table")
    nbuckets, symoffset, bloom_size, _ = elf.unpack("IIII", off, "DT_GNU_HASH header")
    buckets_at = 16 + bloom_size * (8 if elf.is64 else 4)
    chains_at = buckets_at + 4 * nbuckets
    if chains_at > avail:
        raise ElfFormatError(
            f"DT_GNU_HASH at offset {off:#x}: {nbuckets} buckets and {bloom_size} bloom"
            f" words need {chains_at} bytes, its segment has {avail}"
        )
    idx = 0  # the highest bucket start; read in pieces, never as one huge tuple
    for i in range(0, nbuckets, _WORDS):
        raw = elf.f.read(off + buckets_at + 4 * i, 4 * min(_WORDS, nbuckets - i), "buckets")
        idx = max(idx, *struct.unpack(f"{elf.e}{len(raw) // 4}I", raw))
    if idx == 0:  # no hashed symbols at all
        return symoffset
    if idx < symoffset:
        raise ElfFormatError(f"DT_GNU_HASH bucket {idx} is below symoffset {symoffset}")
    low = 0 if elf.header.little_endian else 3  # the byte holding each word's low bit
    while True:  # the chain of the highest bucket ends (low bit set) at the last symbol
        pos = chains_at + 4 * (idx - symoffset)
        n = min(_WORDS, (avail - pos) // 4)
        if n <= 0:
            raise ElfFormatError(f"DT_GNU_HASH chain at offset {off + pos:#x} is unterminated")
        end = elf.f.read(off + pos, 4 * n, "DT_GNU_HASH chain")[low::4].translate(_ODD).find(1)
        if end >= 0:
            return idx + end + 1
        idx += n


@dataclass(frozen=True, slots=True)
class Symbol:
    """One entry of the dynamic symbol table (.dynsym)."""

    name: str
    """The symbol name, without any @VERSION suffix."""
    defined: bool
    """True if this file defines it (st_shndx != SHN_UNDEF), False if it imports it."""
    version: str | None
    """Its version (e.g. "GLIBC_2.2.5") from DT_VERSYM with DT_VERDEF/DT_VERNEED, or None."""
    binding: int
    """STB_* from st_info: 0 local, 1 global, 2 weak, 10 GNU unique."""
    type: int
    """STT_* from st_info: 0 none, 1 object, 2 function, 6 TLS, 10 GNU indirect function."""


def dynamic_symbols(
    path: str | os.PathLike[str], *, stats: ReadStats | None = None
) -> tuple[Symbol, ...]:
    """The dynamic symbols (.dynsym without its null entry 0), with their versions.

    Reads only the dynamic section, the hash table (the header, or the buckets and one chain
    of a GNU hash table), the symbol table, the string table and the version tables.
    Raises ElfFormatError if the file is malformed.
    """
    with _open(path, stats) as elf:
        _, dyn = elf.dynamic()
        if _DT_SYMTAB not in dyn:
            return ()
        sym = struct.Struct(elf.e + ("IBBHQQ" if elf.is64 else "IIIBBH"))
        count, syment = _symbol_count(elf, dyn), dyn.get(_DT_SYMENT, sym.size)
        if syment < sym.size:
            raise ElfFormatError(f"DT_SYMENT {syment} is smaller than a symbol ({sym.size})")
        strtab = elf.strtab(dyn)
        strings = elf.f.read(*strtab, "dynamic string table")
        symoff = elf.map(dyn[_DT_SYMTAB], count * syment, "dynamic symbol table")[0]
        table = elf.f.read(symoff, count * syment, "dynamic symbol table")
        versions = elf.verdef(dyn, strtab)
        for _, vers in elf.verneed(dyn, strtab):
            versions.update((other, name) for other, name, _ in vers)
        versym: tuple[int, ...] = ()
        if _DT_VERSYM in dyn and versions:
            off = elf.map(dyn[_DT_VERSYM], 2 * count, "DT_VERSYM table")[0]
            versym = struct.unpack(f"{elf.e}{count}H", elf.f.read(off, 2 * count, "DT_VERSYM"))
        out: list[Symbol] = []
        for i in range(1, count):
            v = sym.unpack_from(table, i * syment)
            name, info, shndx = (v[0], v[1], v[3]) if elf.is64 else (v[0], v[3], v[5])
            end = strings.find(b"\0", name)
            if end < 0:  # also when name is past the end of the table
                raise ElfFormatError(
                    f"symbol {i} at offset {symoff + i * syment:#x}: name offset {name:#x} is"
                    f" outside the {len(strings)}-byte string table or unterminated"
                )
            version = versions.get(versym[i] & 0x7FFF) if versym else None
            text = _decode(strings[name:end])
            out.append(Symbol(text, shndx != 0, version, info >> 4, info & 15))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class SymbolNames:
    """The dynamic symbols of a file as name sets: what it exports and what it imports."""

    defined: frozenset[str]
    """Names it defines and exports (global, weak or unique binding; not hidden or internal)."""
    undefined: frozenset[str]
    """Names it imports with a strong binding: the loader must find each one somewhere."""
    weak_undefined: frozenset[str]
    """Names it imports weakly: allowed to stay unresolved (null at run time)."""


def _table(elf: _Elf) -> tuple[bytes, bytes, struct.Struct, int, int] | None:
    """(string table, symbol table, entry struct, entry size, count), or None without .dynsym."""
    _, dyn = elf.dynamic()
    if _DT_SYMTAB not in dyn:
        return None
    sym = struct.Struct(elf.e + ("IBBHQQ" if elf.is64 else "IIIBBH"))
    count, syment = _symbol_count(elf, dyn), dyn.get(_DT_SYMENT, sym.size)
    if syment < sym.size:
        raise ElfFormatError(f"DT_SYMENT {syment} is smaller than a symbol ({sym.size})")
    strings = elf.f.read(*elf.strtab(dyn), "dynamic string table")
    symoff = elf.map(dyn[_DT_SYMTAB], count * syment, "dynamic symbol table")[0]
    table = elf.f.read(symoff, count * syment, "dynamic symbol table")
    return strings, table, sym, syment, count


def symbol_names(path: str | os.PathLike[str], *, stats: ReadStats | None = None) -> SymbolNames:
    """The exported, strongly imported and weakly imported names of a file's .dynsym.

    Raises ElfFormatError if the file is malformed (a name outside the string table included).
    """
    return name_table(path, stats=stats).names()


# Each symbol's kind as bit flags, from its st_info, st_other and st_shndx bytes (translate
# tables, so that a whole column is classified in C): 1 weak, 2 not local (weak included),
# 4 default or protected visibility, 8 defined (either byte of st_shndx is not zero)
_BY_INFO = bytes(0 if b >> 4 == _STB_LOCAL else 3 if b >> 4 == _STB_WEAK else 2 for b in range(256))
_BY_OTHER = bytes(4 if b & _STV_HIDDEN_MASK in (0, 3) else 0 for b in range(256))
_BY_SHNDX = bytes([0] + [8] * 255)
# ... and from those flags, whether it is exported, a strong import or a weak import
_EXPORTED = bytes(1 if k & 14 == 14 else 0 for k in range(256))
_STRONG = bytes(1 if not k & 8 and k & 1 == 0 else 0 for k in range(256))
_WEAK = bytes(1 if not k & 8 and k & 1 else 0 for k in range(256))
_U32 = next(t for t in "IL" if array(t).itemsize == 4)


@dataclass(frozen=True, slots=True)
class NameTable:
    """The dynamic string table and the names of .dynsym by kind, from one read of the file.

    Each kind is its names NUL-joined (None: no name): a name holds no NUL, and one string is
    cheap to build, to search with a regex in C (`matching`) and to send over a pipe, where a
    set of 10^5 short strings is not."""

    strings: bytes
    """The whole dynamic string table (`dynamic_strings`)."""
    defined: bytes | None
    """The names it exports (`SymbolNames.defined`)."""
    strong: bytes | None
    """The names it imports strongly (`SymbolNames.undefined`)."""
    weak: bytes | None
    """The names it imports weakly (`SymbolNames.weak_undefined`)."""

    def names(self) -> SymbolNames:
        """The three kinds as sets (`symbol_names`)."""
        return SymbolNames(_names(self.defined), _names(self.strong), _names(self.weak))

    def texts(self) -> tuple[str | None, str | None, str | None]:
        """The three kinds NUL-joined and decoded (each at once, not name by name)."""
        return tuple(  # type: ignore[return-value]
            None if k is None else _decode(k) for k in (self.defined, self.strong, self.weak)
        )

    def matching(self, pattern: re.Pattern[bytes]) -> SymbolNames:
        """`names`, restricted to those the pattern matches whole: it must match a NUL and then
        a whole name up to the next NUL, as its group 1 (searched in C over each kind)."""
        return SymbolNames(*(_found(pattern, k) for k in (self.defined, self.strong, self.weak)))


def _names(joined: bytes | None) -> frozenset[str]:
    return frozenset() if joined is None else frozenset(_decode(joined).split("\0"))


def _found(pattern: re.Pattern[bytes], joined: bytes | None) -> frozenset[str]:
    if joined is None:
        return frozenset()
    found = [m[1] for m in pattern.finditer(b"\0" + joined + b"\0")]
    return _names(b"\0".join(found)) if found else frozenset()


def name_table(path: str | os.PathLike[str], *, stats: ReadStats | None = None) -> NameTable:
    """The dynamic string table and every name of .dynsym by kind, from one open of the file.

    The symbol table is read by columns, not symbol by symbol: each field of every entry is
    sliced out of the table at once and classified with translate tables; a kind with many
    names takes the table's strings that start at one of its offsets (the strings split once),
    one with few slices each name out. A Python step per entry cost ~160 ms of CPU over the
    torch venv's 269 prefetched tables (libtorch_cpu has 74k symbols); this, ~100 ms, and the
    BLAS and OpenMP names are then searched in what it read (~24 ms), not in a second read of
    each table (~77 ms; `bench/prefetch_cpu.py`).
    Raises ElfFormatError if the file is malformed (a name outside the string table, or
    unterminated, included).
    """
    with _open(path, stats) as elf:
        found = _table(elf)
        if found is None:
            return NameTable(b"", None, None, None)
        strings, table, _sym, syment, count = found
        little = elf.header.little_endian
        at = 4 if elf.is64 else 12  # st_info; st_other after it, then st_shndx
    body = table[syment : count * syment]  # without the null entry 0
    n = count - 1
    if n <= 0:
        return NameTable(strings, None, None, None)
    flags = 0  # the flags of every entry, one byte each, OR-ed column by column as one int
    for column, flag_of in ((at, _BY_INFO), (at + 1, _BY_OTHER), (at + 2, _BY_SHNDX)):
        flags |= int.from_bytes(body[column::syment].translate(flag_of), "little")
    flags |= int.from_bytes(body[at + 3 :: syment].translate(_BY_SHNDX), "little")
    entry_flags = flags.to_bytes(n, "little")
    raw = bytearray(4 * n)  # st_name of every entry, as machine words
    for k in range(4):
        raw[k::4] = body[k::syment]
    words = array(_U32)
    words.frombytes(raw)
    if little != (sys.byteorder == "little"):
        words.byteswap()
    offsets = words.tolist()  # an int per entry made once, not once per pass over the array
    top, size = max(offsets), len(strings)
    if top and top >= size:
        i = next(i for i, o in enumerate(offsets) if o >= size)
        raise ElfFormatError(
            f"symbol {i + 1}: name offset {offsets[i]:#x} is outside the {size}-byte string table"
        )
    last = strings.rfind(b"\0")
    if top > last:
        i = next(i for i, o in enumerate(offsets) if o > last)
        raise ElfFormatError(f"symbol {i + 1}: name at offset {offsets[i]:#x} is unterminated")
    parts: list[bytes] = []
    starts: list[int] = []
    how_many = strings.count(0)  # strings in the table, give or take the last

    def joined(which: bytes) -> bytes | None:
        offs = set(compress(offsets, entry_flags.translate(which)))
        offs.discard(0)  # no name
        if not offs:
            return None
        if 3 * len(offs) < how_many:  # few: each found on its own
            return b"\0".join([strings[o : strings.index(b"\0", o)] for o in offs])
        if not parts:  # many: the table's strings that start at one of them, in one pass
            parts.extend(strings.split(b"\0"))
            starts.extend(accumulate(map((1).__add__, map(len, parts)), initial=0))
        names = list(compress(parts, map(offs.__contains__, starts)))
        if len(names) < len(offs):  # tails of longer strings ("sdot_" merged into "dsdot_")
            names += [strings[o : strings.index(b"\0", o)] for o in offs.difference(starts)]
        return b"\0".join(names)

    return NameTable(strings, joined(_EXPORTED), joined(_STRONG), joined(_WEAK))


def dynamic_strings(path: str | os.PathLike[str], *, stats: ReadStats | None = None) -> bytes:
    """The whole dynamic string table (every symbol, library and version name), or b"".

    A cheap first look: a name absent from it is neither imported nor exported, so a search of
    these bytes decides whether the symbol table is worth reading at all.
    """
    with _open(path, stats) as elf:
        _, dyn = elf.dynamic()
        if _DT_SYMTAB not in dyn:
            return b""
        return elf.f.read(*elf.strtab(dyn), "dynamic string table")


def symbols_matching(
    path: str | os.PathLike[str], pattern: re.Pattern[bytes], *, stats: ReadStats | None = None
) -> SymbolNames:
    """`symbol_names`, restricted to the names the pattern matches whole (`NameTable.matching`).

    Searched in the names of each kind, not in the string table: a matching name the linker
    stored only as the tail of one that does not match (``sdot_`` inside ``xsdot_``) is found
    too, which a search of the string table missed."""
    return name_table(path, stats=stats).matching(pattern)
