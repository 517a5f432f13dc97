"""The linkage check: will the loader find every library, and BLAS/LAPACK, that a process gets
when it imports these packages?

Judged as a process meets it (issue 5 §2b): Python loads extension modules by path, so each one
is loaded like ld.so would (`loader.closure`), in a process that already holds the
interpreter's own closure (libc, libpython …) and, for a distribution, what the distributions it
requires loaded first (a torch extension package naming ``libtorch.so`` gets torch's by SONAME).
Files that could not be fully resolved, and every BLAS/LAPACK consumer, are then confirmed by the
target's own ld.so (`linkage.confirm`); where the two disagree the loader wins and ``--verbose``
shows the disagreement. A library no extension module reaches is only ``dlopen``ed at run time
if at all: what it lacks is only noted (info; a clean CUDA build of torch has dozens of such
plugins, and ``--strict`` must still pass it). Severity follows who owes the library (§3b): a
library the distribution (or another one) records and is gone is damage, an error; one expected from
the system is an error unless every import of the module in its package is optional
(`linkage.optional`), then a warning naming the library. BLAS/LAPACK consumers always count.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from verify_env.binary import elf
from verify_env.binary.elfsym import SymbolNames, symbol_names
from verify_env.binary.extensions import is_elf_shared_object, tagged_suffix
from verify_env.checks.interface import CheckResult, Context
from verify_env.checks.linkage import blas, optional
from verify_env.checks.linkage.facts import FileFacts
from verify_env.checks.linkage.judge import Verdict, judge, quote
from verify_env.checks.linkage.process import Process, required_keys
from verify_env.finding import Finding, Severity, Skip
from verify_env.inventory import Distribution, FileKind, RecordedFile
from verify_env.loader.confirm import Job, confirm, reconcile, search_context
from verify_env.loader.rootfs import RootFS
from verify_env.loader.search import (
    Closure,
    ObjectFacts,
    Resolution,
    SearchMemo,
    SearchSetup,
    closure,
    search_setup,
)

__all__ = ["CODES", "NAME", "run"]

NAME = "linkage"
CODES = (
    "missing-library",
    "undefined-symbol",
    "blas-missing",
    "blas-symbols",
    "blas-interface",
    "blas-probe",
)


@dataclass(frozen=True, slots=True)
class _Unit:
    dist: Distribution
    file: RecordedFile
    extension: bool


def _is_extension(location: str, site_dirs: tuple[str, ...]) -> bool:
    name = os.path.basename(location)
    if tagged_suffix(name) is not None:
        return True
    parent = os.path.dirname(location)
    return (
        name.endswith(".so")
        and not name.startswith("lib")
        and not parent.endswith(".libs")
        and any(location.startswith(s + os.sep) for s in site_dirs)
    )


def _units(ctx: Context) -> Iterator[_Unit]:
    sites = tuple(os.path.normpath(s) for s in ctx.target.site_dirs)
    for dist in ctx.inventory.distributions:
        if dist.judged_by is not None:
            continue  # its files are those of the record that owns them
        for f in dist.files:
            if f.kind is FileKind.REGULAR and is_elf_shared_object(f.location):
                yield _Unit(dist, f, _is_extension(f.location, sites))


class _Run:
    """One run of the check: the units, the process model and the findings so far."""

    def __init__(self, ctx: Context, process: Process, facts: FileFacts) -> None:
        self.ctx, self.process, self.facts = ctx, process, facts
        self.result = CheckResult()
        self.units = list(_units(ctx))
        self._by_location = {os.path.normpath(u.file.location): u for u in self.units}
        self.owners: dict[str, list[Distribution]] = defaultdict(list)
        for u in self.units:
            self.owners[os.path.basename(u.file.location)].append(u.dist)
        self.reported: set[tuple[str, str]] = set()
        self.blas_seen: set[str] = set()
        self.optional_memo: dict[str, bool] = {}
        self.symbols: dict[str, SymbolNames] = {}

    # -- labels and findings ---------------------------------------------------------------

    def unit_at(self, location: str) -> _Unit | None:
        """The inventory's file at a path as the loader spelled it (``dir/../lib``)."""
        return self._by_location.get(os.path.normpath(location))

    def label(self, location: str) -> str:
        u = self.unit_at(location)
        return u.file.path if u else os.path.normpath(location)

    def add(
        self,
        dist: Distribution,
        code: str,
        path: str | None,
        message: str,
        severity: Severity = Severity.ERROR,
        hint: str | None = None,
    ) -> None:
        self.result.findings.append(
            Finding(
                NAME,
                code,
                severity,
                dist.name,
                dist.version,
                dist.installer,
                path,
                message,
                hint or dist.hint,
            )
        )

    # -- optional modules (§3b) --------------------------------------------------------------

    def is_optional(self, unit: _Unit) -> bool:
        loc = unit.file.location
        if loc not in self.optional_memo:
            t = self.ctx.target
            module = optional.module_name(loc, t.site_dirs, t.extension_suffixes)
            sources = [
                (f.location, os.path.relpath(f.location, unit.dist.site_dir or "/"))
                for f in unit.dist.files
                if f.location.endswith(".py")
            ]
            self.optional_memo[loc] = module is not None and optional.is_optional(module, sources)
        return self.optional_memo[loc]

    # -- missing libraries ------------------------------------------------------------------

    def missing(self, unit: _Unit, cl: Closure, res: Resolution, consumer_blas: bool) -> None:
        key = (res.requester, res.name)
        if key in self.reported:
            return
        self.reported.add(key)
        req = self.unit_at(res.requester)
        dist = req.dist if req else unit.dist
        owners = self.owners.get(res.name, [])
        shown = [self.ctx.target.shown(os.path.normpath(d)) for d in res.searched[:6]]
        where = ", ".join(shown) + (" …" if len(res.searched) > 6 else "")
        text = (
            f"{self.label(res.requester)} needs {res.name!r}, which the loader finds "
            f"nowhere (searched: {where or 'no directory'})"
        )
        if req is not None and res.requester != unit.file.location:
            text += f"; loaded by {unit.file.path}"
        if not unit.extension:
            self.add(
                dist,
                "missing-library",
                self.label(res.requester),
                f"{text}; no extension module loads {unit.file.path}, so only code that "
                "loads it at run time would fail",
                Severity.INFO,
            )
        elif dist in owners:
            shipped = [
                u.file
                for u in self.units
                if u.dist is dist and os.path.basename(u.file.location) == res.name
            ]
            there = next((f for f in shipped if os.path.exists(f.location)), None)
            self.add(
                dist,
                "missing-library",
                self.label(res.requester),
                f"{text}; {dist.name} ships it and it is gone"
                if there is None
                else f"{text}; {dist.name} ships it as {there.path}, but not where the loader "
                "looks",
            )
        elif owners:
            other = owners[0]
            self.add(
                dist,
                "missing-library",
                self.label(res.requester),
                f"{text}; {other.name} {other.version} should provide it",
                hint=other.hint,
            )
        elif not consumer_blas and not blas.is_blas_soname(res.name) and self.is_optional(unit):
            self.add(
                dist,
                "missing-library",
                self.label(res.requester),
                f"{text}; {unit.file.path} is only imported optionally by {dist.name}: "
                f"install the library that provides {res.name!r} to enable it",
                Severity.WARNING,
                hint=f"install the package that provides {res.name}",
            )
        else:
            self.add(
                dist,
                "missing-library",
                self.label(res.requester),
                f"{text}; it is expected from outside {dist.name} (the system or another package)",
                hint=f"install the package that provides {res.name}",
            )

    def unreadable(self, unit: _Unit, path: str, why: str) -> None:
        if (path, "") in self.reported or path == unit.file.location:
            return  # the file itself: the tags and record checks judge it
        self.reported.add((path, ""))
        self.add(
            unit.dist,
            "missing-library",
            unit.file.path,
            f"{unit.file.path} loads {path}, which the loader cannot use: {why}",
        )

    # -- BLAS ---------------------------------------------------------------------------------

    def scope(self, cl: Closure) -> list[str]:
        """Where a closure's symbols are looked up: the interpreter's objects, the closure in
        load order, and the objects it found already loaded (by SONAME) in the process."""
        loaded = [r.path for r in cl.resolved.values() if r.how == "loaded" and r.path]
        return [*self.process.order, *cl.order, *loaded]

    def blas(self, unit: _Unit, cl: Closure) -> list[Verdict]:
        scope = self.scope(cl)
        out = []
        for obj in cl.order:
            real = self.facts.realpath(obj)
            if real in self.blas_seen:
                continue
            verdict = judge(obj, scope, self.facts, self.process.sonames, self.label(obj))
            if verdict is None:
                continue
            self.blas_seen.add(real)
            out.append(verdict)
            u = self.unit_at(obj) or unit
            if verdict.code is not None:
                self.add(u.dist, verdict.code, self.label(obj), verdict.message)
            if verdict.code == "blas-symbols":
                self.add(
                    u.dist,
                    "undefined-symbol",
                    self.label(obj),
                    f"{self.label(obj)}: undefined BLAS/LAPACK symbols "
                    f"{', '.join(verdict.unresolved[:6])}",
                )
            self.result.facts.setdefault("blas", [])
            entries = self.result.facts["blas"]
            assert isinstance(entries, list)
            entries.append(
                {
                    "consumer": self.label(obj),
                    "distribution": u.dist.name,
                    "provider": verdict.provider and os.path.normpath(verdict.provider),
                    "family": verdict.family,
                    "version": verdict.version,
                    "interface": verdict.interface,
                    "consumer_interface": verdict.consumer_interface,
                    "problem": verdict.code,
                }
            )
        return out

    # -- every symbol, under --strict -----------------------------------------------------------

    def names(self, path: str) -> SymbolNames:
        got = self.symbols.get(path)
        if got is None:
            try:
                got = symbol_names(path)
            except (OSError, elf.ElfFormatError):
                got = SymbolNames(frozenset(), frozenset(), frozenset())
            self.symbols[path] = got
        return got

    def undefined(self, unit: _Unit, cl: Closure) -> None:
        if cl.missing or cl.unreadable:
            return  # what is missing would define them: the missing library is the finding
        scope = self.scope(cl)
        defined: set[str] = set()
        for obj in scope:
            defined |= self.names(obj).defined
        for obj in cl.order:
            if (obj, "*") in self.reported:
                continue
            self.reported.add((obj, "*"))
            lacking = sorted(
                n for n in self.names(obj).undefined - defined if not n.startswith(("Py", "_Py"))
            )
            if lacking:
                u = self.unit_at(obj) or unit
                self.add(
                    u.dist,
                    "undefined-symbol",
                    self.label(obj),
                    f"{self.label(obj)} needs {quote(lacking)}, which no library in its "
                    "process defines",
                )

    # -- confirmation by ld.so -------------------------------------------------------------


def _consumes_blas(cl: Closure, facts: FileFacts) -> bool:
    return any((b := facts.blas(p)) is not None and b.consumer for p in cl.order)


def _probe(r: _Run, verdicts: list[Verdict]) -> None:
    """``--blas-probe``: each provider once per way of calling it."""
    from verify_env.checks.linkage.blas_probe import Probe, naming, run_probe

    target, done = r.ctx.target, dict[Probe, str | None]()
    timeout = min(r.ctx.options.import_timeout, 60.0)
    for v in verdicts:
        consumer = r.facts.blas(v.consumer)
        if v.provider is None or consumer is None or target.executable is None:
            continue
        ilp = v.consumer_interface == "ILP64"
        prefix, suffix = naming(consumer.imports, ilp)
        probe = Probe(v.provider, prefix, suffix, ilp)
        if probe not in done:
            done[probe] = run_probe(target.executable, probe, target.env, timeout)
        if done[probe] is not None:
            u = r.unit_at(v.consumer)
            if u is not None:
                r.add(
                    u.dist,
                    "blas-probe",
                    u.file.path,
                    f"{u.file.path}: its BLAS/LAPACK provider {v.provider}, called as it "
                    f"calls it ({prefix}ddot{suffix}, {v.consumer_interface}), "
                    f"{done[probe]}",
                )


def _confirm(r: _Run, interp: str, closures: list[Closure], setup: SearchSetup) -> None:
    """Hand the files the static pass could not fully resolve, and every BLAS/LAPACK
    consumer, to the target's ld.so; one per search context; the loader wins."""
    process, facts = r.process, r.facts
    groups: dict[tuple[object, ...], list[Closure]] = defaultdict(list)
    jobs = []
    for cl in closures:
        f = facts.object(cl.root)
        if not isinstance(f, ObjectFacts) or not (
            cl.missing or cl.unreadable or _consumes_blas(cl, facts)
        ):
            continue
        preload = tuple(
            sorted(
                {
                    res.path
                    for res in cl.resolved.values()
                    if res.how == "loaded" and res.path and res.path not in process.order
                }
            )
        )
        group = groups[(search_context(cl.root, f, setup, facts.realpath), preload)]
        if not group:
            jobs.append(
                Job(
                    cl.root,
                    process.inherited + setup.ld_library_path if process.inherited else (),
                    preload,
                )
            )
        group.append(cl)
    listings, seconds = confirm(interp, jobs, r.ctx.target.env.get("LD_LIBRARY_PATH"))
    for group in groups.values():
        listing = listings.get(group[0].root)
        if listing is not None:
            for cl in group:
                r.result.details += reconcile(cl, listing, r.label(cl.root))
    r.result.details.append(
        f"linkage: {sum(map(len, groups.values()))} files confirmed by {interp} "
        f"({len(jobs)} runs, one per search context) in {seconds:.3f} s"
    )


def run(ctx: Context) -> CheckResult:
    target = ctx.target
    result = CheckResult()
    if target.executable is None or not target.platform.startswith("linux"):
        result.skips.append(Skip(NAME, None, None, "linkage is judged for Linux interpreters"))
        return result
    fs = RootFS(target.root) if target.root is not None else None
    facts = FileFacts(ctx.cache, fs)
    exe = target.real(target.executable)
    exe_facts = facts.object(exe)
    if not isinstance(exe_facts, ObjectFacts):
        result.skips.append(Skip(NAME, None, None, f"the interpreter is unreadable: {exe_facts}"))
        return result
    setup = search_setup(target.machine, exe_facts.triple[0], target.libc, target.env, fs)
    try:
        interp = elf.read_dynamic(exe).interpreter
    except (OSError, elf.ElfFormatError):
        interp = None
    if interp and fs is not None:
        interp = fs.host(interp)  # the image's loader: modelled, never run (no confirmation)
    process = Process.of_interpreter(exe, interp, setup, facts)
    r = _Run(ctx, process, facts)
    required = required_keys(ctx.inventory.distributions)
    in_scope = {u.dist.key for u in r.units if ctx.scope.includes(u.dist)}
    wanted = in_scope.union(*(required.get(k, frozenset()) for k in in_scope))

    closures: dict[str, Closure] = {}
    memo: SearchMemo = {}
    loaded: dict[str, dict[str, str]] = defaultdict(dict)
    exts = []
    facts.prefetch([u.file.location for u in r.units if u.dist.key in wanted], ctx.jobs)
    for u in r.units:
        if not u.extension or u.dist.key not in wanted:
            continue
        got = facts.object(u.file.location)
        if not isinstance(got, ObjectFacts) or got.triple != exe_facts.triple:
            if ctx.scope.includes(u.dist):  # the tags check reports what it is instead
                why = (
                    "built for another machine or class"
                    if isinstance(got, ObjectFacts)
                    else got.removeprefix(f"{u.file.location!r}: ")
                )
                result.skips.append(
                    Skip(
                        NAME,
                        u.dist.name,
                        u.file.path,
                        f"{u.file.path}: not a loadable ELF object: {why}",
                    )
                )
            continue
        exts.append(u)
    for u in exts:
        cl = closure(
            u.file.location,
            setup,
            facts.object,
            process.preloaded,
            process.inherited,
            facts.realpath,
            memo,
        )
        closures[u.file.location] = cl
        loaded[u.dist.key].update(process.loaded_by(cl, facts))
    mine = [u for u in exts if u.dist.key in in_scope]
    for u in mine:  # names satisfied by what the required distributions loaded first
        cl = closures[u.file.location]
        extra: dict[str, str] = {}
        for k in required.get(u.dist.key, ()):
            extra.update(loaded.get(k, {}))
        if any(m.name in extra for m in cl.missing):
            closures[u.file.location] = closure(
                u.file.location,
                setup,
                facts.object,
                {**extra, **process.preloaded},
                process.inherited,
                facts.realpath,
                memo,
            )
    if interp and fs is None:
        _confirm(r, interp, [closures[u.file.location] for u in mine], setup)
    verdicts: list[Verdict] = []
    reached: set[str] = set()
    for u in mine:
        cl = closures[u.file.location]
        reached.update(facts.realpath(p) for p in cl.order)
        found = r.blas(u, cl)
        verdicts += found
        for m in cl.missing:
            r.missing(u, cl, m, bool(found))
        for p, why in cl.unreadable.items():
            r.unreadable(u, p, why)
        if ctx.options.strict:
            r.undefined(u, cl)
    for u in r.units:
        if u.extension or u.dist.key not in in_scope or facts.realpath(u.file.location) in reached:
            continue
        pre = {**loaded.get(u.dist.key, {}), **process.preloaded}
        for k in required.get(u.dist.key, ()):
            pre.update(loaded.get(k, {}))
        cl = closure(
            u.file.location, setup, facts.object, pre, process.inherited, facts.realpath, memo
        )
        for m in cl.missing:
            r.missing(u, cl, m, False)
    if ctx.options.blas_probe and fs is None:
        _probe(r, verdicts)
    r.result.files = sum(1 for u in r.units if u.dist.key in in_scope)
    r.result.skips += result.skips
    return r.result
