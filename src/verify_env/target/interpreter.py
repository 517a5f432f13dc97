"""Which interpreter a front door acts on, found without running or probing anything.

Kept apart from `verify_env.target.model` (which imports the probe and, through it, platform and
sysconfig) because ``pipv`` consults it on every pass-through command: ``pipv --version`` costs
what ``pip --version`` does plus this module, nothing more.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

__all__ = ["activated_environment", "default_interpreter", "interpreter_in", "module_command"]


def interpreter_in(prefix: str) -> str | None:
    """The interpreter a venv or conda prefix holds, or None."""
    for rel in ("bin/python3", "bin/python", "python.exe", "Scripts/python.exe"):
        candidate = os.path.join(prefix, rel)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def activated_environment(
    environ: Mapping[str, str] | None = None,
) -> tuple[str, str | None, str] | None:
    """The environment ``VIRTUAL_ENV`` / ``CONDA_PREFIX`` names when it is not the one this
    process runs in (a tool installed with pipx or ``uv tool`` serving an activated env):
    (prefix, its interpreter or None for a conda prefix without Python, the note saying
    why); None when there is none. A named directory with neither is passed over."""
    environ = os.environ if environ is None else environ
    own = os.path.realpath(sys.prefix)
    for var in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        other = environ.get(var)
        if other and os.path.isdir(other) and os.path.realpath(other) != own:
            exe = interpreter_in(other)
            if exe is None and not os.path.isdir(os.path.join(other, "conda-meta")):
                continue
            return other, exe, f"verifying {other} (from {var}), not verify-env's own {sys.prefix}"
    return None


def default_interpreter(environ: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """The interpreter a front door acts on when given none, without probing it: the one of
    the `activated_environment` when it has one, else the running one; and the note saying
    why."""
    other = activated_environment(environ)
    if other is not None and other[1] is not None:
        return other[1], other[2]
    return sys.executable, None


# ``python -m MODULE`` puts the working directory first on sys.path, so a ``pip/`` folder or
# ``pip.py`` there would run instead of pip (issue 18, §10). ``-P`` (3.11+) would drop it, but
# the target may be older and is not probed for this. This launcher does what ``-m`` does
# (runpy with alter_sys: the same sys.argv and __main__) after dropping the working directory
# that ``-c`` put first; under PYTHONSAFEPATH / -P nothing was put there and nothing is dropped.
_LAUNCH = (
    "import os, runpy, sys\n"
    "if sys.path and sys.path[0] in ('', os.getcwd()):\n"
    "    del sys.path[0]\n"
    "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)\n"
)


def module_command(python: str, module: str, args: Sequence[str] = ()) -> list[str]:
    """The command that runs ``python -m module ARGS`` as plain ``pip`` would: without the
    working directory on ``sys.path``."""
    return [python, "-c", _LAUNCH, module, *args]
