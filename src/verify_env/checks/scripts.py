"""``script-interpreter``: console scripts whose ``#!`` names an interpreter that is gone.

A venv moved or copied to another path (a Docker multi-stage ``COPY --from`` to a new path,
``cp -a venv /new/path``) keeps working through ``bin/python`` and ``python -m``, but every
script its installers wrote still starts with ``#!/old/path/bin/python``:
``bin/pip: cannot execute: required file not found``. Which scripts: the regular files of the
environment's bin dir and the recorded files of its distributions that lie in a ``bin`` dir —
what its installers wrote, nothing else on disk. Only their first line is read (at most
`_HEAD` bytes, non-blocking, regular files only). ``#!/usr/bin/env python`` names no path and
is left alone; pip's ``#!/bin/sh`` + ``'''exec' "/long/path/python"`` form for shebangs longer
than the kernel takes is read as the interpreter it execs.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator

from verify_env.checks.interface import Context
from verify_env.files import read_regular
from verify_env.finding import Finding, Severity
from verify_env.target.model import Target

__all__ = ["script_findings"]

_HEAD = 4096
"""Bytes read of a script: its ``#!`` line (the kernel takes at most 256)."""
_MAX_SCRIPTS = 5000
"""Scripts looked at, at most: a bin dir of more is not an installer's."""


def _interpreter(head: bytes) -> str | None:
    """The absolute interpreter path a script's first line(s) name, or None."""
    if not head.startswith(b"#!"):
        return None
    lines = head.split(b"\n", 2)
    first = lines[0][2:].strip().decode("utf-8", "surrogateescape")
    if not first:
        return None
    if first in ("/bin/sh", "/usr/bin/sh") and len(lines) > 1:
        second = lines[1].decode("utf-8", "surrogateescape")
        if second.startswith("'''exec' "):  # pip's form for a shebang the kernel would cut
            try:
                words = shlex.split(second[len("'''exec' ") :])
            except ValueError:
                return None
            return words[0] if words and words[0].startswith("/") else None
    interpreter = first.split()[0]
    return interpreter if interpreter.startswith("/") else None


def _candidates(ctx: Context, bin_dir: str) -> list[str]:
    """The environment's bin dir entries and the recorded files in a ``bin`` dir, once each."""
    found: dict[str, None] = {}
    try:
        with os.scandir(bin_dir) as it:
            for entry in it:
                if len(found) >= _MAX_SCRIPTS:
                    break
                if entry.is_file(follow_symlinks=False):  # bin/python -> base: not a script
                    found[entry.path] = None
    except OSError:
        pass
    sep = os.sep
    marker = f"{sep}bin{sep}"
    for dist in ctx.inventory.distributions:
        if not ctx.scope.includes(dist):
            continue
        for f in dist.files:
            location = f[1]
            if marker in location and location.rpartition(sep)[0].endswith(marker[:-1]):
                found[location] = None
                if len(found) >= 2 * _MAX_SCRIPTS:
                    return list(found)
    return list(found)


def _venv_home(prefix: str) -> str | None:
    data = read_regular(os.path.join(prefix, "pyvenv.cfg"), 1 << 16)
    if data is None:
        return None
    for line in data.decode("utf-8", "surrogateescape").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().lower() == "home":
            return value.strip()
    return None


def _repair(ctx: Context, bin_dir: str) -> str:
    """Recreate the venv where it now lives, from what it holds (the base interpreter from
    pyvenv.cfg's ``home``); outside a venv, reinstall what wrote the scripts."""
    target = ctx.target
    python = shlex.quote(target.command_python or target.shown(os.path.join(bin_dir, "python")))
    home = _venv_home(target.prefix)
    if home is None:
        return (
            f"reinstall the distributions that wrote them with this interpreter: {python} -m "
            "pip install --force-reinstall --no-deps NAME==VERSION (pip writes the #! anew)"
        )
    version = f"{target.version[0]}.{target.version[1]}" if target.version else "3"
    base = os.path.join(home, f"python{version}")
    if not os.path.exists(target.real(base)):  # inside the image for --root
        base = os.path.join(home, "python3")
    shown = target.shown(target.prefix)
    prefix = shlex.quote(shown)
    saved = shlex.quote(os.path.join(os.path.dirname(shown.rstrip(os.sep)), "reqs.txt"))
    return (
        f"recreate the venv where it now is: {python} -m pip freeze --exclude-editable > "
        f"{saved} && {shlex.quote(base)} -m venv --clear {prefix} && "
        f"{prefix}/bin/python -m pip install -r {saved}"
    )


def _located(target: Target, interpreter: str) -> str:
    """Where the ``#!`` path lies: as written, or inside the image for ``--root``."""
    if target.root is None:
        return interpreter
    from verify_env.loader.rootfs import RootFS

    fs = RootFS(target.root)
    return fs.resolve(fs.host(interpreter))


def script_findings(ctx: Context) -> Iterator[Finding]:
    """One finding per missing interpreter, naming the scripts that start it."""
    target = ctx.target
    if target.executable is None or os.name != "posix":
        return
    bin_dir = os.path.join(target.prefix, "bin")
    prefix = os.path.normpath(target.shown(target.prefix))
    missing: dict[str, list[str]] = {}
    exists: dict[str, bool] = {}
    for path in _candidates(ctx, bin_dir):
        if os.path.islink(path):
            continue  # a link leads elsewhere: what an installer wrote here is a file
        head = read_regular(path, _HEAD)
        if head is None:
            continue
        interpreter = _interpreter(head)
        if interpreter is None:
            continue
        if target.fallback is not None and interpreter.startswith(prefix + "/bin/python"):
            continue  # its own python, which cannot start: the paths check says why once
        if interpreter not in exists:
            # an image's script names a path of the image (--root): looked up there
            exists[interpreter] = os.path.exists(_located(target, interpreter))
        if not exists[interpreter]:
            missing.setdefault(interpreter, []).append(path)
    for interpreter, paths in missing.items():
        paths.sort()
        names = [os.path.basename(p) for p in paths]
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        old = os.path.dirname(os.path.dirname(interpreter))
        moved = (
            f"; the environment was moved or copied from {old} to {prefix}" if old != prefix else ""
        )
        yield Finding(
            "paths",
            "script-interpreter",
            Severity.ERROR,
            None,
            None,
            None,
            paths[0],
            f"{len(paths)} script{'s' if len(paths) != 1 else ''} ({shown}) start with "
            f"#!{interpreter}, which does not exist: running them fails with 'required file "
            f"not found'{moved}",
            _repair(ctx, bin_dir),
        )
