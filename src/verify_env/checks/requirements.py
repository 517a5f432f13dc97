"""The ``requirements`` check: do the installed versions fit what each distribution declares?

What ``pip check`` does, judged for the target rather than for the process running us: every
Requires-Dist with its markers evaluated in the target's marker environment (``extra`` empty, as
pip does), plus the lines behind extras that installed dependents actually request
(``dask[array]`` makes dask's ``array`` lines count), plus each distribution's Requires-Python
against the target. And ``numpy-abi``: binaries built for NumPy 1.x under NumPy 2
(`numpy_abi.py`).

Whose verdict it is depends on who installed the dependent. For pip and uv, a broken
requirement is an error. For a distro package or a conda package its own package manager
decided the dependencies (Debian's python3-gi declares ``pycairo`` in its Python metadata while
apt deliberately leaves it optional): those are warnings naming the package, unless another
installer put the conflicting version there (pip over apt or conda), which is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from verify_env.checks import numpy_abi
from verify_env.checks.interface import CheckResult, Context
from verify_env.finding import Finding, Severity, Skip
from verify_env.inventory import Distribution
from verify_env.inventory.model import canonical_name
from verify_env.repair.hints import install_command

__all__ = ["CODES", "NAME", "run"]

NAME = "requirements"
CODES = ("requirement-missing", "requirement-conflict", "numpy-abi")

# Installers whose own solver owns the dependencies of what they installed.
_MANAGED = frozenset({"dpkg", "conda"})


@dataclass(frozen=True, slots=True)
class _Need:
    """One requirement of one dependent, after marker evaluation."""

    dependent: Distribution
    requirement: Requirement
    extra: str | None
    """The extra it belongs to, when it counts only because a dependent asks for that extra."""
    requested_by: str | None
    """Who asks for that extra."""


def _python_dists(ctx: Context) -> dict[str, Distribution]:
    """The distribution Python would import for each name: the first on sys.path, as pip's
    working set takes it. conda-meta records are conda's, not Python distributions."""
    out: dict[str, Distribution] = {}
    for dist in ctx.inventory.distributions:
        if dist.source != "conda-meta":
            out.setdefault(dist.key, dist)
    return out


def _parse(dist: Distribution, lines: list[str], result: CheckResult) -> list[Requirement]:
    reqs = []
    for line in lines:
        try:
            reqs.append(Requirement(line))
        except InvalidRequirement as exc:
            result.skips.append(
                Skip(
                    NAME,
                    dist.name,
                    _metadata_path(dist),
                    f"Requires-Dist {line!r} cannot be parsed: {exc}",
                )
            )
    return reqs


def _applies(req: Requirement, env: dict[str, str], extra: str) -> bool:
    if req.marker is None:
        return not extra
    try:
        return bool(req.marker.evaluate({**env, "extra": extra}))
    except Exception:  # an undefined marker variable: pip treats the line as not applying
        return False


def _needs(ctx: Context, dists: dict[str, Distribution], result: CheckResult) -> Iterator[_Need]:
    env = dict(ctx.target.markers)
    # Most lines of a big environment sit behind extras nobody requests (pandas alone has ~70):
    # those are parsed only when an installed dependent asks for their extra.
    behind_extra: dict[str, list[str]] = {}
    base: list[_Need] = []
    requested: dict[str, dict[str, str]] = {}  # dist key -> {extra: requested by}
    for key, dependent in dists.items():
        if not dependent.requires:
            continue
        plain = [line for line in dependent.requires if "extra" not in line.partition(";")[2]]
        behind_extra[key] = [
            line for line in dependent.requires if "extra" in line.partition(";")[2]
        ]
        for req in _parse(dependent, plain, result):
            if _applies(req, env, ""):
                base.append(_Need(dependent, req, None, None))
                for extra in req.extras:
                    requested.setdefault(canonical_name(req.name), {}).setdefault(
                        canonical_name(extra), dependent.name
                    )
    for need in base:
        if ctx.scope.includes(need.dependent):
            yield need
    # An extra's lines may request further extras, so this runs to a fixed point.
    parsed: dict[str, list[Requirement]] = {}
    done: set[tuple[str, str]] = set()
    pending = [(k, e, who) for k, extras in requested.items() for e, who in extras.items()]
    while pending:
        key, extra, who = pending.pop()
        if (key, extra) in done or key not in behind_extra:
            continue
        done.add((key, extra))
        dependent = dists[key]
        if key not in parsed:
            parsed[key] = _parse(dependent, behind_extra[key], result)
        for req in parsed[key]:
            if not _applies(req, env, extra) or _applies(req, env, ""):
                continue
            if ctx.scope.includes(dependent):
                yield _Need(dependent, req, extra, who)
            pending.extend(
                (canonical_name(req.name), canonical_name(e), dependent.name) for e in req.extras
            )


def _metadata_path(dist: Distribution) -> str | None:
    if dist.metadata_dir is None:
        return None
    name = os.path.basename(dist.metadata_dir)
    return f"{name}/METADATA" if dist.source == "dist-info" else f"{name}/requires.txt"


def _spec_installer(installer: str) -> str:
    """The installer that takes a requirement string for what ``installer`` installed: apt
    takes no PEP 508 specifier, so pip stands in for it."""
    return installer if installer in ("uv", "conda") else "pip"


def _finding(need: _Need, code: str, message: str, severity: Severity, hint: str | None) -> Finding:
    d = need.dependent
    return Finding(
        NAME, code, severity, d.name, d.version, d.installer, _metadata_path(d), message, hint
    )


def _owner_note(dist: Distribution) -> str:
    if dist.installer == "dpkg":
        package = dist.os_package or "its OS package"
        return (
            f" — declared in the Python metadata of {package}, whose OS package manager "
            "decides its dependencies"
        )
    return " — declared in its Python metadata; conda's own dependencies decide what it gets"


def _judge(need: _Need, dists: dict[str, Distribution], python: str | None) -> Finding | None:
    d, req = need.dependent, need.requirement
    spec = str(req.specifier)
    wanted = f"{req.name}{spec}" if spec else req.name
    via = f" (extra '{need.extra}', requested by {need.requested_by})" if need.extra else ""
    managed = d.installer in _MANAGED
    provider = dists.get(canonical_name(req.name))
    if provider is None:
        message = f"{d.name} {d.version} requires {wanted}{via}, which is not installed"
        if managed:
            return _finding(
                need, "requirement-missing", message + _owner_note(d), Severity.WARNING, None
            )
        return _finding(
            need,
            "requirement-missing",
            message,
            Severity.ERROR,
            f'{install_command(_spec_installer(d.installer), python)} "{wanted}"',
        )
    if not spec:
        return None
    try:
        fits = req.specifier.contains(Version(provider.version), prereleases=True)
    except InvalidVersion:
        return None  # a legacy version no specifier can judge; pip check passes it too
    if fits:
        return None
    message = (
        f"{d.name} {d.version} requires {wanted}{via}, but {provider.name} "
        f"{provider.version} is installed ({provider.installer})"
    )
    if managed and provider.installer == d.installer:
        return _finding(
            need, "requirement-conflict", message + _owner_note(d), Severity.WARNING, None
        )
    tool = install_command(_spec_installer(provider.installer), python)
    hint = (
        f'{tool} "{wanted}", or a {d.name} release that accepts {provider.name} {provider.version}'
    )
    return _finding(need, "requirement-conflict", message, Severity.ERROR, hint)


def _requires_python(dist: Distribution, python: Version, full: str) -> Finding | None:
    if not dist.requires_python:
        return None
    try:
        spec = SpecifierSet(dist.requires_python)
    except InvalidSpecifier:
        return None
    if spec.contains(python, prereleases=True):
        return None
    severity = Severity.WARNING if dist.installer in _MANAGED else Severity.ERROR
    return Finding(
        NAME,
        "requirement-conflict",
        severity,
        dist.name,
        dist.version,
        dist.installer,
        _metadata_path(dist),
        f"{dist.name} {dist.version} requires Python {dist.requires_python}, "
        f"but the target is Python {full}",
        dist.hint if severity is Severity.ERROR else None,
    )


def run(ctx: Context) -> CheckResult:
    result = CheckResult()
    if ctx.target.executable is None or not ctx.target.markers:
        result.skips.append(Skip(NAME, None, None, "no interpreter to evaluate markers for"))
        return result
    dists = _python_dists(ctx)
    seen: set[tuple[str, str, str | None]] = set()
    for need in _needs(ctx, dists, result):
        key = (need.dependent.key, str(need.requirement), need.extra)
        if key in seen:
            continue
        seen.add(key)
        finding = _judge(need, dists, ctx.target.command_python)
        if finding is not None:
            result.findings.append(finding)
    full = ctx.target.markers.get("python_full_version", "")
    try:
        python = Version(full)
    except InvalidVersion:
        python = None
    for dist in dists.values():
        if python is not None and ctx.scope.includes(dist):
            finding = _requires_python(dist, python, full)
            if finding is not None:
                result.findings.append(finding)
    result.findings.extend(numpy_abi.findings(ctx, dists, result))
    return result
