"""Which interpreter is verified, and the facts about it that every check judges against.

The running interpreter is described in-process; another one (``--python``, ``--prefix``, or the
environment that ``VIRTUAL_ENV`` / ``CONDA_PREFIX`` names when verify-env itself lives elsewhere,
as with pipx or ``uv tool``) is asked once through `introspect.py` in a subprocess.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from verify_env.errors import InterpreterFailed, ProbeError, UsageError
from verify_env.target import introspect
from verify_env.target.interpreter import activated_environment, default_interpreter, interpreter_in

__all__ = [
    "Target",
    "default_interpreter",
    "resolve_target",
    "site_dirs_here",
    "start_target",
    "static_target",
    "unusable_target",
]

PROBE_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Target:
    """Facts about the interpreter (if any) and the prefix being verified."""

    prefix: str
    """The environment's root: venv dir, conda prefix, or the system prefix."""
    executable: str | None
    """The interpreter; None for a conda prefix that holds no Python."""
    version: tuple[int, int, int] | None
    """``sys.version_info[:3]`` of the interpreter."""
    implementation: str | None
    """``sys.implementation.name`` (cpython, pypy …)."""
    tags: tuple[str, ...]
    """``packaging.tags.sys_tags()`` as the target computes them, most preferred first."""
    extension_suffixes: tuple[str, ...]
    """``importlib.machinery.EXTENSION_SUFFIXES`` of the target."""
    platform: str
    """``sys.platform``."""
    machine: str
    """``platform.machine()``."""
    libc: str | None
    """``glibc`` or ``musl`` on Linux, else None."""
    libc_version: tuple[int, int] | None
    """The running libc's version."""
    site_dirs: tuple[str, ...]
    """Directories whose distributions belong to the target: site-packages, user site, and
    other sys.path directories (but not the standard library)."""
    site_packages: tuple[str, ...]
    """The site dirs the interpreter itself declares (``site.getsitepackages()`` and the user
    site), as opposed to other sys.path entries."""
    sys_path: tuple[str, ...]
    """The target's ``sys.path`` as a fresh interpreter sees it (the probe's own dir left out)."""
    env: Mapping[str, str]
    """The environment variables that matter to loading: LD_LIBRARY_PATH, PYTHONPATH …"""
    markers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """PEP 508 marker values as the target evaluates them (``python_version`` …)."""
    stdlib_modules: frozenset[str] = frozenset()
    """Top-level names of the target's standard library."""
    note: str | None = None
    """Why this environment was chosen, when it is not the obvious one (shown in the header)."""
    startup_code: tuple[tuple[str, int, str], ...] = ()
    """(``.pth`` file, line number, line) for each line ``site`` executes at start-up: parsed
    from the files, never run."""
    customize: tuple[str, ...] = ()
    """The ``sitecustomize`` / ``usercustomize`` modules ``site`` would import at start-up."""
    cache_tag: str | None = None
    """``sys.implementation.cache_tag`` (``cpython-311``): which ``__pycache__/*.pyc`` the
    target loads; None when unknown (no interpreter) or when it writes none."""
    magic: bytes | None = None
    """``importlib.util.MAGIC_NUMBER``: the first four bytes of every ``.pyc`` it loads."""
    root: str | None = None
    """``--root``: the image directory every path here lies in. Its facts were read from files
    (`verify_env.target.static`), nothing in it runs, and every path is resolved inside it
    (`real`)."""
    stdlib: str | None = None
    """The standard library's directory (whose OS package, if any, judges its files)."""
    pyvenv_cfg: str | None = None
    """The venv's ``pyvenv.cfg``, when the target is a venv described from files."""
    home: str | None = None
    """``pyvenv.cfg``'s ``home``: the base interpreter's directory (as the file spells it)."""
    fallback: str | None = None
    """Why the facts were read from files although an interpreter was to be asked: what
    running it said (`verify_env.target.fallback`); the ``paths`` check reports it."""
    user_site: str | None = None
    """The user site dir (``~/.local/lib/pythonX.Y/site-packages`` of the running user) when
    ``site`` would add it: not under ``-s``/``PYTHONNOUSERSITE``, nor in a venv without
    ``include-system-site-packages`` (worked out from files by `introspect`)."""

    @property
    def tag_set(self) -> frozenset[str]:
        return frozenset(self.tags)

    def real(self, path: str) -> str:
        """``os.path.realpath``, or for an image (`root`) the path its links lead to inside it."""
        if self.root is None:
            return os.path.realpath(path)
        from verify_env.loader.rootfs import RootFS

        return RootFS(self.root).resolve(path)

    @property
    def command_python(self) -> str | None:
        """The interpreter as a repair command names it: the path a user types where the
        environment runs (inside the image for `root`), None when there is none."""
        return self.shown(self.executable) if self.executable else None

    def shown(self, path: str) -> str:
        """A path as the user knows it: inside the image for `root`, else as it is."""
        if self.root is None:
            return path
        from verify_env.loader.rootfs import RootFS

        return RootFS(self.root).inner(path)


def _version_pair(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return None


def _site_dirs(facts: Mapping[str, object]) -> tuple[str, ...]:
    """Site dirs first, then other sys.path dirs outside the standard library, deduplicated
    (links followed inside the image for ``--root``)."""
    realpath: Callable[[str], str] = os.path.realpath
    if facts.get("root"):
        from verify_env.loader.rootfs import RootFS

        realpath = RootFS(str(facts["root"])).resolve
    stdlib = {realpath(str(p)) for p in (facts.get("stdlib"), facts.get("platstdlib")) if p}
    seen: set[str] = set()
    out: list[str] = []
    declared: list[str] = [str(p) for p in facts.get("site_packages") or ()]  # type: ignore[attr-defined]
    if facts.get("user_site"):
        declared.append(str(facts["user_site"]))
    others = [str(p) for p in facts.get("sys_path") or ()]  # type: ignore[attr-defined]
    for entry, is_site in [(p, True) for p in declared] + [(p, False) for p in others]:
        if not entry:
            continue
        real = realpath(entry)
        if real in seen or not os.path.isdir(real):
            continue
        # the stdlib and what lives beside it (lib-dynload) hold no distributions
        if not is_site and (real in stdlib or os.path.dirname(real) in stdlib):
            continue
        seen.add(real)
        out.append(os.path.normpath(entry))
    return tuple(out)


def site_dirs_here() -> tuple[str, ...]:
    """`Target.site_dirs` of the running interpreter, from what this process already knows
    (no tags, no markers): what a front door needs to snapshot its own environment before the
    full description is ready."""
    import site
    import sysconfig

    paths = sysconfig.get_paths()
    try:
        declared = list(site.getsitepackages())
    except AttributeError:  # pragma: no cover - old virtualenv site.py
        declared = []
    return _site_dirs(
        {
            "stdlib": paths.get("stdlib"),
            "platstdlib": paths.get("platstdlib"),
            "site_packages": declared,
            "user_site": site.getusersitepackages() if site.ENABLE_USER_SITE else None,
            "sys_path": sys.path[1:],
        }
    )


def _from_facts(facts: Mapping[str, object], note: str | None) -> Target:
    version = facts["version"]
    assert isinstance(version, list)
    tags = facts.get("tags")
    if tags is None:
        tags = _tags_for_other(facts)
    return Target(
        prefix=str(facts["prefix"]),
        executable=str(facts["executable"]),
        version=(int(version[0]), int(version[1]), int(version[2])),
        implementation=str(facts["implementation"]),
        tags=tuple(str(t) for t in tags),  # type: ignore[attr-defined]
        extension_suffixes=tuple(facts["extension_suffixes"]),  # type: ignore[arg-type]
        platform=str(facts["platform"]),
        machine=str(facts["machine"]),
        libc=facts.get("libc"),  # type: ignore[arg-type]
        libc_version=_version_pair(facts.get("libc_version")),  # type: ignore[arg-type]
        site_dirs=_site_dirs(facts),
        site_packages=tuple(
            str(p)
            for p in [
                *(facts.get("site_packages") or ()),  # type: ignore[misc]
                facts.get("user_site"),
            ]
            if p
        ),
        sys_path=tuple(str(p) for p in facts.get("sys_path") or ()),  # type: ignore[attr-defined]
        env=dict(facts.get("env") or {}),  # type: ignore[call-overload]
        markers={str(k): str(v) for k, v in dict(facts.get("markers") or {}).items()},  # type: ignore[call-overload]
        stdlib_modules=frozenset(str(n) for n in facts.get("stdlib_modules") or ()),  # type: ignore[attr-defined]
        note=note,
        startup_code=tuple(
            (str(f), int(n), str(line))
            for f, n, line in facts.get("startup_code") or ()  # type: ignore[attr-defined]
        ),
        customize=tuple(str(p) for p in facts.get("customize") or ()),  # type: ignore[attr-defined]
        cache_tag=str(facts["cache_tag"]) if facts.get("cache_tag") else None,
        magic=_magic(facts.get("magic")),
        root=facts.get("root"),  # type: ignore[arg-type]
        stdlib=facts.get("stdlib"),  # type: ignore[arg-type]
        pyvenv_cfg=facts.get("pyvenv_cfg"),  # type: ignore[arg-type]
        home=facts.get("home"),  # type: ignore[arg-type]
        fallback=facts.get("fallback"),  # type: ignore[arg-type]
        user_site=str(facts["user_site"]) if facts.get("user_site") else None,
    )


def _magic(text: object) -> bytes | None:
    try:
        magic = bytes.fromhex(str(text)) if text else None
    except ValueError:
        return None
    return magic if magic is not None and len(magic) == 4 else None


def _tags_for_other(facts: Mapping[str, object]) -> list[str]:
    """Tags for a target whose probe could not import packaging (a Python packaging dropped).

    Same machine, so our own platform tags stand in for the target's.
    """
    from packaging import tags

    version = facts["version"]
    assert isinstance(version, list)
    pyver = (int(version[0]), int(version[1]))
    platforms = list(tags.platform_tags())
    if facts.get("implementation") == "cpython":
        out = list(tags.cpython_tags(pyver, platforms=platforms))
    else:
        out = list(tags.generic_tags(platforms=platforms))
    out += tags.compatible_tags(pyver, platforms=platforms)
    return [str(t) for t in out]


PendingFacts = Callable[[], dict[str, object]]


PROBE_OUTPUT_CAP = 8 << 20
"""Bytes the probe may print (its JSON is ~40 KB): a target that prints forever is cut off."""


def probe_command(python: str) -> list[str]:
    """How the probe runs ``python``: isolated (``-I``: no PYTHON* variables, no user site, no
    working directory on sys.path), without ``site`` (``-S``: no ``.pth`` line and no
    ``sitecustomize`` runs), writing no bytecode into the environment (``-B``). `introspect`
    works out what ``site`` would have added from the files."""
    import packaging

    packaging_dir = os.path.dirname(os.path.dirname(os.path.realpath(packaging.__file__)))
    return [python, "-I", "-S", "-B", os.path.realpath(introspect.__file__), packaging_dir]


def _probe(python: str) -> PendingFacts:
    """Start the probe in ``python`` now; the returned callable waits for its facts.

    Started before verify-env's own heavier imports, so the two overlap (~40 ms). It runs in
    its own session with a deadline and an output cap (`verify_env.sandbox`): the target's
    interpreter is the environment's code.
    """
    from verify_env import sandbox

    try:
        proc = sandbox.start(probe_command(python))
    except FileNotFoundError:
        raise InterpreterFailed(f"{python!r}: no such interpreter") from None
    except PermissionError:
        raise InterpreterFailed(f"{python!r}: not executable") from None
    except OSError as exc:
        raise InterpreterFailed(f"{python!r} could not be run: {exc.strerror or exc}") from None

    def facts() -> dict[str, object]:
        done = sandbox.finish(proc, PROBE_TIMEOUT, PROBE_OUTPUT_CAP)
        if done.timed_out:
            raise ProbeError(f"{python!r} did not answer within {PROBE_TIMEOUT:.0f} s")
        if done.overflowed:
            raise ProbeError(
                f"{python!r} printed more than {PROBE_OUTPUT_CAP >> 20} MiB instead of the "
                "probe's JSON"
            )
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace")
            last = (err.strip().splitlines() or ["no output"])[-1]
            raise InterpreterFailed(
                f"{python!r} failed to describe itself (exit {done.returncode}): {last}"
            )
        try:
            loaded = json.loads(done.stdout)
        except ValueError:
            loaded = None
        if not isinstance(loaded, dict):
            raise ProbeError(f"{python!r} printed something that is not the probe's JSON")
        return loaded

    return facts


def _prefix_without_python(prefix: str, note: str | None) -> Target:
    """A conda prefix with no interpreter: only what conda-meta records can be judged."""
    return Target(
        prefix=str(prefix),
        executable=None,
        version=None,
        implementation=None,
        tags=(),
        extension_suffixes=(),
        platform=sys.platform,
        machine=os.uname().machine,
        libc=None,
        libc_version=None,
        site_dirs=(),
        site_packages=(),
        sys_path=(),
        env={},
        note=note,
    )


def start_target(
    python: str | None = None, prefix: str | None = None, environ: Mapping[str, str] | None = None
) -> Callable[[], Target]:
    """The target the user meant: an explicit flag, else an activated env, else this process.

    A probe of another interpreter starts at once; calling the result waits for it.
    """
    environ = os.environ if environ is None else environ
    if python and prefix:
        raise UsageError("--python and --prefix name two targets; give one")
    if python:
        return _started(python, None)
    if prefix:
        if not os.path.isdir(prefix):
            raise UsageError(f"--prefix {prefix!r}: not a directory")
        exe = interpreter_in(prefix)
        if exe is None and os.path.isfile(os.path.join(prefix, "pyvenv.cfg")):
            return _started(os.path.join(prefix, "bin", "python"), None)  # its base is gone?
        if exe is None:
            if not os.path.isdir(os.path.join(prefix, "conda-meta")):
                raise UsageError(f"--prefix {prefix!r}: no bin/python and no conda-meta inside")
            target = _prefix_without_python(os.path.abspath(prefix), None)
            return lambda: target
        return _started(exe, None)
    other = activated_environment(environ)
    if other is not None:
        other_prefix, exe, note = other
        if exe is None:
            target = _prefix_without_python(other_prefix, note)
            return lambda: target
        return _started(exe, note)
    return _later(lambda: introspect.collect(None, script_mode=True), None)


def static_target(root: str, python: str, note: str | None = None) -> Target:
    """The target of the interpreter at ``python`` inside the image at ``root``, described from
    its files (`verify_env.target.static`): nothing of the image runs."""
    from verify_env.loader.rootfs import RootFS
    from verify_env.target.fallback import describe_broken
    from verify_env.target.static import describe_files

    fs = RootFS(root)
    try:
        return _from_facts(describe_files(fs, python), note)
    except ProbeError as exc:  # a venv whose base is gone: described from the venv alone
        return _from_facts(describe_broken(fs, python, str(exc)), note)


def unusable_target(root: str, python: str, reason: str) -> Target:
    """An interpreter of the image at ``root`` that its files cannot describe (no standard
    library, not a Python …): a target with no facts but why, so that the ``paths`` check
    reports it (`Target.fallback`) instead of the run passing over it."""
    from verify_env.loader.rootfs import RootFS

    fs = RootFS(root)
    exe = fs.host(python)
    prefix = fs.host(os.path.dirname(os.path.dirname(fs.inner(exe))))
    return dataclasses.replace(
        _prefix_without_python(prefix, None), executable=exe, root=fs.root, fallback=reason
    )


def _fallback(python: str, failure: ProbeError, note: str | None) -> Target:
    """The target of an interpreter that cannot run, from its files; ``failure`` again when
    they describe nothing (no venv, no interpreter there)."""
    from verify_env.loader.rootfs import RootFS
    from verify_env.target.fallback import describe_broken

    try:
        facts = describe_broken(RootFS("/"), os.path.abspath(python), str(failure))
    except ProbeError:
        raise failure from None
    why = f"{python} cannot run; its environment was described from its files"
    return _from_facts(facts, f"{note}; {why}" if note else why)


def _started(python: str, note: str | None) -> Callable[[], Target]:
    """The probe of ``python`` started; a target from its files when it cannot run."""
    try:
        pending = _probe(python)
    except InterpreterFailed as exc:
        target = _fallback(python, exc, note)
        return lambda: target
    return _later(pending, note, python)


def _later(
    facts: PendingFacts, note: str | None, python: str | None = None
) -> Callable[[], Target]:
    def target() -> Target:
        try:
            return _from_facts(facts(), note)
        except InterpreterFailed as exc:
            if python is None:
                raise
            return _fallback(python, exc, note)

    return target


def resolve_target(
    python: str | None = None, prefix: str | None = None, environ: Mapping[str, str] | None = None
) -> Target:
    """`start_target`, waited for."""
    return start_target(python, prefix, environ)()
