"""The pre-commit hook (``.pre-commit-hooks.yaml``, id ``verify-env``): verify the project's
environment before a commit, not the hook's own.

pre-commit runs a ``language: python`` hook inside a virtualenv of its own and, while doing so,
sets ``VIRTUAL_ENV`` to that virtualenv and puts its ``bin`` first on ``PATH``
(pre-commit ``languages/python.py`` ``get_env_patch``). Plain ``verify-env`` would then verify
the hook's virtualenv. The project's environment is found instead, first match wins:

1. a virtual environment further down ``PATH`` (the one the user activated: its ``bin`` comes
   right after the hook's; the ``VIRTUAL_ENV`` that named it is overwritten by pre-commit);
2. ``.venv`` or ``venv`` in the working directory (pre-commit runs hooks from the
   repository's root) — the project's environment when nothing is activated;
3. an activated conda environment (``CONDA_PREFIX``, which pre-commit leaves alone);
4. the first ``python3`` / ``python`` on ``PATH`` outside the hook's virtualenv.

``--python`` or ``--prefix`` among the hook's ``args`` overrides all of this.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from verify_env.target.interpreter import interpreter_in

__all__ = ["main", "project_interpreter"]

_NAMES = ("python3", "python")


def _is_venv(prefix: str) -> bool:
    return os.path.isfile(os.path.join(prefix, "pyvenv.cfg"))


def _on_path(environ: Mapping[str, str], own: str) -> list[str]:
    """Interpreters on PATH, in order, outside the hook's own environment."""
    out = []
    for entry in environ.get("PATH", "").split(os.pathsep):
        if not entry:
            continue
        for name in _NAMES:
            candidate = os.path.join(entry, name)
            if not (os.path.isfile(candidate) and os.access(candidate, os.X_OK)):
                continue
            if os.path.realpath(os.path.dirname(entry)) != own:
                out.append(candidate)
            break
    return out


def project_interpreter(
    environ: Mapping[str, str], cwd: str, own_prefix: str = sys.prefix
) -> tuple[str | None, str]:
    """The interpreter of the project's environment, and a few words on why it was chosen;
    None when there is none to be found."""
    own = os.path.realpath(own_prefix)
    on_path = _on_path(environ, own)
    for exe in on_path:
        prefix = os.path.dirname(os.path.dirname(exe))
        if _is_venv(prefix):
            return exe, f"the virtual environment on PATH ({prefix})"
    for name in (".venv", "venv"):
        prefix = os.path.join(cwd, name)
        found = interpreter_in(prefix) if _is_venv(prefix) else None
        if found is not None:
            return found, f"the project's {name} ({prefix})"
    conda = environ.get("CONDA_PREFIX")
    if conda and os.path.realpath(conda) != own:
        found = interpreter_in(conda)
        if found is not None:
            return found, f"the active conda environment ({conda})"
    if on_path:
        return on_path[0], f"the first Python on PATH ({on_path[0]})"
    return None, "no virtual environment on PATH, no .venv or venv here, no python3 on PATH"


def _names_target(args: Sequence[str]) -> bool:
    return any(
        a in ("--python", "--prefix") or a.startswith(("--python=", "--prefix=")) for a in args
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``verify-env ARGS`` on the project's environment (see the module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not _names_target(args):
        python, why = project_interpreter(os.environ, os.getcwd())
        if python is None:
            print(
                f"verify-env (pre-commit): {why}; pass --python PATH in the hook's args",
                file=sys.stderr,
            )
            return 2
        print(f"verify-env (pre-commit): verifying {why}", file=sys.stderr)
        args = ["--python", python, *args]
    from verify_env import cli

    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main())
