"""The imports check: does ``import x`` work, for every top-level name installed?

Opt-in (``--checks imports`` or ``all``) because it runs package code — in subprocesses of the
target interpreter only (`run`), never in ours, with a timeout per module, writing
nothing into the environment. Which names: `names`; what a failure means: `verdict`.

Severity follows the user: an import that breaks is an error. A missing module that nothing
installed declares (an optional dependency: ``matplotlib_inline`` without matplotlib, a part of
torch that needs PyYAML which torch does not require, distro packages whose optional
dependencies apt leaves out) is a warning naming the module: the distribution works for
everyone who does not use that part.
"""

from __future__ import annotations

import os
import platform
import re
import stat
import time
from collections.abc import Iterable, Sequence

from verify_env.checks.imports.names import ImportUnit, import_units
from verify_env.checks.imports.run import ImportOutcome, ImportRun, run_imports
from verify_env.checks.imports.verdict import Diagnosis, Kind, diagnose, raised_line
from verify_env.checks.interface import CheckResult, Context
from verify_env.finding import Finding, Severity, Skip
from verify_env.inventory import Distribution
from verify_env.inventory.model import canonical_name
from verify_env.names import requirement_name
from verify_env.repair.hints import install_command
from verify_env.target.model import Target

__all__ = ["CODES", "NAME", "run"]

NAME = "imports"
CODES = ("import-error",)

_OK = ImportOutcome("", "ok")
_SHOW_SAME = 24  # scipy has 20 public subpackages with compiled modules
_NUMPY_LEAD = "A module that was compiled using NumPy 1.x"
# Classes with one cause per distribution: the submodules failing with them are one finding.
_ONE_CAUSE = frozenset({Kind.NUMPY_ABI, Kind.ARRAY_API, Kind.PYTHON_ABI, Kind.CRASH, Kind.TIMEOUT})


def _requirement_names(dist: Distribution) -> set[str]:
    """Canonical names of the base Requires-Dist (a scheduling hint only)."""
    return {n for line in dist.requires if (n := requirement_name(line, extras=False))}


def _needs(units: Sequence[ImportUnit], dists: Iterable[Distribution]) -> list[frozenset[str]]:
    """Per unit: top-level names it will import on the way — its distribution's own and those
    of its requirements, transitively — so a worker that has them takes it."""
    tops: dict[str, set[str]] = {}
    for unit in units:
        tops.setdefault(unit.dist.key, set()).add(unit.modules[0].partition(".")[0])
    requires = {d.key: _requirement_names(d) for d in dists if d.judged_by is None}
    out = []
    for unit in units:
        seen, todo = {unit.dist.key}, [unit.dist.key]
        while todo:
            for dep in requires.get(todo.pop(), ()):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        out.append(frozenset(t for key in seen for t in tops.get(key, ())))
    return out


def _marker_environment(target: Target) -> dict[str, str]:
    """PEP 508 marker values for the target (the machine is ours, the interpreter is its)."""
    version = target.version or (0, 0, 0)
    impl = target.implementation or "cpython"
    return {
        "python_version": f"{version[0]}.{version[1]}",
        "python_full_version": ".".join(str(v) for v in version),
        "implementation_name": impl,
        "implementation_version": ".".join(str(v) for v in version),
        "platform_python_implementation": {"cpython": "CPython", "pypy": "PyPy"}.get(impl, impl),
        "sys_platform": target.platform,
        "platform_system": platform.system(),
        "platform_machine": target.machine,
        "platform_release": platform.release(),
        "platform_version": platform.version(),
        "os_name": os.name,
        "extra": "",
    }


def _unmet(dists: Sequence[Distribution], target: Target) -> dict[str, list[tuple[str, str]]]:
    """Per distribution key: (requirement name, requirement text) of base requirements that
    apply to the target and name nothing installed."""
    from packaging.requirements import InvalidRequirement, Requirement

    installed = {d.key for d in dists}
    env = {**(target.markers or _marker_environment(target)), "extra": ""}
    out: dict[str, list[tuple[str, str]]] = {}
    for dist in dists:
        if dist.judged_by is not None or dist.source == "conda-meta":
            continue
        for line in dist.requires:
            try:
                req = Requirement(line)
                if req.marker is not None and not req.marker.evaluate(env):
                    continue
            except (InvalidRequirement, ValueError, KeyError):
                continue
            key = canonical_name(req.name)
            if key not in installed:
                text = str(req).split(";")[0].strip()
                out.setdefault(dist.key, []).append((key, text))
    return out


_EXTRA = re.compile(r"""\bextra\s*==\s*['"]([^'"]+)['"]""")


def _provides(requirement: str, module: str) -> bool:
    """Whether a requirement's name plausibly provides an import name (``python-dateutil``
    -> ``dateutil``, ``PyYAML`` -> ``yaml``): the name or one of its parts matches."""
    name = canonical_name(module)
    if requirement == name or requirement in (f"py{name}", f"python-{name}"):
        return True
    return name in requirement.split("-")


def _relative(path: str | None, site: str) -> str | None:
    if not path:
        return None
    file, sep, line = path.rpartition(":")
    if not sep:
        file, line = path, ""
    if file.startswith(site.rstrip("/") + "/"):
        file = file[len(site.rstrip("/")) + 1 :]
    return f"{file}:{line}" if line else file


class _Judge:
    """Turns outcomes into findings, with what it needs to know about the whole inventory."""

    def __init__(self, ctx: Context, units: Sequence[ImportUnit]) -> None:
        self.ctx = ctx
        dists = [d for d in ctx.inventory.distributions if d.judged_by is None]
        self.providers: dict[str, Distribution] = {}
        for unit in units:
            self.providers.setdefault(unit.modules[0].partition(".")[0], unit.dist)
        self.dists = dists
        self.unmet = _unmet(dists, ctx.target)
        self.by_key = {d.key: d for d in dists}

    def _install(self, dist: Distribution) -> str:
        return install_command(dist.installer, self.ctx.target.executable)

    def _missing(
        self, unit: ImportUnit, module: str, missing: str
    ) -> tuple[Severity, str, str | None]:
        """Severity, what to add to the message, and the hint for ``No module named X``."""
        dist = unit.dist
        top = missing.partition(".")[0]
        provider = self.providers.get(top)
        if provider is None and any(
            os.path.exists(os.path.join(s, top)) for s in self.ctx.target.site_dirs
        ):
            provider = dist  # on disk yet not importable: judged as damage to what is there
        if provider is not None:
            whose = "itself" if provider is dist else f"{provider.name} {provider.version}"
            return (
                Severity.ERROR,
                f"; {top!r} is installed (by {whose}) but incomplete",
                provider.hint,
            )
        for key, reqs in self.unmet.items():
            for req_key, text in reqs:
                if _provides(req_key, missing.partition(".")[0]):
                    requirer = self.by_key[key]
                    severity = Severity.WARNING if requirer.installer == "dpkg" else Severity.ERROR
                    return (
                        severity,
                        f"; {requirer.name} requires {text!r}, not installed",
                        f"{self._install(requirer)} '{text}'",
                    )
        own = self.unmet.get(dist.key)
        if own and dist.installer != "dpkg":
            texts = ", ".join(repr(t) for _, t in own)
            return (
                Severity.ERROR,
                f"; {dist.name} has unmet requirements: {texts}",
                f"{self._install(dist)} " + " ".join(f"'{t}'" for _, t in own),
            )
        declared = self._declared_in_extra(dist, top)
        if declared is not None:  # issue 16 §5: say which extra declares it
            requirer, extra, text = declared
            return (
                Severity.WARNING,
                f"; {requirer.name} declares {text!r} for its extra {extra!r}, which is not "
                "installed (an optional dependency)",
                f"{self._install(requirer)} '{requirer.name}[{extra}]' if you use {module}",
            )
        return (
            Severity.WARNING,
            f"; no installed distribution declares a requirement providing {top!r} "
            f"(an optional dependency of {module}?)",
            f"install the distribution that provides {top!r} if you use {module}",
        )

    def _declared_in_extra(
        self, dist: Distribution, top: str
    ) -> tuple[Distribution, str, str] | None:
        """(distribution, extra, requirement) of a Requires-Dist behind an ``extra == …``
        marker that provides ``top``, the importing distribution's own first."""
        from packaging.requirements import InvalidRequirement, Requirement

        for candidate in (dist, *(d for d in self.dists if d is not dist)):
            for line in candidate.requires:
                found = _EXTRA.search(line)
                if found is None:
                    continue
                try:
                    req = Requirement(line)
                except InvalidRequirement:
                    continue
                if _provides(canonical_name(req.name), top):
                    text = str(req).split(";")[0].strip()
                    return candidate, found.group(1), text
        return None

    def _hint(self, unit: ImportUnit, module: str, d: Diagnosis) -> str | None:
        dist = unit.dist
        match d.kind:
            case Kind.NUMPY_ABI | Kind.ARRAY_API:
                install = self._install(dist)
                upgrade = "conda update" if dist.installer == "conda" else f"{install} --upgrade"
                return (
                    f"{dist.name} {dist.version} was built for NumPy 1.x: `{upgrade} "
                    f"{dist.name}` (a release built for NumPy 2) or `{install} 'numpy<2'`"
                )
            case Kind.PYTHON_ABI:
                return f"reinstall it for this interpreter: {dist.hint}" if dist.hint else None
            case Kind.MISSING_LIBRARY:
                return (
                    f"install what provides {d.subject} (or add its directory to "
                    f"LD_LIBRARY_PATH); if {dist.name} shipped it: {dist.hint}"
                )
            case Kind.UNDEFINED_SYMBOL:
                return (
                    f"a library of another version than {dist.name} was built against is "
                    f"loaded; reinstall to match: {dist.hint}"
                )
            case Kind.CRASH:
                return (
                    f"a compiled file is damaged or incompatible: `verify-env --checks "
                    f"record,tags` names it; then {dist.hint}"
                )
            case Kind.MISSING_NAME if (
                d.subject and self.providers.get(d.subject.partition(".")[0], dist).key != dist.key
            ):
                other = self.providers[d.subject.partition(".")[0]]
                return (
                    f"{dist.name} {dist.version} was written for another {other.name} than "
                    f"{other.version}: `{self._install(dist)} --upgrade {dist.name}`, or "
                    f"install the {other.name} version it requires"
                )
            case Kind.TIMEOUT:
                return (
                    f"raise --import-timeout if it is only slow; `python -X importtime -c "
                    f"'import {module}'` shows where it waits"
                )
        return dist.hint

    def finding(
        self,
        unit: ImportUnit,
        module: str,
        path: str,
        outcome: ImportOutcome,
        d: Diagnosis,
        same: Sequence[str] = (),
        upstream: Sequence[str] = (),
    ) -> Finding:
        dist = unit.dist
        severity, extra, hint = Severity.ERROR, "", self._hint(unit, module, d)
        if d.kind is Kind.MISSING_MODULE and d.subject:
            severity, extra, hint = self._missing(unit, module, d.subject)
        if d.kind is Kind.TIMEOUT:
            message = (
                f"import {module} did not finish within "
                f"{self.ctx.options.import_timeout:g} s (killed)"
            )
        elif d.kind is Kind.CRASH:
            message = f"import {module} crashed the interpreter ({d.subject})"
        else:
            message = f"import {module} fails ({d.kind}): {d.quote!r}"
            where = _relative(outcome.where, unit.site_dir)
            if where and d.kind is not Kind.MISSING_MODULE:
                message += f", raised at {where}"
            if d.quote != (raised := raised_line(outcome)) and raised:
                message += f" ({raised})"
        if same:
            shown = ", ".join(same[:_SHOW_SAME]) + (", …" if len(same) > _SHOW_SAME else "")
            extra += f"; {len(same)} more module(s) of {dist.name} fail the same way: {shown}"
        if upstream:  # e.g. scipy after numpy crashed: the cause may lie there
            extra += f"; it needs {', '.join(upstream)}, which fails too"
        return Finding(
            NAME,
            "import-error",
            severity,
            dist.name,
            dist.version,
            dist.installer,
            path,
            message + extra,
            hint,
        )


def _facts(run: ImportRun, units: Sequence[ImportUnit], seconds: float) -> dict[str, object]:
    tops = {u.modules[0].partition(".")[0] for u in units}
    site = {m: n for m, n in run.loaded.items() if m.partition(".")[0] in tops}
    probed = [o for o in run.outcomes.values() if o.status != "skip"]
    return {
        "modules": len(probed),
        "distinct": len({o.module for o in probed}),
        "processes": run.processes,
        "reruns": run.reruns,
        "seconds": round(seconds, 3),
        "loaded": len(run.loaded),
        "site_modules_loaded": len(site),
        "site_modules_loaded_in_several_processes": sum(1 for n in site.values() if n > 1),
    }


_BLOCKING = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _blocking_file(unit: ImportUnit) -> str | None:
    """A recorded file an import would open that is not a file (a FIFO blocks the opener, and
    opening a device is an effect): the record check reports it; nobody imports it."""
    for location in unit.files:
        try:
            kind = stat.S_IFMT(os.stat(location).st_mode)
        except OSError:
            continue  # missing or a loop: the import fails on its own, without harm
        if kind in _BLOCKING:
            return f"{os.path.relpath(location, unit.site_dir)} is {_BLOCKING[kind]}"
    return None


def run(ctx: Context) -> CheckResult:
    result = CheckResult()
    target = ctx.target
    if target.executable is None:
        result.skips.append(Skip(NAME, None, None, "no interpreter in this prefix to import with"))
        return result
    if target.root is not None:  # the session leaves it out already; never run an image's code
        result.skips.append(Skip(NAME, None, None, "imports cannot run in --root mode"))
        return result
    started = time.perf_counter()
    every = import_units(
        ctx.inventory.distributions,
        target.site_dirs,
        target.extension_suffixes,
        target.stdlib_modules,
    )
    in_scope = [u for u in every if ctx.scope.includes(u.dist)]
    all_needs = _needs(in_scope, ctx.inventory.distributions)
    blocked = {u.modules[0]: why for u in in_scope if (why := _blocking_file(u)) is not None}
    units, needs = [], []
    for unit, need in zip(in_scope, all_needs, strict=True):
        top = unit.modules[0]
        why = blocked.get(top) or next(
            (
                f"it needs {other}, and {blocked[other]}"
                for other in sorted(need & set(blocked))
                if other != top
            ),
            None,
        )
        if why is None:
            units.append(unit)
            needs.append(need)
        else:
            result.skips.append(
                Skip(NAME, unit.dist.name, unit.paths[0], f"import {top}: not tried, {why}")
            )
    tick = None
    if ctx.progress is not None:  # a terminal: `import` of a big stack takes seconds
        report, total = ctx.progress, sum(len(u.modules) for u in units)

        def tick(done: int) -> None:
            report("imports", done, total, 0, 0)

    outcome = run_imports(
        target.executable,
        [u.modules for u in units],
        ctx.jobs,
        ctx.options.import_timeout,
        needs,
        progress=tick,
        passed=ctx.options.import_env,
    )
    result.facts["imports"] = _facts(outcome, units, time.perf_counter() - started)
    if outcome.startup_error is not None:  # what was judged before still counts
        result.skips.append(Skip(NAME, None, None, outcome.startup_error))
    judge = _Judge(ctx, every)
    failed_tops = {
        u.modules[0].partition(".")[0]: u.dist.key
        for u in units
        if outcome.outcomes.get(u.modules[0], _OK).status not in ("ok", "skip")
    }
    for unit, need in zip(units, needs, strict=True):
        upstream = sorted(
            t for t in need & failed_tops.keys() if failed_tops[t] != unit.dist.key
        )  # a requirement's, not its own
        failures: dict[object, list[tuple[str, str, ImportOutcome, Diagnosis]]] = {}
        for module, path in zip(unit.modules, unit.paths, strict=True):
            got = outcome.outcomes.get(module)
            if got is None:
                result.skips.append(
                    Skip(NAME, unit.dist.name, path, f"import {module}: no verdict")
                )
            elif got.status == "skip":
                result.skips.append(
                    Skip(
                        NAME,
                        unit.dist.name,
                        path,
                        f"import {module}: not tried, {got.parent} failed",
                    )
                )
            elif got.status != "ok":
                d = diagnose(got)
                key = d.kind if d.kind in _ONE_CAUSE else (d.kind, d.quote)
                failures.setdefault(key, []).append((module, path, got, d))
        for group in failures.values():
            # the most telling member speaks for the group: NumPy's own sentence if any
            best = min(group, key=lambda g: not g[3].quote.startswith(_NUMPY_LEAD))
            same = [g[0] for g in group if g is not best]
            result.findings.append(judge.finding(unit, *best, same=same, upstream=upstream))
    slow = sorted(
        (o for o in outcome.outcomes.values() if o.status == "ok"), key=lambda o: -o.seconds
    )[:5]
    facts = result.facts["imports"]
    assert isinstance(facts, dict)
    result.details.append(
        f"imports: {facts['modules']} modules in {facts['processes']} processes, "
        f"{facts['seconds']} s; slowest: "
        + ", ".join(f"{o.module} {o.seconds:.2f} s" for o in slow)
    )
    return result
