"""A target for an interpreter that cannot run, described from its files (issue 17's
``base-interpreter-missing``, issue 19 §2).

A venv whose base interpreter is gone (``pyvenv.cfg``'s ``home`` emptied by a pyenv or Homebrew
upgrade), or an interpreter that dies before the probe runs (a damaged standard library raising
``SyntaxError`` at start-up), is exactly the environment that most needs a report, and the probe
cannot give one. The same reading of files that ``--root`` uses (`verify_env.target.static`)
describes it instead: in full when the base interpreter is still there (its ELF header,
sysconfig data, site dirs), else from the venv alone (``pyvenv.cfg``'s version, its own
site-packages, this machine's or the image's loader for the platform). The file checks then
run, and the ``paths`` check reports why the interpreter cannot run (`Target.fallback`).
"""

from __future__ import annotations

import os
import re
import stat

from verify_env.binary import elf
from verify_env.errors import ProbeError
from verify_env.loader.rootfs import RootFS
from verify_env.target.static import (
    describe_files,
    libc_of,
    linux_markers,
    manylinux_platforms,
    read_pyvenv_cfg,
    tags_for,
)

__all__ = ["base_interpreter", "describe_broken"]


def _venv_of(fs: RootFS, python: str) -> tuple[str, str, dict[str, str]] | None:
    """(venv prefix, its pyvenv.cfg, the cfg's keys) of the interpreter path ``python``, found
    as ``site.venv()`` finds them (beside it, or one level up), inside ``fs``."""
    exe_dir = os.path.dirname(fs.inner(fs.host(python)))
    for cfg_path in (exe_dir + "/pyvenv.cfg", os.path.dirname(exe_dir) + "/pyvenv.cfg"):
        cfg = read_pyvenv_cfg(fs.resolve(cfg_path))
        if cfg is not None:
            return os.path.dirname(exe_dir), cfg_path, cfg
    return None


def base_interpreter(fs: RootFS, home: str, version: tuple[int, int] | None) -> str | None:
    """The interpreter in ``home`` (pyvenv.cfg's) a venv's ``python`` would run, or None when
    it holds none."""
    names = ["python3", "python"]
    if version is not None:
        names.insert(0, f"python{version[0]}.{version[1]}")
    for name in names:
        try:
            if stat.S_ISREG(os.stat(fs.resolve(f"{home.rstrip('/')}/{name}")).st_mode):
                return f"{home.rstrip('/')}/{name}"
        except OSError:
            continue
    return None


def _loader_header(fs: RootFS) -> tuple[elf.ElfHeader, str] | None:
    """The ELF header and path of the system's dynamic loader (``/lib*/ld-linux-*``,
    ``/lib/ld-musl-*``): the machine a venv without its interpreter was made for."""
    for d in ("/lib64", "/lib", "/usr/lib64", "/usr/lib"):
        try:
            names = sorted(os.listdir(fs.resolve(d)))
        except OSError:
            continue
        for name in names:
            if not (name.startswith(("ld-linux", "ld-musl")) and ".so" in name):
                continue
            try:
                return elf.read_dynamic(fs.resolve(f"{d}/{name}")).header, f"{d}/{name}"
            except (OSError, elf.ElfFormatError):
                continue
    return None


def _venv_only(fs: RootFS, python: str, venv: tuple[str, str, dict[str, str]]) -> dict[str, object]:
    """The facts of a venv whose base interpreter is gone: its version from ``pyvenv.cfg``, its
    own site-packages, the platform of the system's loader."""
    prefix, cfg_path, cfg = venv
    given = cfg.get("version_info") or cfg.get("version") or ""
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", given)
    if m is None:
        raise ProbeError(f"{python!r} cannot run and {cfg_path!r} names no Python version")
    major, minor, micro = int(m[1]), int(m[2]), int(m[3] or 0)
    found = _loader_header(fs)
    if found is None:
        raise ProbeError(f"{python!r} cannot run and no system loader says what machine it is for")
    header, loader = found
    from verify_env.target.static import _arch

    arch = _arch(header)
    family, glibc, musl = libc_of(fs, loader, arch, header.elf_class)
    multiarch = f"{arch}-linux-{'musl' if musl else 'gnu'}"
    site = fs.host(f"{prefix}/lib/python{major}.{minor}/site-packages")
    version = f"{major}.{minor}"
    full = f"{version}.{micro}"
    libc_version = glibc or musl
    return {
        "root": None if fs.root == "/" else fs.root,
        "executable": fs.host(python),
        "prefix": fs.host(prefix),
        "version": [major, minor, micro],
        "implementation": "cpython",
        "extension_suffixes": [f".cpython-{major}{minor}-{multiarch}.so", ".abi3.so", ".so"],
        "platform": "linux",
        "machine": arch,
        "libc": family,
        "libc_version": f"{libc_version[0]}.{libc_version[1]}" if libc_version else None,
        "site_packages": [site],
        "user_site": None,
        "sys_path": [site],
        "env": {},
        "tags": tags_for(
            (major, minor), f"cp{major}{minor}", manylinux_platforms(arch, glibc, musl)
        ),
        "markers": linux_markers(arch, full),
        "pyvenv_cfg": fs.host(cfg_path),
        "home": cfg.get("home"),
    }


def describe_broken(fs: RootFS, python: str, reason: str) -> dict[str, object]:
    """Facts for ``python``, which cannot run (``reason``: what running it said), from files:
    in full when its base interpreter is there, else from its venv alone. Raises
    `ProbeError` when there is nothing to describe (no interpreter, no venv)."""
    venv = _venv_of(fs, python)
    try:
        facts = describe_files(fs, python)
    except ProbeError:
        if venv is None:
            raise
        facts = _venv_only(fs, python, venv)
    if fs.root == "/":
        facts["root"] = None
    facts["fallback"] = reason
    return facts
