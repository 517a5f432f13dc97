"""The one repair plan: from a report's findings to the installer commands that mend them.

A reinstall of the same version repairs only what the installed bytes got wrong (a file
rewritten, cut short or deleted): `REINSTALLABLE`. Everything else — a module built for
another NumPy, a missing requirement, two owners of one file, pip's ``~`` leftovers — is not
mended by putting the same files back, so the plan names it as manual, with the finding's own
hint. One step per installer, one package per distribution: pip (and uv, whose files pip can
reinstall) through the target's own interpreter, conda through conda with the channel its
record names, the OS's packages through apt. The plan never edits a file itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from verify_env.files import read_regular
from verify_env.finding import Finding, Severity
from verify_env.report import Report

TYPE_CHECKING = False
if TYPE_CHECKING:  # every run asks `shared_damage`; a replayed one reads no inventory
    from verify_env.inventory import Distribution, Inventory

__all__ = ["REINSTALLABLE", "Manual", "Package", "Plan", "Step", "plan_for", "shared_damage"]

REINSTALLABLE = frozenset({"hash-mismatch", "size-mismatch", "missing-file"})
"""Codes whose cause is the installed bytes themselves: a reinstall of the same version
repairs them."""

_CONDA_RECORD_LIMIT = 64 << 20  # a conda-meta JSON larger than this is not read for a channel


@dataclass(frozen=True, slots=True)
class Package:
    """One installed package a step reinstalls."""

    name: str
    """The name its installer knows it by (the Debian package for dpkg)."""
    version: str
    build: str | None = None
    """conda: the build string recorded."""
    channel: str | None = None
    """conda: the channel its record names (``conda-forge``, ``file:///srv/channel``)."""

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True, slots=True)
class Step:
    """Reinstall ``packages`` through ``installer`` (``pip``, ``conda`` or ``dpkg``)."""

    installer: str
    packages: tuple[Package, ...]
    argv: tuple[str, ...]
    """The command that does it, as a user could paste it (a front door may run the
    installer its own way, e.g. conda in-process)."""
    why: str
    """The findings it answers, in a few words."""


@dataclass(frozen=True, slots=True)
class Manual:
    """A finding the plan does not repair, and why."""

    finding: Finding
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...] = ()
    manual: tuple[Manual, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.steps and not self.manual

    def lines(self) -> list[str]:
        """The plan as shown before anything runs."""
        out = [f"run: {' '.join(step.argv)}   ({step.why})" for step in self.steps]
        seen: set[str] = set()
        for m in self.manual:
            f = m.finding
            who = f"{f.distribution} {f.version or ''}".strip() if f.distribution else "-"
            line = f"not repaired: {who} [{f.check}/{f.code}] {m.reason}"
            if f.hint:
                line += f"; {f.hint}"
            if line not in seen:
                seen.add(line)
                out.append(line)
        return out


def plan_for(report: Report, inventory: Inventory) -> Plan:
    """The repairs for the error findings of ``report`` not accepted (accepted findings are
    intended), for the target it verified."""
    python = report.target.executable
    owners: dict[tuple[str, str], Distribution] = {}
    for d in inventory.distributions:
        if d.judged_by is None:
            owners.setdefault((d.name, d.version), d)
    by_installer: dict[str, dict[str, Package]] = {}
    reasons: dict[str, set[str]] = {}
    manual: list[Manual] = []
    for f in report.findings:
        if f.severity is not Severity.ERROR or f.accepted is not None:
            continue
        owner = owners.get((f.distribution or "", f.version or ""))
        if f.code not in REINSTALLABLE or owner is None:
            manual.append(Manual(f, _why_manual(f, owner)))
            continue
        installer = _installer(owner)
        if installer is None or (installer == "pip" and python is None):
            manual.append(Manual(f, f"its installer ({owner.installer}) cannot be run from here"))
            continue
        package = _package(owner, installer)
        by_installer.setdefault(installer, {})[package.name] = package
        reasons.setdefault(installer, set()).add(f.code)
    steps = []
    for installer in ("pip", "conda", "dpkg"):
        packages = tuple(sorted(by_installer.get(installer, {}).values(), key=lambda p: p.name))
        if packages:
            why = ", ".join(sorted(reasons[installer]))
            steps.append(Step(installer, packages, _argv(installer, packages, report), why))
    return Plan(tuple(steps), tuple(manual))


def _installer(dist: Distribution) -> str | None:
    if dist.installer in ("pip", "uv"):
        return "pip"
    if dist.installer == "conda" and dist.source == "conda-meta":
        return "conda"
    if dist.installer == "dpkg" and dist.os_package:
        return "dpkg"
    return None


def _why_manual(f: Finding, owner: Distribution | None) -> str:
    if f.code in REINSTALLABLE:
        return "no installed record owns it"
    return "a reinstall of the same files does not mend this"


def _package(dist: Distribution, installer: str) -> Package:
    if installer == "dpkg":
        return Package(dist.os_package or dist.name, dist.version)
    if installer == "conda" and dist.metadata_dir:
        build, channel = _conda_origin(dist.metadata_dir)
        return Package(dist.name, dist.version, build, channel)
    return Package(dist.name, dist.version)


def _conda_origin(record: str) -> tuple[str | None, str | None]:
    """(build, channel) a conda-meta record names; (None, None) if it cannot be read."""
    data = read_regular(record, _CONDA_RECORD_LIMIT)
    try:
        doc = json.loads(data or b"")
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(doc, dict):
        return None, None
    build = doc.get("build")
    channel = doc.get("channel")
    if not isinstance(channel, str) or not channel:
        url = doc.get("url")
        # .../CHANNEL/SUBDIR/FILE: the channel is what precedes the subdir.
        channel = url.rsplit("/", 2)[0] if isinstance(url, str) and url.count("/") >= 2 else None
    return (build if isinstance(build, str) else None), channel


def _argv(installer: str, packages: tuple[Package, ...], report: Report) -> tuple[str, ...]:
    target = report.target
    if installer == "pip":
        assert target.executable is not None
        # -P (3.11+): the working directory is not put on sys.path, so a pip.py there
        # cannot stand in for pip.
        isolate = ("-P",) if (target.version or (0, 0, 0))[:2] >= (3, 11) else ()
        return (
            target.executable,
            *isolate,
            "-m",
            "pip",
            "install",
            "--force-reinstall",
            "--no-deps",
            *(p.spec for p in packages),
        )
    if installer == "conda":
        channels = sorted({p.channel for p in packages if p.channel})
        return (
            "conda",
            "install",
            "--prefix",
            target.prefix,
            "--force-reinstall",
            *(a for c in channels for a in ("-c", c)),
            *(f"{p.name}={p.version}" for p in packages),
        )
    return ("apt-get", "install", "--reinstall", *(p.name for p in packages))


def shared_damage(report: Report) -> list[str]:
    """Damaged files with other hard links: the damage is in the installer's cache (conda's
    ``pkgs/``, uv's and pdm's caches) or other environments too, and a reinstall from that
    cache relinks the same bytes."""
    notes = []
    seen: set[str] = set()
    for f in report.findings:
        if f.code not in REINSTALLABLE or f.code == "missing-file" or not f.path:
            continue
        location = f.location or os.path.join(report.target.prefix, f.path)
        if location in seen:
            continue
        seen.add(location)
        try:
            links = os.lstat(location).st_nlink
        except OSError:
            continue
        if links > 1:
            notes.append(
                f"{f.path} has {links - 1} other hard link(s) (an installer's cache, other "
                "environments): the damage is there too"
            )
    return notes
