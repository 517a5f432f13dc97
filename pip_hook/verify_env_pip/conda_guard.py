"""pip over conda: find out, before pip runs, whether it would replace what conda installed.

``pip install --dry-run --report`` (pip >= 22.2) resolves exactly as the real run will and
writes what it would install as JSON; nothing is changed. A name in it that a conda package
owns in this prefix means pip would overwrite conda's files and leave conda-meta lying.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Sequence

from verify_env.inventory import Inventory
from verify_env.inventory.model import canonical_name
from verify_env_pip.pip_args import PipCommand

__all__ = ["conda_owned", "would_replace"]


def conda_owned(inventory: Inventory) -> dict[str, tuple[str, str]]:
    """Canonical project name -> (conda package, version) for conda-installed dists."""
    out: dict[str, tuple[str, str]] = {}
    for dist in inventory.distributions:
        if dist.source != "conda-meta" and dist.installer == "conda":
            package = (dist.judged_by or "conda:" + dist.name).removeprefix("conda:")
            out[dist.key] = (package, dist.version)
    return out


def _planned_installs(python: str, cmd: PipCommand) -> list[tuple[str, str]] | None:
    """(name, version) pip would install, or None if the dry run could not tell."""
    assert cmd.subcommand is not None
    at = cmd.args.index(cmd.subcommand) + 1
    with tempfile.TemporaryDirectory(prefix="pipv-") as tmp:
        report = os.path.join(tmp, "report.json")
        argv = [
            python,
            "-m",
            "pip",
            *cmd.args[:at],
            "--dry-run",
            "--report",
            report,
            "--quiet",
            *cmd.args[at:],
        ]
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode != 0 or not os.path.exists(report):
            return None
        try:
            with open(report, encoding="utf-8") as fh:
                data = json.load(fh)
            return [
                (str(i["metadata"]["name"]), str(i["metadata"]["version"]))
                for i in data.get("install", ())
            ]
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _uninstall_names(args: Sequence[str]) -> list[str]:
    names, skip = [], False
    for arg in args[args.index("uninstall") + 1 :]:
        if skip:
            skip = False
        elif arg in ("-r", "--requirement"):
            skip = True
        elif not arg.startswith("-"):
            names.append(arg)
    return names


def would_replace(python: str, cmd: PipCommand, inventory: Inventory) -> list[str]:
    """One message per conda-owned distribution the command would replace or remove."""
    owned = conda_owned(inventory)
    if not owned:
        return []
    messages = []
    if cmd.subcommand == "uninstall":
        for name in _uninstall_names(cmd.args):
            hit = owned.get(canonical_name(name))
            if hit:
                messages.append(
                    f"pip would remove {name} {hit[1]}, which conda installed "
                    f"(package {hit[0]}); use: conda remove {hit[0]}"
                )
        return messages
    planned = _planned_installs(python, cmd) or []
    for name, version in planned:
        hit = owned.get(canonical_name(name))
        if hit:
            messages.append(
                f"pip would replace {name} {hit[1]}, which conda installed (package "
                f'{hit[0]}), with {version}; use: conda install "{hit[0]}={version}"'
            )
    return messages
