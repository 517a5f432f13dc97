"""Why the target's interpreter cannot start, for the ``paths`` check: a venv whose base
interpreter is gone (``base-interpreter-missing``), or one that dies before running any code
(``interpreter-fails``). Such a target was described from its files
(`verify_env.target.fallback`): `Target.fallback` says what running it said."""

from __future__ import annotations

import os

from verify_env.finding import Finding, Severity
from verify_env.loader.rootfs import RootFS
from verify_env.target.fallback import base_interpreter
from verify_env.target.model import Target

__all__ = ["cannot_start"]

NAME = "paths"


def cannot_start(target: Target) -> list[Finding]:
    """The findings that say why ``target``'s interpreter cannot start (none when it can)."""
    if target.home is not None and target.pyvenv_cfg is not None:
        fs = RootFS(target.root or "/")
        version = target.version[:2] if target.version else None
        if base_interpreter(fs, target.home, version) is None:
            cfg = target.shown(target.pyvenv_cfg)
            prefix = target.shown(target.prefix)
            wanted = f"python{version[0]}.{version[1]}" if version else "python3"
            return [
                Finding(
                    NAME,
                    "base-interpreter-missing",
                    Severity.ERROR,
                    None,
                    None,
                    None,
                    target.pyvenv_cfg,
                    f"{cfg}: home = {target.home!r} holds no {wanted}: the venv's base "
                    f"interpreter is gone, so {target.shown(target.executable or '')} cannot "
                    "start",
                    f"recreate the venv with an installed {wanted}: {wanted} -m venv --clear "
                    f"{prefix} (then reinstall its requirements)",
                )
            ]
    if target.fallback is None:
        return []
    exe = target.executable or ""
    base = target.home or os.path.dirname(os.path.dirname(target.shown(target.real(exe))))
    return [
        Finding(
            NAME,
            "interpreter-fails",
            Severity.ERROR,
            None,
            None,
            None,
            exe or None,
            f"{target.shown(exe)} cannot start: {target.fallback}",
            f"reinstall the Python in {base}, or recreate the environment",
        )
    ]
