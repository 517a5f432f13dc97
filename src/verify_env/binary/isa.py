"""The x86-64 ISA level a file needs, and the level this CPU has.

A file built with ``-march=x86-64-vN -mneeded`` (or linked with ``-z x86-64-vN``) carries a
``GNU_PROPERTY_X86_ISA_1_NEEDED`` property in its ``.note.gnu.property`` (the PT_GNU_PROPERTY
segment): bit 0 baseline, bit 1 x86-64-v2, bit 2 v3, bit 3 v4 (x86-64 psABI, "ISA levels").
glibc 2.33 and later refuse such a file on a CPU below that level (``CPU ISA level is lower
than required``, ``sysdeps/x86/dl-prop.h``); an older loader maps it and the process dies with
``Illegal instruction`` at the first newer instruction. The CPU's level is read from its
``/proc/cpuinfo`` flags with the psABI's definition of each level.
"""

from __future__ import annotations

import os
import struct

from verify_env.binary.elf import ElfFormatError, _Elf, _open

__all__ = ["LEVELS", "cpu_level", "level_name", "needed_in", "x86_isa_needed"]

_PT_NOTE, _PT_GNU_PROPERTY = 4, 0x6474E553
_NT_GNU_PROPERTY_TYPE_0 = 5
_X86_ISA_1_NEEDED = 0xC0008002
_EM_X86_64 = 62
_MAX_NOTES = 1 << 16  # a property note is a few dozen bytes; more is not a real one

LEVELS: tuple[frozenset[str], ...] = (
    frozenset({"cmov", "cx8", "fpu", "fxsr", "mmx", "sse", "sse2"}),
    frozenset({"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"}),
    frozenset({"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}),
    frozenset({"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}),
)
"""The /proc/cpuinfo flags each level adds (x86-64 psABI; ``abm`` is LZCNT, ``pni`` SSE3)."""


def level_name(level: int) -> str:
    return "x86-64 baseline" if level <= 1 else f"x86-64-v{level}"


def x86_isa_needed(path: str | os.PathLike[str]) -> int:
    """The ISA level (1 baseline … 4 for v4) the file says it needs; 0 when it says nothing
    (no note, another machine). Raises ElfFormatError for a malformed note."""
    with _open(path, None) as elf:
        return needed_in(elf)


def needed_in(elf: _Elf) -> int:
    """`x86_isa_needed` of a file already open (`elf.read_dynamic_and`)."""
    if elf.header.machine != _EM_X86_64:
        return 0
    segments = [p for p in elf.phdrs if p[0] == _PT_GNU_PROPERTY] or [
        p for p in elf.phdrs if p[0] == _PT_NOTE
    ]
    align = 8 if elf.is64 else 4
    for _, off, _vaddr, size in segments:
        if size > _MAX_NOTES or off + size > elf.f.size:
            raise ElfFormatError(f"note segment at offset {off:#x} ({size} bytes) is unusable")
        data = elf.f.read(off, size, "note segment")
        bits = _isa_bits(data, elf.e, align)
        if bits:
            return bits.bit_length()
    return 0


def _isa_bits(data: bytes, e: str, align: int) -> int:
    pos = 0
    while pos + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from(e + "III", data, pos)
        name_at = pos + 12
        desc_at = name_at + ((namesz + 3) & ~3)
        end = desc_at + descsz
        if end > len(data):
            return 0
        if ntype == _NT_GNU_PROPERTY_TYPE_0 and data[name_at : name_at + namesz] == b"GNU\0":
            p = desc_at
            while p + 8 <= end:
                pr_type, pr_size = struct.unpack_from(e + "II", data, p)
                if pr_type == _X86_ISA_1_NEEDED and pr_size >= 4 and p + 12 <= end:
                    return int(struct.unpack_from(e + "I", data, p + 8)[0])
                p += 8 + ((pr_size + align - 1) & ~(align - 1))
        pos = (
            (end + align - 1) & ~(align - 1) if ntype == _NT_GNU_PROPERTY_TYPE_0 else (end + 3) & ~3
        )
    return 0


def cpu_level(cpuinfo: str = "/proc/cpuinfo") -> int | None:
    """This CPU's x86-64 level from the first ``flags`` line of ``cpuinfo``; None when it
    cannot be read (not Linux, not x86)."""
    try:
        fd = os.open(cpuinfo, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        text = os.read(fd, 1 << 13).decode("ascii", "replace")  # the first CPU's lines
    except OSError:
        return None
    finally:
        os.close(fd)
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            flags = set(value.split())
            level = 0
            for wanted in LEVELS:
                if not wanted <= flags:
                    break
                level += 1
            return level
    return None
