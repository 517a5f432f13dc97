"""An extension module that needs this machine's newest ``GLIBCXX_3.4.N``, and an older
``libstdc++.so.6`` that lacks it: the ``version `GLIBCXX_3.4.N' not found`` shape.

The need is real: the extension is linked by gcc against the system's own libstdc++ and takes
the address of a function that library defines at its newest GLIBCXX version, so ld records
that version in DT_VERNEED exactly as g++ does for code that calls it. The older copy is a
gcc-built stand-in with the same SONAME whose version script defines every version the
system's copy defines except that newest one (what an older GCC's libstdc++ is, as far as the
loader's version check goes). Both are derived from the machine's library, so the case holds on
any GCC: the system's copy satisfies the need, the older copy does not.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.linkwheels import PLAIN_EXTENSION, build_extension, build_library

__all__ = ["CxxNeed", "build_cxx_extension", "build_older_libstdcxx", "cxx_need"]


@dataclass(frozen=True)
class CxxNeed:
    """What the system's libstdc++ offers and what the extension will need of it."""

    library: Path
    """The system's libstdc++.so.6 (the file gcc links with)."""
    newest: str
    """Its newest GLIBCXX version (``GLIBCXX_3.4.30`` with GCC 12)."""
    older: str
    """The GLIBCXX version before it: the newest the stand-in defines."""
    symbol: str
    """A function the library defines at ``newest`` (mangled name)."""
    defined: tuple[str, ...]
    """Every version the library defines, BASE excluded, in definition order."""


def _readelf(*args: str) -> str:
    return subprocess.run(
        ["readelf", "-W", *args], capture_output=True, text=True, check=True
    ).stdout


def _glibcxx_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.removeprefix("GLIBCXX_").split("."))


def cxx_need() -> CxxNeed:
    out = subprocess.run(
        ["gcc", "-print-file-name=libstdc++.so.6"], capture_output=True, text=True, check=True
    ).stdout.strip()
    library = Path(os.path.realpath(out))
    text = _readelf("-V", str(library))
    defs = text.split(".gnu.version_d", 1)[1].split(".gnu.version_r", 1)[0]
    defined = tuple(
        name
        for flags, name in re.findall(r"Flags: (\S+)\s+Index: \d+\s+Cnt: \d+\s+Name: (\S+)", defs)
        if flags != "BASE"
    )
    glibcxx = sorted((v for v in defined if v.startswith("GLIBCXX_3.4")), key=_glibcxx_key)
    newest, older = glibcxx[-1], glibcxx[-2]
    symbols = sorted(
        m[1]
        for m in re.finditer(
            rf"FUNC\s+GLOBAL\s+DEFAULT\s+\d+\s+(\w+)@@{re.escape(newest)}$",
            _readelf("--dyn-syms", str(library)),
            re.MULTILINE,
        )
    )
    return CxxNeed(library, newest, older, symbols[0], defined)


def build_older_libstdcxx(dest: Path, need: CxxNeed) -> Path:
    """A ``libstdc++.so.6`` defining every version of the system's but its newest GLIBCXX
    (one placeholder function per version node: the loader checks the names only)."""
    kept = [v for v in need.defined if v != need.newest]
    source, script = "", ""
    for i, version in enumerate(kept):
        source += f"int vx_node_{i}(void) {{ return {i}; }}\n"
        script += f"{version} {{ global: vx_node_{i}; {'local: *; ' if i == 0 else ''}}};\n"
    dest.parent.mkdir(parents=True, exist_ok=True)
    map_file = dest.with_name("older-libstdcxx.map")
    map_file.write_text(script)
    build_library(dest, source, "libstdc++.so.6", [f"-Wl,--version-script={map_file}"])
    map_file.unlink()
    return dest


def build_cxx_extension(dest: Path, need: CxxNeed, include: str, link: list[str]) -> Path:
    """An extension module (``dest``: its full file name) that needs ``need.newest`` of
    libstdc++.so.6: it keeps the address of ``need.symbol`` (a load-time relocation)."""
    decl = (
        f"extern void {need.symbol}(void);\nstatic void (*volatile vx_keep)(void) = {need.symbol};"
    )
    source = PLAIN_EXTENSION.replace("EXTERN_DECLS", decl).replace("CALL_EXPR", "vx_keep != 0")
    modname = dest.name.split(".", 1)[0]
    return build_extension(dest, source, modname, include, [str(need.library), *link])
