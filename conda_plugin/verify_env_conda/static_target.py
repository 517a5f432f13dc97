"""The target described from conda's own records, without starting the environment's Python
(issue 19 §10: most of the plugin's cost in a small transaction was that interpreter's start).

It suffices when the transaction neither changes the interpreter nor brings or removes a
compiled file or a ``.pth`` file: what is left to judge after such a transaction is recorded
bytes (the record check needs no interpreter), wheel tags and requirement markers. Those follow
from the interpreter's version, which ``conda-meta/python-*.json`` records, and the machine,
which is this one: conda links a prefix for the machine it runs on, and conda itself is running
here. Anything unusual (no python record, PyPy, a free-threaded build, conda not on CPython
Linux) falls back to the probe.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from verify_env_conda.records import PackageRef

if TYPE_CHECKING:
    from verify_env.target.model import Target

__all__ = ["records_suffice", "target_from_records"]

#: A file the linkage or tags check reads as compiled code, by its name.
_COMPILED = re.compile(r"\.(so(\.[0-9]+)*|pyd|dylib|dll)$")
_ELF = b"\x7fELF"
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)")
#: Python builds a version alone does not describe (PyPy, free-threaded ``cp313t``, debug).
_UNUSUAL_BUILD = re.compile(r"pypy|_cp\d+t\b|free|debug", re.IGNORECASE)
_LOADER_ENV = ("LD_LIBRARY_PATH", "PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONHOME")


def _is_elf(path: str) -> bool:
    from verify_env.files import read_regular

    return read_regular(path, 4) == _ELF


def records_suffice(
    linked: Sequence[PackageRef],
    unlinked: Sequence[PackageRef],
    linked_files: Mapping[PackageRef, tuple[str, Sequence[str]]],
) -> bool:
    """Whether the transaction leaves nothing the records cannot describe: python (or PyPy)
    is neither linked nor unlinked, and no file it links or unlinks is compiled (by name, or
    an ELF header in the cache copy of ``bin/``/``lib/`` files) or a ``.pth``.

    ``linked_files``: for each linked package, its extracted cache dir and prefix paths (a
    linked package missing there is not known, so the records do not suffice)."""
    if any(r.name in ("python", "pypy", "pypy3") for r in (*linked, *unlinked)):
        return False
    for ref in unlinked:
        if any(_COMPILED.search(p) or p.endswith(".pth") for p in ref.files):
            return False
    for ref in linked:
        known = linked_files.get(ref)
        if known is None:
            return False
        extracted, paths = known
        for path in paths:
            if _COMPILED.search(path) or path.endswith(".pth"):
                return False
            head = path.split("/", 1)[0]
            # noarch python-scripts are mapped to bin/ but live elsewhere in the cache: a path
            # not found there is a script conda generates, never ELF
            if (
                head in ("bin", "lib", "libexec", "sbin")
                and not path.endswith((".py", ".txt", ".json", ".md", ".rst", ".typed"))
                and _is_elf(os.path.join(extracted, path))
            ):
                return False
    return True


def _python_record(prefix: str) -> dict[str, object] | None:
    from verify_env.files import read_regular

    found = []
    for path in glob.glob(os.path.join(glob.escape(prefix), "conda-meta", "python-3*.json")):
        data = read_regular(path, 16 << 20)
        try:
            record = json.loads(data.decode("utf-8")) if data else None
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("name") == "python":
            found.append(record)
    return found[0] if len(found) == 1 else None


def _tags(xy: tuple[int, int]) -> list[str]:
    from packaging import tags

    platforms = list(tags.platform_tags())
    out = list(tags.cpython_tags(xy, platforms=platforms))
    out += tags.compatible_tags(xy, f"cp{xy[0]}{xy[1]}", platforms)
    return [str(t) for t in out]


def _libc() -> tuple[str | None, tuple[int, int] | None]:
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        text = ""
    parts = text.split()
    if len(parts) == 2 and parts[0] == "glibc":
        major, _, minor = parts[1].partition(".")
        if major.isdigit() and minor.split(".")[0].isdigit():
            return "glibc", (int(major), int(minor.split(".")[0]))
    return None, None


def target_from_records(prefix: str) -> Target | None:
    """The prefix's target from its python record and this machine, or None when that does
    not describe it (then the caller probes)."""
    import sysconfig

    from packaging.markers import default_environment

    from verify_env.target.model import Target

    if sys.implementation.name != "cpython" or not sys.platform.startswith("linux"):
        return None
    record = _python_record(prefix)
    if record is None:
        return None
    version, build = str(record.get("version", "")), str(record.get("build", ""))
    m = _VERSION.match(version)
    multiarch = sysconfig.get_config_var("MULTIARCH")
    if m is None or _UNUSUAL_BUILD.search(build) or not isinstance(multiarch, str):
        return None
    major, minor, micro = (int(g) for g in m.groups())
    lib = os.path.join(prefix, "lib", f"python{major}.{minor}")
    executable = os.path.join(prefix, "bin", f"python{major}.{minor}")
    libc, libc_version = _libc()
    if not os.path.lexists(executable) or libc is None:
        return None
    site = os.path.join(lib, "site-packages")
    markers = {k: str(v) for k, v in default_environment().items()}
    full = f"{major}.{minor}.{micro}"
    markers.update(
        python_version=f"{major}.{minor}",
        python_full_version=full,
        implementation_version=full,
        implementation_name="cpython",
        platform_python_implementation="CPython",
    )
    env = {k: os.environ[k] for k in _LOADER_ENV if k in os.environ}
    return Target(
        prefix=prefix,
        executable=executable,
        version=(major, minor, micro),
        implementation="cpython",
        tags=tuple(_tags((major, minor))),
        extension_suffixes=(f".cpython-{major}{minor}-{multiarch}.so", ".abi3.so", ".so"),
        platform=sys.platform,
        machine=os.uname().machine,
        libc=libc,
        libc_version=libc_version,
        site_dirs=(site,) if os.path.isdir(site) else (),
        site_packages=(site,),
        sys_path=(
            os.path.join(prefix, "lib", f"python{major}{minor}.zip"),
            lib,
            os.path.join(lib, "lib-dynload"),
            site,
        ),
        env=env,
        markers=markers,
        note="described from conda-meta (the transaction changed no compiled file)",
    )
