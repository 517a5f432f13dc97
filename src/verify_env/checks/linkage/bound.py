"""The findings of what ld.so checks once a closure is mapped (`binding`): symbol versions,
undefined symbols, and two KMP OpenMP runtimes in one process (`openmp`)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from verify_env.checks.linkage import openmp
from verify_env.checks.linkage.binding import family, version_gaps
from verify_env.checks.linkage.judge import quote
from verify_env.checks.linkage.state import NAME, Run, Unit
from verify_env.finding import Finding, Severity
from verify_env.loader.search import Closure
from verify_env.repair.hints import upgrade_command

__all__ = ["report_openmp", "report_undefined", "report_versions"]


def report_versions(r: Run, unit: Unit, cl: Closure) -> bool:
    """Report the version needs the loader's picks fail; whether there were any (ld.so
    checks versions before it binds a symbol: the load stops there)."""
    gaps = version_gaps(cl, r.facts.object, r.gap_memo)
    for gap in gaps:
        if (gap.needer, gap.version) in r.reported:
            continue
        r.reported.add((gap.needer, gap.version))
        u = r.unit_at(gap.needer) or unit
        fam = family(gap.version)
        prefix = fam[0] if fam else gap.version
        newest = (
            f"whose newest {prefix} version is {gap.newest}"
            if gap.newest
            else f"which defines no {prefix} version"
        )
        picked = r.label(gap.provider)
        owner = r.unit_at(gap.provider)
        source = f" of {owner.dist.name}" if owner else ""
        text = (
            f"{r.label(gap.needer)} needs version {gap.version} of {gap.name}, but the "
            f"loader picks {picked}{source} ({gap.how}), {newest}"
        )
        if gap.needer != unit.file.location:
            text += f"; loaded by {unit.file.path}"
        r.add(
            u.dist,
            "symbol-version",
            r.label(gap.needer),
            text,
            hint=_version_fix(r, gap.name, gap.version, gap.provider, gap.how, owner)
            + f"; else install a {u.dist.name} built against the older {gap.name}",
        )
    return bool(gaps)


def _version_fix(
    r: Run, name: str, version: str, provider: str, how: str, owner: Unit | None
) -> str:
    """How the loader comes to pick a ``name`` that defines ``version``: by taking the older
    copy's directory out of LD_LIBRARY_PATH when that is where it came from, else by upgrading
    the distribution that brings the older copy (its installer's command), else by hand."""
    picked = r.label(provider)
    if how == "LD_LIBRARY_PATH":
        return (
            f"remove {os.path.dirname(os.path.normpath(provider))} from LD_LIBRARY_PATH (its "
            f"{name} is older than {version}) before starting python"
        )
    if owner is not None:
        command = upgrade_command(
            owner.dist.installer, owner.dist.name, r.ctx.target.command_python
        )
        what = f"upgrade {owner.dist.name} to a build whose {name} defines {version}"
        return f"{what}: {command}" if command else what
    return f"make the loader pick a {name} that defines {version} instead of {picked}"


def report_undefined(r: Run, unit: Unit, cl: Closure) -> None:
    if cl.missing or cl.unreadable:
        return  # what is missing would define them: the missing library is the finding
    loaded = [r.path for r in cl.resolved.values() if r.how == "loaded" and r.path]
    for obj, lacking in r.binder.unresolved(cl, r.process.order, loaded):
        if (obj, "*") in r.reported:
            continue
        r.reported.add((obj, "*"))
        u = r.unit_at(obj) or unit
        text = (
            f"{r.label(obj)} needs {quote(list(lacking))}, which no library in its process defines"
        )
        if obj != unit.file.location:
            text += f" (loaded by {unit.file.path})"
        r.add(
            u.dist,
            "undefined-symbol",
            r.label(obj),
            text,
            hint=f"install a {u.dist.name} built for the libraries this process loads, or "
            "the versions of those libraries it was built against",
        )


def report_openmp(
    r: Run,
    exts: list[Unit],
    closures: dict[str, Closure],
    required: Mapping[str, frozenset[str]],
    in_scope: set[str],
) -> None:
    """Two KMP OpenMP runtimes in the process of one distribution: its modules and those of
    the distributions it requires, which import before it (`openmp` says why only these)."""
    kmp: dict[str, list[str]] = {}  # module -> the KMP runtimes its closure maps
    by_dist: dict[str, list[Unit]] = {}
    for v in exts:
        cl = closures[v.file.location]
        objects = dict.fromkeys([*cl.order, *cl.paths_by_name().values()])
        found_here = [o for o in objects if r.facts.openmp(o) == openmp.KMP]
        if found_here:
            kmp[v.file.location] = found_here
            by_dist.setdefault(v.dist.key, []).append(v)
    if not kmp:
        return
    seen: set[frozenset[str]] = set()
    for u in exts:
        key = u.dist.key
        if key not in in_scope or any(f.distribution == u.dist.name for f in r.omp_done):
            continue
        members = {key, *required.get(key, ())}
        maps = {v.file.location: kmp[v.file.location] for k in members for v in by_dist.get(k, ())}
        if sum(map(len, maps.values())) < 2:
            continue
        found = openmp.clashes(maps, r.facts.openmp, r.soname, r.facts.realpath)
        mark = frozenset(r.facts.realpath(x.path) for x in found)
        if not found or mark in seen:
            continue
        seen.add(mark)
        parts, owners = [], []
        for rt in found:
            owner = r.unit_at(rt.path)
            owners.append(owner.dist.name if owner else rt.path)
            mods = ", ".join(r.label(m) for m in rt.loaded_by[:3])
            more = f" and {len(rt.loaded_by) - 3} more" if len(rt.loaded_by) > 3 else ""
            parts.append(
                f"{rt.label} at {r.label(rt.path)} "
                f"({'from ' + owner.dist.name if owner else 'outside the environment'}; "
                f"loaded by {mods}{more})"
            )
        f = Finding(
            NAME,
            "openmp-runtimes",
            Severity.ERROR,
            u.dist.name,
            u.dist.version,
            u.dist.installer,
            r.label(found[0].path),
            f"importing {u.dist.name} maps {len(found)} KMP OpenMP runtimes into one process: "
            + "; ".join(parts)
            + ". The second to start aborts with 'OMP: Error #15' (or crashes)",
            "keep one OpenMP runtime in the process: install builds of "
            + " and ".join(dict.fromkeys(owners))
            + " that share one (e.g. the intel-openmp/llvm-openmp package instead of vendored "
            "copies), or remove one of them",
        )
        r.omp_done.append(f)
        r.result.findings.append(f)
