"""Facts about an interpreter, gathered inside it.

Imported by verify-env to describe the interpreter it runs in, and run as a script by any
other CPython 3.8+ (``python -B probe.py PACKAGING_DIR``) to describe that one; it prints one
JSON object. So it must stay 3.8-compatible and import nothing outside the standard library but
`packaging`, which it borrows from verify-env's own install (``PACKAGING_DIR``) to compute
``sys_tags()`` exactly as the target would. The target's own ``site`` runs, as it does for every
``python`` the user starts; ``-B`` keeps it from writing bytecode into the environment.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import platform
import site
import sys
import sysconfig


def _libc() -> tuple[str | None, str | None]:
    try:
        ver = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        ver = ""
    if ver.startswith("glibc "):
        return "glibc", ver.split()[1]
    if sys.platform.startswith("linux"):
        try:
            from packaging import _musllinux

            musl = _musllinux._get_musl_version(sys.executable)
            if musl is not None:
                return "musl", f"{musl.major}.{musl.minor}"
        except Exception:
            pass
    return None, None


def _tags() -> list[str] | None:
    try:
        from packaging import tags

        return [str(t) for t in tags.sys_tags()]
    except Exception:
        return None


def _markers() -> dict[str, str]:
    """PEP 508 marker values as the target evaluates them: the formulas of packaging's
    ``default_environment()``, written out, because importing ``packaging.markers`` costs
    ~17 ms of every probe (tests/unit/test_probe.py holds the two equal)."""
    impl = sys.implementation
    iv = impl.version
    impl_version = f"{iv.major}.{iv.minor}.{iv.micro}"
    if iv.releaselevel != "final":
        impl_version += iv.releaselevel[0] + str(iv.serial)
    return {
        "implementation_name": impl.name,
        "implementation_version": impl_version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def _stdlib_modules() -> list[str]:
    """Top-level names of the standard library (``sys.stdlib_module_names`` from 3.10; a
    listing of the stdlib dirs before)."""
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        return sorted(names)
    found = set(sys.builtin_module_names)
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib"):
        base = paths.get(key)
        for sub in (base, os.path.join(base, "lib-dynload") if base else None):
            try:
                entries = os.listdir(sub) if sub else []
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


def collect(packaging_dir: str | None = None, script_mode: bool = False) -> dict[str, object]:
    """Return the facts as a JSON-able dict.

    ``script_mode`` drops ``sys.path[0]`` (the probe's own directory) from the reported path.
    """
    path = list(sys.path)
    if script_mode and path:
        path = path[1:]
    if packaging_dir:
        sys.path.insert(0, packaging_dir)
    try:
        site_packages = list(site.getsitepackages())
    except AttributeError:  # old virtualenv's site.py has no getsitepackages
        site_packages = [p for p in path if p.endswith(("site-packages", "dist-packages"))]
    user_site = None
    if site.ENABLE_USER_SITE:
        user_site = site.getusersitepackages()
    family, version = _libc()
    env = {
        k: os.environ[k]
        for k in ("LD_LIBRARY_PATH", "PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONHOME")
        if k in os.environ
    }
    paths = sysconfig.get_paths()
    return {
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "exec_prefix": sys.exec_prefix,
        "version": list(sys.version_info[:3]),
        "implementation": sys.implementation.name,
        "cache_tag": sys.implementation.cache_tag,
        "soabi": sysconfig.get_config_var("SOABI"),
        "extension_suffixes": list(importlib.machinery.EXTENSION_SUFFIXES),
        "platform": sys.platform,
        "machine": platform.machine(),
        "sysconfig_platform": sysconfig.get_platform(),
        "libc": family,
        "libc_version": version,
        "site_packages": site_packages,
        "user_site": user_site,
        "user_base": getattr(site, "USER_BASE", None),
        "sys_path": path,
        "stdlib": paths.get("stdlib"),
        "platstdlib": paths.get("platstdlib"),
        "scripts": paths.get("scripts"),
        "env": env,
        "tags": _tags(),
        "maxsize_bits": 64 if sys.maxsize > 2**32 else 32,
        "markers": _markers(),
        "stdlib_modules": _stdlib_modules(),
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(collect(sys.argv[1] if len(sys.argv) > 1 else None, True)))
