"""The Python environments of an unpacked image (``verify-env --root DIR`` without
``--python``), found by listing directories: nothing in the image runs.

- the system interpreters: ``pythonX.Y`` in ``/usr/bin``, ``/usr/local/bin``, ``/bin`` (Debian's
  ``/usr/bin/python3.11``, the official images' ``/usr/local/bin/python3.12``), one per file
  their links lead to;
- venvs: a ``pyvenv.cfg`` beside ``bin/python`` (or ``bin/python3``) under the places images put
  them (``/opt``, ``/venv``, ``/app``, ``/usr/local``, ``/home/*``, ``/root``, ``/srv``),
  searched to `MAX_DEPTH` levels, never through a link;
- conda prefixes: a ``conda-meta`` directory beside ``bin/python``.

Bounded (`MAX_ENTRIES` directory entries looked at, `MAX_ENVIRONMENTS` found): an image with a
million files in ``/srv`` costs a bounded listing, not a walk of all of it.
"""

from __future__ import annotations

import os
import re
import stat

from verify_env.loader.rootfs import RootFS

__all__ = ["MAX_DEPTH", "MAX_ENTRIES", "MAX_ENVIRONMENTS", "discover"]

MAX_DEPTH = 4
"""Directory levels below a search place (``/opt/company/app/.venv`` is 3)."""
MAX_ENTRIES = 50_000
"""Directory entries looked at in all."""
MAX_ENVIRONMENTS = 64
"""Environments verified at most (a note says when more were left out)."""
_SYSTEM_BIN = ("/usr/bin", "/usr/local/bin", "/bin")
_PLACES = ("/opt", "/venv", "/app", "/usr/local", "/root", "/srv", "/home")
_INTERPRETER = re.compile(r"python\d+\.\d+t?")
_SKIP = frozenset({"node_modules", "__pycache__", ".git", "site-packages", "dist-packages", "proc"})


def _is_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _interpreter_of(fs: RootFS, prefix: str) -> str | None:
    """The prefix's ``bin/python``: a file, or for a venv also a link to nothing (its base
    interpreter gone: verified from its files, and said so)."""
    venv = os.path.isfile(fs.resolve(f"{prefix}/pyvenv.cfg"))
    for rel in ("bin/python", "bin/python3"):
        if _is_file(fs.resolve(f"{prefix}/{rel}")) or (
            venv and os.path.islink(fs.host(f"{prefix}/{rel}"))
        ):
            return f"{prefix}/{rel}"
    return None


def discover(fs: RootFS) -> tuple[list[str], bool]:
    """The interpreters (paths inside the image) of its environments, system ones first; and
    whether the search stopped at a bound."""
    found: list[str] = []
    seen_real: set[str] = set()
    for d in _SYSTEM_BIN:
        try:
            names = sorted(os.listdir(fs.resolve(d)))
        except OSError:
            continue
        for name in names:
            if not _INTERPRETER.fullmatch(name):
                continue
            real = fs.resolve(f"{d}/{name}")
            if real not in seen_real and _is_file(real):
                seen_real.add(real)
                found.append(f"{d}/{name}")
    budget = [MAX_ENTRIES]
    places: list[str] = []
    for place in _PLACES:
        if place == "/home":
            try:
                places += sorted(f"/home/{n}" for n in os.listdir(fs.host("/home")))
            except OSError:
                pass
        else:
            places.append(place)
    prefixes: list[str] = []
    for place in places:
        _walk(fs, place, 0, prefixes, budget)
    for prefix in dict.fromkeys(prefixes):
        exe = _interpreter_of(fs, prefix)
        if exe is not None:
            found.append(exe)
    cut = budget[0] <= 0 or len(found) > MAX_ENVIRONMENTS
    return found[:MAX_ENVIRONMENTS], cut


def _walk(fs: RootFS, inner: str, depth: int, out: list[str], budget: list[int]) -> None:
    """Collect the venv and conda prefixes at or below ``inner``, never following a link (a
    link to ``/`` would list the image again)."""
    host = fs.host(inner)
    try:
        if not stat.S_ISDIR(os.lstat(host).st_mode):
            return
        entries = sorted(os.scandir(host), key=lambda e: e.name)
    except OSError:
        return
    budget[0] -= len(entries)
    names = {e.name for e in entries}
    if "pyvenv.cfg" in names or "conda-meta" in names:
        out.append(inner)
        if "conda-meta" in names and "envs" in names and depth < MAX_DEPTH:
            _walk(fs, f"{inner.rstrip('/')}/envs", depth + 1, out, budget)
        return  # an environment holds no other (but conda's envs/)
    if depth >= MAX_DEPTH or budget[0] <= 0:
        return
    for entry in entries:
        if entry.name in _SKIP or not entry.is_dir(follow_symlinks=False):
            continue
        _walk(fs, f"{inner.rstrip('/')}/{entry.name}", depth + 1, out, budget)
