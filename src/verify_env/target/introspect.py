"""Facts about an interpreter, gathered inside it.

Imported by verify-env to describe the interpreter it runs in, and run as a script by any
other CPython 3.8+ (``python -I -S -B probe.py PACKAGING_DIR``) to describe that one; it prints
one JSON object. So it must stay 3.8-compatible and import nothing outside the standard library
but `packaging`, which it borrows from verify-env's own install (``PACKAGING_DIR``, appended to
``sys.path`` so the standard library always wins) to compute ``sys_tags()`` as the target would.

The environment is untrusted input (issue 18, §1): the target runs isolated (``-I``: no
PYTHON* variables, no user site, no working directory; ``-S``: no ``site``, so no ``.pth``
line and no ``sitecustomize`` runs; ``-B``: no bytecode written into it). What ``site`` would
have added is worked out here from files instead: ``pyvenv.cfg``, the site-packages dirs of
the prefixes, and ``.pth`` files *parsed*: their path lines are added as ``site`` adds them,
their ``import`` lines are reported (``startup_code``), never run; so is a ``sitecustomize`` or
``usercustomize`` module that ``site`` would import.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import platform
import site
import sys
import sysconfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


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


_PTH_CAP = 1 << 20
"""Bytes of one ``.pth`` file read; ``site`` reads all of it, but nothing real is this big."""
_PTH_TOTAL = 64 << 20
"""Bytes of ``.pth`` files read in all (a site dir holding 100k of them must not cost GBs)."""
_CODE_LINES = 200
"""Code lines reported at most: each is a finding; the probe's output stays small."""


def _read_text(path: str, cap: int) -> str | None:
    """A regular file's text, read non-blocking and at most ``cap`` bytes (a FIFO or a device
    in the environment must not hang the probe)."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, cap)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data.decode("utf-8", "surrogateescape")


class _Site:
    """What ``site.main()`` would do to ``sys.path``, done from files: nothing is executed."""

    def __init__(self, path: list[str], rebase: Callable[[str], str] | None = None) -> None:
        self.path = path
        self.rebase = rebase
        """How an absolute path a ``.pth`` line names maps to a path here (``--root``: the
        image's ``/src`` is ``ROOT/src``); None: as spelled."""
        self.known = {os.path.normcase(os.path.abspath(p)) for p in path}
        self.startup_code: list[list[object]] = []
        """[.pth file, line number, line] for every line ``site`` would ``exec``."""
        self.processed: list[str] = []
        """The directories whose ``.pth`` files ``site`` processes."""
        self.budget = _PTH_TOTAL

    def add_sitedir(self, sitedir: str) -> None:
        sitedir = os.path.abspath(sitedir)
        case = os.path.normcase(sitedir)
        if case not in self.known:
            self.path.append(sitedir)
            self.known.add(case)
        if sitedir in self.processed:  # site processes it again; its lines say nothing new
            return
        self.processed.append(sitedir)
        try:
            names = sorted(n for n in os.listdir(sitedir) if n.endswith(".pth"))
        except OSError:
            return
        hidden = sys.version_info >= (3, 13)  # 3.13 skips ".name.pth" (gh-113659)
        for name in names:
            if not (hidden and name.startswith(".")):
                self._add_pth(sitedir, name)

    def _add_pth(self, sitedir: str, name: str) -> None:
        full = os.path.join(sitedir, name)
        if self.budget <= 0:
            return
        text = _read_text(full, min(_PTH_CAP, self.budget))
        if text is None:
            return
        self.budget -= len(text)
        if text.startswith("\ufeff"):
            text = text[1:]
        for n, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
            if line.startswith("#") or not line.strip():
                continue
            if line.startswith(("import ", "import\t")):
                if len(self.startup_code) < _CODE_LINES:
                    self.startup_code.append([full, n, line.strip()[:500]])
                continue
            entry = os.path.abspath(os.path.join(sitedir, line.rstrip()))
            if self.rebase is not None:
                entry = self.rebase(entry)
            case = os.path.normcase(entry)
            try:
                exists = os.path.exists(entry)
            except (ValueError, OSError):
                exists = False
            if case not in self.known and exists:
                self.path.append(entry)
                self.known.add(case)


def _user_site_allowed() -> bool:
    """``site.check_enableusersite()`` for a normal start, which ``-I`` cannot ask."""
    if os.environ.get("PYTHONNOUSERSITE"):
        return False
    return not hasattr(os, "geteuid") or (
        os.geteuid() == os.getuid() and os.getegid() == os.getgid()
    )


def _pyvenv_cfg() -> tuple[str, dict[str, str]] | None:
    """The venv's prefix and its ``pyvenv.cfg`` keys, found as ``site.venv()`` finds them."""
    exe_dir = os.path.dirname(os.path.abspath(sys.executable))
    site_prefix = os.path.dirname(exe_dir)
    for candidate in (os.path.join(exe_dir, "pyvenv.cfg"), os.path.join(site_prefix, "pyvenv.cfg")):
        if os.path.isfile(candidate):
            text = _read_text(candidate, 1 << 16) or ""
            keys = {}
            for line in text.splitlines():
                if "=" in line:
                    key, _, value = line.partition("=")
                    keys[key.strip().lower()] = value.strip()
            return site_prefix, keys
    return None


def _site_packages_of(prefixes: list[str]) -> list[str]:
    """``site.getsitepackages(prefixes)``, or its POSIX rule where an old virtualenv's
    ``site.py`` lacks it."""
    try:
        return list(site.getsitepackages(prefixes))
    except AttributeError:
        version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        return [os.path.join(p, "lib", version, "site-packages") for p in prefixes]


def _site_from_files() -> tuple[_Site, list[str], str | None, str | None]:
    """``site.main()`` without running anything: the site state, the declared site-packages,
    the user site (None when disabled) and the user base. Sets ``sys.prefix`` for a venv,
    as ``site.venv()`` does, before sysconfig first reads it."""
    path = list(sys.path)
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    path = [os.path.abspath(p) for p in extra] + path
    state = _Site([])
    for p in path:  # removeduppaths()
        case = os.path.normcase(os.path.abspath(p))
        if case not in state.known:
            state.path.append(os.path.abspath(p))
            state.known.add(case)
    prefixes = [sys.prefix] + ([sys.exec_prefix] if sys.exec_prefix != sys.prefix else [])
    user_allowed = _user_site_allowed()
    venv = _pyvenv_cfg()
    declared: list[str] = []
    if venv is not None:
        site_prefix, keys = venv
        sys.prefix = sys.exec_prefix = site_prefix
        for d in _site_packages_of([site_prefix]):
            declared.append(d)
            if os.path.isdir(d):
                state.add_sitedir(d)
        if keys.get("include-system-site-packages", "true").lower() == "true":
            prefixes.insert(0, site_prefix)
        else:
            prefixes = [site_prefix]
            user_allowed = False
    user_base = getattr(site, "getuserbase", lambda: None)()
    user_site = site.getusersitepackages() if user_allowed and user_base else None
    if user_site and os.path.isdir(user_site):
        state.add_sitedir(user_site)
    for d in _site_packages_of(prefixes):
        if d not in declared:
            declared.append(d)
        if os.path.isdir(d):
            state.add_sitedir(d)
    return state, declared, user_site, user_base


def _customize(path: list[str], user: bool) -> list[str]:
    """Where ``import sitecustomize`` (and ``usercustomize``, when the user site is on) would
    find a module on ``path``: what ``site`` imports at every start-up."""
    import importlib.machinery as machinery

    suffixes = [".py", ".pyc", *machinery.EXTENSION_SUFFIXES]
    found = []
    for name in ("sitecustomize", "usercustomize") if user else ("sitecustomize",):
        for entry in path:
            hit = None
            if os.path.isfile(os.path.join(entry, name, "__init__.py")):
                hit = os.path.join(entry, name, "__init__.py")
            else:
                hit = next(
                    (
                        os.path.join(entry, name + s)
                        for s in suffixes
                        if os.path.isfile(os.path.join(entry, name + s))
                    ),
                    None,
                )
            if hit is not None:
                found.append(hit)
                break
    return found


def collect(packaging_dir: str | None = None, script_mode: bool = False) -> dict[str, object]:
    """Return the facts as a JSON-able dict.

    Run without ``site`` (the probe, ``-S``), what ``site`` would add is computed from files
    (`_site_from_files`); in a process where ``site`` already ran (verify-env's own), its
    results are taken and the ``.pth`` files are parsed for their code lines all the same.
    ``script_mode`` drops ``sys.path[0]`` (the script's own directory) when it is there.
    """
    if sys.flags.no_site:
        state, site_packages, user_site, user_base = _site_from_files()
        path = state.path
    else:
        path = list(sys.path)
        if script_mode and path and not sys.flags.isolated:
            path = path[1:]
        try:
            site_packages = list(site.getsitepackages())
        except AttributeError:  # old virtualenv's site.py has no getsitepackages
            site_packages = [p for p in path if p.endswith(("site-packages", "dist-packages"))]
        user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
        user_base = getattr(site, "USER_BASE", None)
        state = _Site(list(path))
        for d in [*([user_site] if user_site else []), *site_packages]:
            if os.path.isdir(d):
                state.add_sitedir(d)
    if packaging_dir:
        sys.path.append(packaging_dir)  # after the standard library: it must not shadow it
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
        "magic": importlib.util.MAGIC_NUMBER.hex(),
        "soabi": sysconfig.get_config_var("SOABI"),
        "extension_suffixes": list(importlib.machinery.EXTENSION_SUFFIXES),
        "platform": sys.platform,
        "machine": platform.machine(),
        "sysconfig_platform": sysconfig.get_platform(),
        "libc": family,
        "libc_version": version,
        "site_packages": site_packages,
        "user_site": user_site,
        "user_base": user_base,
        "sys_path": path,
        "stdlib": paths.get("stdlib"),
        "platstdlib": paths.get("platstdlib"),
        "scripts": paths.get("scripts"),
        "env": env,
        "tags": _tags(),
        "maxsize_bits": 64 if sys.maxsize > 2**32 else 32,
        "markers": _markers(),
        "stdlib_modules": _stdlib_modules(),
        "startup_code": state.startup_code,
        "customize": _customize(path, user_site is not None),
        "isolated": bool(sys.flags.no_site),
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(collect(sys.argv[1] if len(sys.argv) > 1 else None, True)))
