"""Read glibc's ``/etc/ld.so.cache`` (the ``glibc-ld.so.cache1.1`` format) without running
``ldconfig -p``.

The file is what ``ldconfig`` wrote from ``/etc/ld.so.conf`` and the trusted directories; the
loader consults it for a DT_NEEDED name after RPATH, LD_LIBRARY_PATH and RUNPATH and before the
default directories. Layout (glibc ``sysdeps/generic/dl-cache.h``): an optional old-format part
(``ld.so-1.7.0``, 12-byte entries) and the new part: a 48-byte header (magic and version, nlibs,
len_strings, flags, extension offset) followed by nlibs 24-byte entries (flags, key, value,
osversion, hwcap). ``key`` and ``value`` are offsets of the soname and the full path; in a file
with the old part in front they count from the start of the new header, otherwise from the start
of the file. Entry flags carry the library type (0x0003: ELF for libc6) and, in the upper byte,
the ABI it was built for (x86-64, AArch64 …), so the entries of another architecture sharing one
cache are told apart. A damaged or unknown cache gives an empty table: the loader then falls
back to the default directories, and so does this model.
"""

from __future__ import annotations

import struct

from verify_env.files import read_regular

__all__ = ["LdCache", "read_ld_cache"]

_OLD_MAGIC = b"ld.so-1.7.0"
_NEW_MAGIC = b"glibc-ld.so.cache1.1"
_HEADER = struct.Struct("<20sIIB3xI12x")  # magic+version, nlibs, len_strings, flags, ext offset
_ENTRY = struct.Struct("<iIIIQ")
_FLAG_ELF_LIBC6 = 0x0003
_TYPE_MASK = 0x00FF
_REQUIRED_MASK = 0xFF00
# The ABI byte ldconfig writes per machine (dl-cache.h FLAG_*); 0 for 32-bit x86 and the rest.
_ABI_FLAGS = {
    ("x86_64", 64): 0x0300, ("x86_64", 32): 0x0800, ("aarch64", 64): 0x0A00,
    ("ppc64le", 64): 0x0500, ("ppc64", 64): 0x0500, ("s390x", 64): 0x0400,
    ("riscv64", 64): 0x1100, ("loongarch64", 64): 0x1300, ("i386", 32): 0x0000,
    ("arm", 32): 0x0900,
}  # fmt: skip

LdCache = dict[str, tuple[str, ...]]
"""soname -> full paths, in the order the cache lists them (the loader takes the first that
fits)."""


def _strings_at(data: bytes, base: int, off: int) -> str | None:
    start = base + off
    if start >= len(data):
        return None
    end = data.find(b"\0", start)
    if end < 0:
        return None
    return data[start:end].decode("utf-8", "surrogateescape")


def parse_ld_cache(data: bytes, machine: str, elf_class: int) -> LdCache:
    """The entries for this machine and class, or an empty table for an unreadable cache."""
    base = 0
    if data.startswith(_OLD_MAGIC):
        if len(data) < 16:
            return {}
        nold = struct.unpack_from("<I", data, 12)[0]
        base = 16 + nold * 12
        base += -base % 8  # the new part is aligned for its 8-byte fields
    if data[base : base + len(_NEW_MAGIC)] != _NEW_MAGIC or len(data) < base + _HEADER.size:
        return {}
    _, nlibs, _, _, _ = _HEADER.unpack_from(data, base)
    if base + _HEADER.size + nlibs * _ENTRY.size > len(data):
        return {}
    abi = _ABI_FLAGS.get((machine, elf_class))
    out: dict[str, list[str]] = {}
    pos = base + _HEADER.size
    for _ in range(nlibs):
        flags, key, value, _, _ = _ENTRY.unpack_from(data, pos)
        pos += _ENTRY.size
        if flags & _TYPE_MASK != _FLAG_ELF_LIBC6:
            continue
        if abi is not None and flags & _REQUIRED_MASK != abi:
            continue
        name, path = _strings_at(data, base, key), _strings_at(data, base, value)
        if name and path:
            out.setdefault(name, []).append(path)
    return {k: tuple(v) for k, v in out.items()}


def read_ld_cache(machine: str, elf_class: int, path: str = "/etc/ld.so.cache") -> LdCache:
    """`parse_ld_cache` of the system's cache file (empty if it is absent or unreadable)."""
    data = read_regular(path)
    return {} if data is None else parse_ld_cache(data, machine, elf_class)
