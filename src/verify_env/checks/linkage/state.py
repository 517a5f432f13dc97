"""The state of one run of the linkage check: its units (the shared objects of the
distributions), the process model, and the findings so far, with the wording of the findings
about libraries (missing, unreadable) and BLAS/LAPACK that every step shares."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from verify_env.binary.extensions import is_elf_shared_object, tagged_suffix
from verify_env.cache.statcache import StatKey
from verify_env.checks.interface import CheckResult, Context, dist_finding
from verify_env.checks.linkage import blas, optional
from verify_env.checks.linkage.binding import Binder, GapMemo
from verify_env.checks.linkage.facts import FileFacts
from verify_env.checks.linkage.judge import ExportSets, Verdict, judge
from verify_env.checks.linkage.process import Process
from verify_env.finding import Finding, Severity
from verify_env.inventory import Distribution, FileKind, RecordedFile
from verify_env.loader.search import Closure, ObjectFacts, Resolution
from verify_env.loader.witness import Witness

__all__ = ["NAME", "Run", "Unit", "is_extension", "python_sources", "units"]

NAME = "linkage"


@dataclass(frozen=True, slots=True)
class Unit:
    """A shared object of a distribution, and whether Python loads it as a module."""

    dist: Distribution
    file: RecordedFile
    extension: bool


def is_extension(location: str, site_dirs: tuple[str, ...]) -> bool:
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


def python_sources(dist: Distribution) -> tuple[str, ...]:
    """The ``.py`` files `optional.is_optional` reads for a distribution's modules."""
    return tuple(f.location for f in dist.files if f.location.endswith(".py"))


def units(ctx: Context) -> Iterator[Unit]:
    sites = tuple(os.path.normpath(s) for s in ctx.target.site_dirs)
    regular = FileKind.REGULAR
    for dist in ctx.inventory.distributions:
        if dist.judged_by is not None:
            continue  # its files are those of the record that owns them
        for f in dist.files:  # ".so" first: one C search rules out nearly every file
            loc = f.location
            if ".so" in loc and f.kind is regular and is_elf_shared_object(loc):
                yield Unit(dist, f, is_extension(loc, sites))


class Run:
    """One run of the check: the units, the process model and the findings so far."""

    def __init__(
        self,
        ctx: Context,
        process: Process,
        facts: FileFacts,
        shared: list[Unit] | None = None,
        witness: Witness | None = None,
    ) -> None:
        self.ctx, self.process, self.facts = ctx, process, facts
        self.result = CheckResult()
        self.units = list(units(ctx)) if shared is None else shared
        self.witness = witness
        """Where what the run reads is recorded for a later run (`replay`), if anywhere."""
        self.listings: list[tuple[str, StatKey, object]] = []
        """ld.so's new answers, stored with the verdict (`replay.listing_to_store`)."""
        self.sources: dict[str, tuple[str, ...]] = {}
        """Distribution key -> the ``.py`` files read to tell optional modules (`is_optional`)."""
        self._by_location = {os.path.normpath(u.file.location): u for u in self.units}
        self.owners: dict[str, list[Distribution]] = defaultdict(list)
        for u in self.units:
            self.owners[os.path.basename(u.file.location)].append(u.dist)
        self.reported: set[tuple[str, str]] = set()
        self.blas_seen: set[str] = set()
        self.optional_memo: dict[str, bool] = {}
        self.exported: ExportSets = {}
        self.binder = Binder(ctx.cache, facts.stat_key, facts.symbol_names)
        self.gap_memo: GapMemo = {}
        self.omp_done: list[Finding] = []

    def soname(self, path: str) -> str | None:
        f = self.facts.object(path)
        return f.soname if isinstance(f, ObjectFacts) else None

    # -- labels and findings ---------------------------------------------------------------

    def unit_at(self, location: str) -> Unit | None:
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
            dist_finding(NAME, dist, code, path, message, severity, hint or None)
        )

    # -- optional modules (§3b) --------------------------------------------------------------

    def is_optional(self, unit: Unit) -> bool:
        loc = unit.file.location
        if loc not in self.optional_memo:
            t = self.ctx.target
            module = optional.module_name(loc, t.site_dirs, t.extension_suffixes)
            found = python_sources(unit.dist)
            if self.witness is not None:
                self.sources[unit.dist.key] = found
                for path in found:
                    self.witness.note(path)  # before the read: a later edit shows
            sources = [(p, os.path.relpath(p, unit.dist.site_dir or "/")) for p in found]
            self.optional_memo[loc] = module is not None and optional.is_optional(module, sources)
        return self.optional_memo[loc]

    # -- missing libraries ------------------------------------------------------------------

    def exists(self, path: str) -> bool:
        return os.path.exists(path) if self.witness is None else self.witness.exists(path)

    def missing(self, unit: Unit, cl: Closure, res: Resolution, consumer_blas: bool) -> None:
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
            there = next((f for f in shipped if self.exists(f.location)), None)
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

    def unreadable(self, unit: Unit, path: str, why: str) -> None:
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

    def blas(self, unit: Unit, cl: Closure) -> list[Verdict]:
        scope = self.scope(cl)
        out = []
        for obj in cl.order:
            real = self.facts.realpath(obj)
            if real in self.blas_seen:
                continue
            verdict = judge(
                obj, scope, self.facts, self.process.sonames, self.label(obj), self.exported
            )
            if verdict is None:
                continue
            self.blas_seen.add(real)
            out.append(verdict)
            u = self.unit_at(obj) or unit
            if verdict.code is not None:  # the BLAS finding names the cause of its symbols
                self.reported.add((obj, "*"))
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
