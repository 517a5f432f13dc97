"""ELF section headers: where a file keeps its read-only data.

The NumPy ABI check looks for string literals, which the linker puts in ``.rodata``. Reading
only that section is what makes the check affordable on every run: torch's 434 MB
``libtorch_cpu.so`` has a 1.1 MB ``.rodata``; scanning whole files took 0.22 s for the 820 MB of
shared objects in a torch venv here (page cache warm), the ``.rodata`` sections a few ms.
"""

from __future__ import annotations

import os
import struct

__all__ = ["read_only_data"]

_MAGIC = b"\x7fELF"
_SHT_NOBITS = 8


def read_only_data(fd: int, size: int) -> list[tuple[int, int]] | None:
    """(offset, length) of each ``.rodata*`` section of the ELF file open as ``fd``.

    None when the file has no usable section table (stripped of it, or not ELF): the caller
    then reads the whole file. Spans are clipped to the file, so a lying header costs nothing.
    """
    head = os.pread(fd, 64, 0)
    if len(head) < 52 or head[:4] != _MAGIC or head[4] not in (1, 2) or head[5] not in (1, 2):
        return None
    is64, e = head[4] == 2, "<" if head[5] == 1 else ">"
    if is64:
        if len(head) < 64:
            return None
        (shoff,) = struct.unpack_from(e + "Q", head, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", head, 0x3A)
        entry = struct.Struct(e + "IIQQQQIIQQ")
    else:
        (shoff,) = struct.unpack_from(e + "I", head, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", head, 0x2E)
        entry = struct.Struct(e + "IIIIIIIIII")
    if (
        shoff == 0
        or shnum == 0
        or shentsize < entry.size
        or shstrndx >= shnum
        or shoff + shnum * shentsize > size
        or shnum > 65535
    ):
        return None
    table = os.pread(fd, shnum * shentsize, shoff)
    if len(table) < shnum * shentsize:
        return None
    # (sh_name, sh_type, sh_offset, sh_size) of each section
    sections = []
    for i in range(shnum):
        v = entry.unpack_from(table, i * shentsize)
        sections.append((v[0], v[1], v[4], v[5]))
    _name, _type, str_off, str_size = sections[shstrndx]
    if str_off >= size or str_size > 1 << 24:
        return None
    names = os.pread(fd, min(str_size, size - str_off), str_off)
    spans = []
    for name_off, sh_type, off, length in sections:
        if sh_type == _SHT_NOBITS or off >= size or name_off >= len(names):
            continue
        end = names.find(b"\0", name_off)
        name = names[name_off : end if end >= 0 else len(names)]
        if name == b".rodata" or name.startswith(b".rodata."):
            spans.append((off, min(length, size - off)))
    return spans or None
