"""The two steps of the linkage check that run the target's programs: confirmation of the
static model by the target's own ld.so, and the opt-in BLAS/LAPACK probe (`blas_probe`)."""

from __future__ import annotations

from collections import defaultdict

from verify_env.checks.linkage.facts import FileFacts
from verify_env.checks.linkage.judge import Verdict
from verify_env.checks.linkage.replay import listing_to_store, recall_listings
from verify_env.checks.linkage.state import Run
from verify_env.loader.confirm import Job, Listing, confirm, reconcile, search_context
from verify_env.loader.search import Closure, ObjectFacts, SearchSetup
from verify_env.loader.witness import PRELOAD_FILE, Witness

__all__ = ["confirm_closures", "probe"]


def _consumes_blas(cl: Closure, facts: FileFacts) -> bool:
    return any((b := facts.blas(p)) is not None and b.consumer for p in cl.order)


def _needs_first(provider: str, cl: Closure, facts: FileFacts, skip: set[str]) -> list[str]:
    """What ``provider`` needs, as ``cl`` (its consumer's closure) resolved it, dependencies
    before dependents; the interpreter's own objects (``skip``) are in the probe already."""
    out: list[str] = []
    seen = {provider}
    stack: list[tuple[str, list[str]]] = [(provider, [])]
    f = facts.object(provider)
    stack[0][1].extend(f.needed if isinstance(f, ObjectFacts) else ())
    while stack:
        obj, todo = stack[-1]
        if not todo:
            stack.pop()
            if obj != provider:
                out.append(obj)
            continue
        res = cl.resolved.get(todo.pop(0))
        if res is None or res.path is None or res.path in seen or res.path in skip:
            continue
        seen.add(res.path)
        g = facts.object(res.path)
        stack.append((res.path, list(g.needed) if isinstance(g, ObjectFacts) else []))
    return out


def probe(r: Run, verdicts: list[tuple[Verdict, Closure]]) -> None:
    """``--blas-probe``: each provider once per way of calling it and of loading it."""
    from verify_env.checks.linkage.blas_probe import Probe, naming, run_probe

    target, done = r.ctx.target, dict[Probe, str | None]()
    timeout = min(r.ctx.options.import_timeout, 60.0)
    interp = set(r.process.order)
    for v, cl in verdicts:
        consumer = r.facts.blas(v.consumer)
        if v.provider is None or consumer is None or target.executable is None:
            continue
        ilp = v.consumer_interface == "ILP64"
        prefix, suffix = naming(consumer.imports, ilp)
        first = tuple(_needs_first(v.provider, cl, r.facts, interp))
        probe = Probe(v.provider, prefix, suffix, ilp, first)
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


def witness_listings(witness: Witness, jobs: list[Job], listings: dict[str, Listing]) -> None:
    """What ld.so's answers depend on: each directory it searched and file it tried, and the
    files it names. An answer that is missing, an error (a timeout is no verdict), or that does
    not say what was searched cannot be replayed."""
    for job in jobs:
        listing = listings.get(job.path)
        if listing is None or listing.error:
            witness.spoil(f"ld.so gave no listing for {job.path}")
            continue
        if not listing.tried and any(listing.found.values()):
            witness.spoil(f"ld.so did not say where it searched for {job.path}")
        for path in (*listing.tried, *(p for p in listing.found.values() if p)):
            witness.note(path)


def confirm_closures(r: Run, interp: str, closures: list[Closure], setup: SearchSetup) -> None:
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
    llp = r.ctx.target.env.get("LD_LIBRARY_PATH")
    known: dict[str, Listing] = {}
    if r.witness is not None:
        r.witness.note(PRELOAD_FILE)  # ld.so maps what it names into every process
        known = recall_listings(r.ctx.cache, r.witness, interp, llp, jobs)
    todo = [j for j in jobs if j.path not in known]
    listings, seconds = confirm(interp, todo, llp, debug=r.witness is not None)
    if r.witness is not None:
        witness_listings(r.witness, todo, listings)
        for job in todo:
            got = listings.get(job.path)
            if got is not None and not got.error and (got.tried or not any(got.found.values())):
                r.listings.append(listing_to_store(r.witness, interp, llp, job, got))
    listings.update(known)
    for group in groups.values():
        listing = listings.get(group[0].root)
        if listing is not None:
            for cl in group:
                r.result.details += reconcile(cl, listing, r.label(cl.root), facts.realpath)
    r.result.details.append(
        f"linkage: {sum(map(len, groups.values()))} files confirmed by {interp} "
        f"({len(todo)} runs, one per search context, {len(known)} answers remembered) "
        f"in {seconds:.3f} s"
    )
