"""A `Target` described from files alone: nothing of the environment runs.

``verify-env --root DIR`` verifies an unpacked image whose interpreter may be built for another
machine and should not be trusted to run anyway (issue 21). The facts the probe
(`introspect.py`) asks the interpreter for are read here from what that interpreter would read:

- its ELF header: class and machine; its PT_INTERP names the libc (``ld-linux-*`` glibc,
  ``ld-musl-*`` musl), whose version comes from the image's own ``libc.so.6`` (the banner
  ``gnu_get_libc_version`` returns: "release version 2.36"), found as the loader finds it;
- ``pyvenv.cfg`` beside or above it (``home``, ``include-system-site-packages``, ``version``);
- the standard library's ``_sysconfigdata_*.py``, parsed as data (`ast.literal_eval` of the
  ``build_time_vars`` literal; never imported): EXT_SUFFIX, SOABI, MULTIARCH, PLATLIBDIR;
- the site dirs as ``site.py`` computes them (Debian's patched ``site.py`` puts
  ``dist-packages`` first; told apart by reading it), and their ``.pth`` files parsed by
  `introspect`'s own rules, absolute lines taken inside the image;
- the supported wheel tags computed with ``packaging.tags`` for that interpreter, ABI and the
  manylinux/musllinux platforms the image's libc allows.

Every path is resolved inside the root (`verify_env.loader.rootfs`), never on this machine.
"""

from __future__ import annotations

import ast
import os
import re
import stat
from collections.abc import Iterator

from verify_env.binary import elf
from verify_env.errors import ProbeError
from verify_env.files import read_regular
from verify_env.loader.rootfs import RootFS
from verify_env.target import introspect

__all__ = [
    "describe_files",
    "libc_of",
    "linux_markers",
    "manylinux_platforms",
    "read_pyvenv_cfg",
    "tags_for",
]

_SYSCONFIG_CAP = 4 << 20
"""Bytes read of a ``_sysconfigdata`` module (the real ones are ~50 KB)."""
_BINARY_CAP = 64 << 20
"""Bytes of the interpreter or libc read for a version string."""
_ARCHES = {"i386": "i686", "arm": "armv7l"}
"""e_machine names whose wheel-tag spelling differs (``platform.machine()`` on Linux)."""
_GLIBC_FLOOR = {"x86_64": 5, "i686": 5}
"""The oldest manylinux glibc minor per arch (2.17 elsewhere: manylinux2014 is the first)."""
_LEGACY = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}


def read_pyvenv_cfg(path: str) -> dict[str, str] | None:
    """The keys of a ``pyvenv.cfg`` (lowercased, as ``site.venv()`` reads them), or None."""
    raw = read_regular(path, 1 << 16)
    if raw is None:
        return None
    keys: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").splitlines():
        if "=" in line and "\0" not in line:  # no path holds a NUL: a crafted line is skipped
            key, _, value = line.partition("=")
            keys[key.strip().lower()] = value.strip()
    return keys


def _is_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _arch(header: elf.ElfHeader) -> str:
    name = elf.machine_name(header.machine, little_endian=header.little_endian)
    return _ARCHES.get(name, name)


def manylinux_platforms(
    arch: str, glibc: tuple[int, int] | None, musl: tuple[int, int] | None
) -> list[str]:
    """Platform tags for ``arch`` in the order ``packaging.tags.platform_tags`` yields them on
    such a machine (packaging 26: ``linux_<arch>`` first), then ``manylinux_2_N`` for each N
    down to the arch's first with the legacy aliases beside theirs, or ``musllinux_1_N``."""
    out: list[str] = [f"linux_{arch}"]
    if glibc is not None and glibc[0] == 2:
        for minor in range(glibc[1], _GLIBC_FLOOR.get(arch, 17) - 1, -1):
            out.append(f"manylinux_2_{minor}_{arch}")
            legacy = _LEGACY.get((2, minor))
            if legacy and (minor == 17 or arch in ("x86_64", "i686")):
                out.append(f"{legacy}_{arch}")
    if musl is not None and musl[0] == 1:
        out += [f"musllinux_1_{minor}_{arch}" for minor in range(musl[1], -1, -1)]
    return out


def linux_markers(arch: str, full: str) -> dict[str, str]:
    """The PEP 508 environment markers of CPython ``full`` (``3.11.2``) on Linux/``arch``, as
    its interpreter would report them; the kernel's release and version are the running
    machine's business, not the image's: left empty."""
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": "posix",
        "platform_machine": arch,
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": full,
        "platform_python_implementation": "CPython",
        "python_version": ".".join(full.split(".")[:2]),
        "sys_platform": "linux",
    }


def tags_for(version: tuple[int, int], abi: str, platforms: list[str]) -> list[str]:
    from packaging import tags

    out = list(tags.cpython_tags(version, [abi], platforms))
    out += tags.compatible_tags(version, f"cp{version[0]}{version[1]}", platforms)
    return [str(t) for t in out]


def _version_in(path: str, pattern: bytes) -> re.Match[bytes] | None:
    raw = read_regular(path, _BINARY_CAP)
    return None if raw is None else re.search(pattern, raw)


def _glibc_version(libc: str | None) -> tuple[int, int] | None:
    """The version a glibc ``libc.so.6`` reports (its banner), else its newest GLIBC_2.N."""
    if libc is None:
        return None
    raw = read_regular(libc, _BINARY_CAP)
    if raw is None:
        return None
    m = re.search(rb"release version (\d+)\.(\d+)", raw)
    if m:
        return int(m[1]), int(m[2])
    found = [int(n) for n in re.findall(rb"GLIBC_2\.(\d+)\x00", raw)]
    return (2, max(found)) if found else None


def _musl_version(loader: str) -> tuple[int, int] | None:
    m = _version_in(loader, rb"\x00(1)\.(\d+)\.\d+\x00")
    return (int(m[1]), int(m[2])) if m else None


def _find_libc(fs: RootFS, arch: str, elf_class: int) -> str | None:
    """Where the image's loader finds ``libc.so.6``: its ld.so.cache, else the default dirs."""
    from verify_env.loader.search import search_setup

    setup = search_setup(arch, elf_class, "glibc", {}, fs)
    for candidate in (*setup.ld_cache.get("libc.so.6", ()), *setup.default_dirs):
        path = candidate if candidate.endswith("libc.so.6") else candidate + "/libc.so.6"
        real = fs.resolve(path)
        if _is_file(real):
            return real
    return None


def libc_of(
    fs: RootFS, loader: str | None, arch: str, elf_class: int
) -> tuple[str | None, tuple[int, int] | None, tuple[int, int] | None]:
    """(libc family, glibc version, musl version) of a program whose PT_INTERP is ``loader``:
    ``ld-musl-*`` is musl's (its version in the loader), any other loader glibc's (its version
    from the image's ``libc.so.6``)."""
    if not loader:
        return None, None, None
    if "ld-musl" in loader:
        return "musl", None, _musl_version(fs.resolve(loader))
    return "glibc", _glibc_version(_find_libc(fs, arch, elf_class)), None


def _sysconfig_vars(stdlib: str, multiarch_hint: str) -> dict[str, object]:
    """``build_time_vars`` of the stdlib's ``_sysconfigdata_*.py`` for this arch, as data."""
    try:
        names = sorted(n for n in os.listdir(stdlib) if n.startswith("_sysconfigdata_"))
    except OSError:
        return {}
    names = [n for n in names if n.endswith(".py")]
    names.sort(key=lambda n: multiarch_hint not in n)
    for name in names:
        raw = read_regular(os.path.join(stdlib, name), _SYSCONFIG_CAP)
        if raw is None:
            continue
        try:
            tree = ast.parse(raw.decode("utf-8", "replace"))
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "build_time_vars" for t in node.targets
            ):
                try:
                    value = ast.literal_eval(node.value)
                except (ValueError, TypeError, SyntaxError, RecursionError):
                    break
                if isinstance(value, dict):
                    return {str(k): v for k, v in value.items()}
    return {}


def _stdlib_dirs(fs: RootFS, base: str, name: str | None) -> Iterator[tuple[int, int, str]]:
    """(major, minor, host dir) of each ``lib*/pythonX.Y`` holding ``os.py`` under ``base``
    (inside the image); the one ``name`` (``python3.11``) spells first."""
    found = []
    for libdir in ("lib", "lib64"):
        parent = fs.resolve(base + "/" + libdir)
        try:
            entries = os.listdir(parent)
        except OSError:
            continue
        for entry in entries:
            m = re.fullmatch(r"python(\d+)\.(\d+)t?", entry)
            if m and _is_file(fs.resolve(os.path.join(parent, entry, "os.py"))):
                found.append((int(m[1]), int(m[2]), fs.resolve(os.path.join(parent, entry))))
    found.sort(key=lambda f: (name != f"python{f[0]}.{f[1]}", -f[1]))
    yield from found


def _site_packages(
    fs: RootFS, prefixes: list[str], version: str, debian: bool, venv: bool, platlib: str
) -> list[str]:
    """``site.getsitepackages(prefixes)`` as that interpreter's ``site.py`` computes it (inside
    the image)."""
    out: list[str] = []
    for prefix in dict.fromkeys(prefixes):
        if debian:
            if venv:
                out.append(f"{prefix}/lib/python{version}/site-packages")
            out += [
                f"{prefix}/local/lib/python{version}/dist-packages",
                f"{prefix}/lib/python3/dist-packages",
            ]
            out += [
                f"{prefix}/{d}/python{version}/dist-packages"
                for d in dict.fromkeys([platlib, "lib"])
            ]
        else:
            out += [
                f"{prefix}/{d}/python{version}/site-packages"
                for d in dict.fromkeys([platlib, "lib"])
            ]
    return [fs.host(p) for p in out]


def describe_files(fs: RootFS, python: str, note: str | None = None) -> dict[str, object]:
    """The probe's facts (`introspect.collect`'s keys) for the interpreter at ``python`` (a path
    inside the image, or a host path under it), from files only.

    Raises `ProbeError` when there is no interpreter to describe there."""
    exe = fs.host(python)
    inner_exe = fs.inner(exe)
    exe_dir = os.path.dirname(inner_exe)
    cfg_path, cfg = None, None
    for candidate in (exe_dir + "/pyvenv.cfg", os.path.dirname(exe_dir) + "/pyvenv.cfg"):
        cfg = read_pyvenv_cfg(fs.resolve(candidate))
        if cfg is not None:
            cfg_path = candidate
            break
    real = fs.resolve(exe)
    try:
        info = elf.read_dynamic(real)
    except OSError as exc:
        raise ProbeError(f"{inner_exe!r} in {fs.root}: {exc.strerror or exc}") from None
    except elf.ElfFormatError as exc:
        raise ProbeError(f"{inner_exe!r} in {fs.root} is not an interpreter: {exc}") from None
    arch = _arch(info.header)
    binary = read_regular(real, _BINARY_CAP) or b""
    if not any(n.startswith("libpython") for n in info.needed) and b"Py_BytesMain" not in binary:
        # CPython's main() is Py_BytesMain, in the program or the libpython it links
        raise ProbeError(f"{inner_exe!r} in {fs.root} is not a Python interpreter")
    real_inner = fs.inner(real)
    venv_prefix = os.path.dirname(exe_dir) if cfg is not None else None
    home = cfg.get("home") if cfg else None
    base = (
        os.path.dirname(home.rstrip("/")) if home else os.path.dirname(os.path.dirname(real_inner))
    )
    name = os.path.basename(real_inner)
    stdlibs = list(_stdlib_dirs(fs, base, name))
    if not stdlibs and home:  # a home that is not <prefix>/bin: the interpreter's own place
        base = os.path.dirname(os.path.dirname(real_inner))
        stdlibs = list(_stdlib_dirs(fs, base, name))
    if not stdlibs:
        raise ProbeError(f"{inner_exe!r} in {fs.root}: no standard library found under {base!r}")
    major, minor, stdlib = stdlibs[0]
    version = f"{major}.{minor}"
    libc_family, glibc, musl = libc_of(fs, info.interpreter, arch, info.header.elf_class)
    libc_version = glibc or musl
    multiarch = f"{arch}-linux-{'musl' if musl else 'gnu'}"
    config = _sysconfig_vars(stdlib, multiarch)
    abiflags = str(config.get("ABIFLAGS") or "")
    soabi = str(config.get("SOABI") or f"cpython-{major}{minor}{abiflags}-{multiarch}")
    ext_suffix = str(config.get("EXT_SUFFIX") or f".{soabi}.so")
    platlib = str(config.get("PLATLIBDIR") or "lib")
    free_threaded = "t" in abiflags
    suffixes = [ext_suffix, *([] if free_threaded else [".abi3.so"]), ".so"]
    given = (cfg or {}).get("version_info") or (cfg or {}).get("version") or ""
    m = re.match(re.escape(version) + r"\.(\d+)", given)
    if m is not None:
        micro = int(m[1])
    else:  # the version string compiled into the interpreter: b"\x003.11.2\x00"
        compiled = re.search(rb"\x00" + re.escape(version.encode()) + rb"\.(\d+)\x00", binary)
        micro = int(compiled[1]) if compiled else 0
    site_py = read_regular(os.path.join(stdlib, "site.py"), 1 << 20) or b""
    debian = b"dist-packages" in site_py
    inner_stdlib = fs.inner(stdlib)
    stdlib_prefix = os.path.dirname(os.path.dirname(inner_stdlib))
    system_site = (cfg or {}).get("include-system-site-packages", "false").lower() == "true"
    declared: list[str] = []
    if venv_prefix is not None:
        declared += _site_packages(fs, [venv_prefix], version, debian, True, platlib)
        if system_site:
            declared += _site_packages(fs, [stdlib_prefix], version, debian, True, platlib)
    else:
        declared += _site_packages(fs, [stdlib_prefix], version, debian, False, platlib)
    path = [
        fs.host(f"{stdlib_prefix}/{platlib}/python{major}{minor}.zip"),
        stdlib,
        os.path.join(stdlib, "lib-dynload"),
    ]
    state = introspect._Site(path, rebase=fs.host)
    for d in declared:
        if os.path.isdir(fs.resolve(d)):
            state.add_sitedir(d)
    platforms = manylinux_platforms(arch, glibc, musl)
    abi = f"cp{major}{minor}{abiflags}"
    full = f"{version}.{micro}"
    prefix = fs.host(venv_prefix) if venv_prefix is not None else fs.host(stdlib_prefix)
    return {
        "root": fs.root,
        "executable": exe,
        "prefix": prefix,
        "base_prefix": fs.host(stdlib_prefix),
        "exec_prefix": prefix,
        "version": [major, minor, micro],
        "implementation": "cpython",
        "soabi": soabi,
        "extension_suffixes": suffixes,
        "platform": "linux",
        "machine": arch,
        "libc": libc_family,
        "libc_version": f"{libc_version[0]}.{libc_version[1]}" if libc_version else None,
        "site_packages": declared,
        "user_site": None,
        "sys_path": state.path,
        "stdlib": stdlib,
        "platstdlib": stdlib,
        "env": {},
        "tags": tags_for((major, minor), abi, platforms),
        "markers": linux_markers(arch, full),
        "stdlib_modules": _stdlib_modules(stdlib),
        "startup_code": state.startup_code,
        "customize": introspect._customize(state.path, False),
        "pyvenv_cfg": fs.host(cfg_path) if cfg_path else None,
        "home": home,
    }


def _stdlib_modules(stdlib: str) -> list[str]:
    """Top-level names of the image's standard library: its files, and the built-in modules
    (not files anywhere) as this Python knows them."""
    import sys

    found = set(sys.builtin_module_names)
    for sub in (stdlib, os.path.join(stdlib, "lib-dynload")):
        try:
            entries = os.listdir(sub)
        except OSError:
            continue
        for entry in entries:
            stem = entry.split(".")[0]
            if (
                stem.isidentifier()
                and stem != "__pycache__"
                and entry not in ("site-packages", "dist-packages")
            ):
                found.add(stem)
    return sorted(found)
