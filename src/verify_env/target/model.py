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

from verify_env.errors import ProbeError, UsageError
from verify_env.target import introspect
from verify_env.target.interpreter import activated_environment, default_interpreter, interpreter_in

__all__ = ["Target", "default_interpreter", "resolve_target", "site_dirs_here", "start_target"]

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
    user_site: str | None = None
    """The user site dir (``~/.local/lib/pythonX.Y/site-packages`` of the running user) when
    ``site`` would add it: not under ``-s``/``PYTHONNOUSERSITE``, nor in a venv without
    ``include-system-site-packages`` (worked out from files by `introspect`)."""

    @property
    def tag_set(self) -> frozenset[str]:
        return frozenset(self.tags)


def _version_pair(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return None


def _site_dirs(facts: Mapping[str, object]) -> tuple[str, ...]:
    """Site dirs first, then other sys.path dirs outside the standard library, deduplicated."""
    stdlib = {os.path.realpath(str(p)) for p in (facts.get("stdlib"), facts.get("platstdlib")) if p}
    seen: set[str] = set()
    out: list[str] = []
    declared: list[str] = [str(p) for p in facts.get("site_packages") or ()]  # type: ignore[attr-defined]
    if facts.get("user_site"):
        declared.append(str(facts["user_site"]))
    others = [str(p) for p in facts.get("sys_path") or ()]  # type: ignore[attr-defined]
    for entry, is_site in [(p, True) for p in declared] + [(p, False) for p in others]:
        if not entry:
            continue
        real = os.path.realpath(entry)
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
        user_site=str(facts["user_site"]) if facts.get("user_site") else None,
    )


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
        raise ProbeError(f"{python!r}: no such interpreter") from None
    except PermissionError:
        raise ProbeError(f"{python!r}: not executable") from None
    except OSError as exc:
        raise ProbeError(f"{python!r} could not be run: {exc.strerror or exc}") from None

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
            raise ProbeError(
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
        return _later(_probe(python), None)
    if prefix:
        if not os.path.isdir(prefix):
            raise UsageError(f"--prefix {prefix!r}: not a directory")
        exe = interpreter_in(prefix)
        if exe is None:
            if not os.path.isdir(os.path.join(prefix, "conda-meta")):
                raise UsageError(f"--prefix {prefix!r}: no bin/python and no conda-meta inside")
            target = _prefix_without_python(os.path.abspath(prefix), None)
            return lambda: target
        return _later(_probe(exe), None)
    other = activated_environment(environ)
    if other is not None:
        other_prefix, exe, note = other
        if exe is None:
            target = _prefix_without_python(other_prefix, note)
            return lambda: target
        return _later(_probe(exe), note)
    return _later(lambda: introspect.collect(None, script_mode=True), None)


def _later(facts: PendingFacts, note: str | None) -> Callable[[], Target]:
    return lambda: _from_facts(facts(), note)


def resolve_target(
    python: str | None = None, prefix: str | None = None, environ: Mapping[str, str] | None = None
) -> Target:
    """`start_target`, waited for."""
    return start_target(python, prefix, environ)()
