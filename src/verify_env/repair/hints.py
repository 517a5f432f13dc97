"""The commands a finding's hint gives, in one place: what a user pastes must act on the
environment that was verified, through the installer that owns the files.

A bare ``pip install …`` in a user's shell is whichever pip comes first on PATH — with
``--python other/bin/python`` or in a CI step, some other environment's; the fix would land
there. So pip is always named through the target's interpreter (``/venv/bin/python -m pip``),
uv with ``--python``; conda and the OS's packages through their own tools. Every check builds
its hints from `install_command` and `reinstall_hint`; the repair plan runs the same commands.
For a change made on purpose (certificates an admin appended to a trust store), the hint is the
rule that accepts it (`accept_rule`), not a reinstall that would undo it.
"""

from __future__ import annotations

import shlex

__all__ = [
    "accept_rule",
    "install_command",
    "reinstall_hint",
    "upgrade_command",
]

# Installers that write RECORD and whose files pip can reinstall (unknown: a dist-info
# without INSTALLER, most often pip's own of old).
_PIP_LIKE = frozenset({"pip", "poetry", "pdm", "installer", "pipx", "hatch", "unknown"})


def install_command(installer: str, python: str | None) -> str:
    """``… install`` through ``installer`` into the environment of ``python`` (the target's
    interpreter; None when it has none: then pip as found on PATH)."""
    match installer:
        case "uv":
            return f"uv pip install --python {shlex.quote(python)}" if python else "uv pip install"
        case "conda":
            return "conda install"
        case "dpkg":
            return "apt-get install"
    return f"{shlex.quote(python)} -m pip install" if python else "pip install"


def upgrade_command(installer: str, name: str, python: str | None) -> str | None:
    """The command that upgrades one distribution in place through its own installer; None for
    an installer this tool cannot name."""
    match installer:
        case "uv":
            return f"{install_command('uv', python)} --upgrade {name}"
        case "conda":
            return f"conda update {name}"
        case "dpkg":
            return f"apt-get install --only-upgrade {name}"
        case _ if installer in _PIP_LIKE:
            return f"{install_command('pip', python)} --upgrade {name}"
    return None


def reinstall_hint(installer: str, name: str, version: str, python: str | None) -> str | None:
    """The command that puts back this one distribution's files, at the same version and
    without touching its dependencies; None for an installer this tool cannot name."""
    match installer:
        case "uv":
            return f"{install_command('uv', python)} --reinstall --no-deps {name}=={version}"
        case "conda":
            return f"conda install --force-reinstall {name}={version}"
        case _ if installer in _PIP_LIKE:
            return f"{install_command('pip', python)} --force-reinstall --no-deps {name}=={version}"
    return None


def accept_rule(check: str, code: str, distribution: str | None, path: str | None) -> str:
    """The ``--ignore`` option that accepts this one finding (also a line of ``ignore = [...]``
    in ``[tool.verify-env]``)."""
    parts = [check, code, distribution or "*", *([path] if path else [])]
    return f"--ignore {shlex.quote(':'.join(parts))}"
