"""Which interpreter a front door acts on, found without running or probing anything.

Kept apart from `verify_env.target.model` (which imports the probe and, through it, platform and
sysconfig) because ``pipv`` consults it on every pass-through command: ``pipv --version`` costs
what ``pip --version`` does plus this module, nothing more.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

__all__ = ["default_interpreter", "module_command"]


def _interpreter_in(prefix: str) -> str | None:
    for rel in ("bin/python3", "bin/python", "python.exe", "Scripts/python.exe"):
        candidate = os.path.join(prefix, rel)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def default_interpreter(environ: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """The interpreter a front door acts on when given none, without probing it: the one
    ``VIRTUAL_ENV`` / ``CONDA_PREFIX`` names when that is another environment (a tool installed
    with pipx or ``uv tool`` serving an activated env), else the running one; and the note
    saying why."""
    environ = os.environ if environ is None else environ
    own = os.path.realpath(sys.prefix)
    for var in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        other = environ.get(var)
        if other and os.path.isdir(other) and os.path.realpath(other) != own:
            exe = _interpreter_in(other)
            if exe is not None:
                return exe, f"verifying {other} (from {var}), not {sys.prefix}"
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
