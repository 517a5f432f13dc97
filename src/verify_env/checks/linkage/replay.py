"""A warm run whose inputs are unchanged replays the verdict of the run that judged them.

The linkage check's verdict is a function of two things. What is not on disk: the target's
machine, libc, LD_LIBRARY_PATH, site dirs and extension suffixes, the shared objects of the
inventory with the distributions that own them, what they require, the scope, the options,
this code's version and the host (ld.so's hwcaps directories follow the CPU). And what is on
disk: every file the loader model and the target's ld.so looked at, found or not
(`loader.witness`: the stat of each, the realpaths the run took). The first is hashed into one
digest, the key of the stored verdict; the second is stored with it.

A warm run hashes the first, stats every path of the second and resolves its realpaths again;
when all are as they were, it returns the findings, skips, report facts (the BLAS summary) and
``--verbose`` lines it stored, and reads no ELF fact, builds no closure, judges no BLAS and
runs no ld.so. Anything different — a library rewritten, one appearing earlier on a search path,
ld.so.cache, LD_LIBRARY_PATH, the inventory, the scope — and the check runs in full and stores
anew. Not replayed: ``--blas-probe`` (it runs the providers), ``--root`` (an image's links
resolve inside it), a run whose ld.so confirmation failed or did not say what it searched, a
run in which something it read changed under it. The stat cache's own rules (one user's,
authenticated, ``--no-cache``) hold for this entry as for every other.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from typing import Any

from verify_env import __version__
from verify_env.cache.observer import declare
from verify_env.cache.statcache import StatCache, StatKey, packed
from verify_env.cache.verdict import pack_findings, unpack_findings
from verify_env.checks.interface import CheckResult, Context
from verify_env.checks.linkage.facts import FileFacts, _Entry
from verify_env.checks.linkage.state import Unit, python_sources
from verify_env.loader.confirm import Job, Listing
from verify_env.loader.search import LD_SO_CACHE, RealPaths
from verify_env.loader.witness import PRELOAD_FILE, Witness, changed

__all__ = ["Replay", "WitnessedFacts", "recall_listings"]

_SPACE = "linkage.run.2"  # bump when what is stored changes shape or meaning
_LISTINGS = "linkage.ldso.1"  # ld.so's answer for one job, with what it depends on


class WitnessedFacts(FileFacts):
    """`FileFacts` that records every path it gives facts or a realpath of (`loader.witness`).

    A path is observed before its facts are first used; if the key those facts were read under
    (here or by `prefetch`'s workers, earlier) is not what the observation saw, the file changed
    in between and the run is not remembered."""

    __slots__ = ("_checked", "witness")

    def __init__(self, cache: StatCache, witness: Witness) -> None:
        super().__init__(cache)
        self.witness = witness
        self._checked: set[str] = set()

    def entry(self, path: str) -> _Entry:
        if path in self._checked:
            return super().entry(path)
        self._checked.add(path)
        seen = self.witness.note(path)
        got = super().entry(path)
        used = self.stat_key(path)
        if (used is None) != (seen < 0) or (used is not None and packed(used) != seen):
            self.witness.spoil(f"{path} changed while the check read it")
        return got

    def realpath(self, path: str) -> str:
        got = super().realpath(path)
        self.witness.real(path, got)
        return got


def _digest(
    ctx: Context,
    units: Iterable[Unit],
    in_scope: set[str],
    wanted: set[str],
    required: Mapping[str, frozenset[str]],
) -> StatKey:
    """Everything the verdict depends on that is not on disk, as one key: the target's facts
    the check reads, each shared object with the distribution that owns it (its name, version,
    installer and repair hint are in the findings), the scope and what it pulls in."""
    t = ctx.target
    by_dist: dict[str, list[object]] = {}
    for u in units:
        d = u.dist
        got = by_dist.get(d.key)
        if got is None:
            got = by_dist[d.key] = [d.name, d.version, d.installer, d.hint, d.site_dir]
        got.append((u.file.location, u.file.path, u.extension))
    facts = (
        _SPACE,
        __version__,
        os.uname().nodename,
        (t.executable, t.platform, t.machine, t.libc, t.root, t.env.get("LD_LIBRARY_PATH")),
        tuple(t.site_dirs),
        tuple(t.extension_suffixes),
        tuple((k, tuple(v)) for k, v in by_dist.items()),
        tuple(sorted(in_scope)),
        tuple(sorted(wanted)),
        tuple((k, tuple(sorted(required.get(k, ())))) for k in sorted(in_scope)),
    )
    return _as_key(facts)


def _as_key(facts: tuple[object, ...]) -> StatKey:
    """A digest of plain data as a stat key (the stat cache compares it exactly)."""
    digest = hashlib.blake2b(repr(facts).encode("utf-8", "surrogateescape"), digest_size=32)
    a, b, c, d = (int.from_bytes(digest.digest()[i : i + 8], "big") for i in range(0, 32, 8))
    return (a, b, c, d, 0)


def _job_key(interp: str, ld_library_path: str | None, job: Job) -> StatKey:
    """What is not on disk of one ld.so run: its loader, command line and environment."""
    return _as_key(
        (
            _LISTINGS,
            __version__,
            os.uname().nodename,
            interp,
            ld_library_path,
            job.path,
            job.library_path,
            job.preload,
        )
    )


def recall_listings(
    cache: StatCache, witness: Witness, interp: str, ld_library_path: str | None, jobs: list[Job]
) -> dict[str, Listing]:
    """ld.so's answers to the jobs whose every input is as it was when it gave them (after a
    change elsewhere, a warm run runs ld.so only for what the change could move). What they
    depend on goes into ``witness`` as it was then: `Replay.store` checks it once more."""
    out: dict[str, Listing] = {}
    for job in jobs:
        value = cache.fact(_LISTINGS, job.path, _job_key(interp, ld_library_path, job))
        if not isinstance(value, tuple) or len(value) != 2:
            continue
        stats, found = value
        if not isinstance(stats, dict) or not isinstance(found, dict):
            continue
        if changed(stats, {}, str) is not None:
            continue
        for path, seen in stats.items():
            witness.stats.setdefault(path, seen)
        out[job.path] = Listing(found, None, tuple(stats))
    return out


def listing_to_store(
    witness: Witness, interp: str, ld_library_path: str | None, job: Job, listing: Listing
) -> tuple[str, StatKey, object]:
    """(location, key, value) of ld.so's answer to ``job`` in the stat cache, with the stat of
    everything it depends on as the run observed it."""
    paths = (
        interp,
        LD_SO_CACHE,
        PRELOAD_FILE,
        job.path,
        *job.preload,
        *listing.tried,
        *(p for p in listing.found.values() if p),
    )
    stats = {p: witness.note(p) for p in paths}
    return job.path, _job_key(interp, ld_library_path, job), (stats, dict(listing.found))


def _pack(result: CheckResult) -> tuple[object, ...]:
    return (
        pack_findings(result.findings, result.skips),
        result.files,
        result.facts,
        tuple(result.details),
    )


def _unpack(value: object) -> CheckResult | None:
    try:
        packed_findings, files, facts, details = cast_tuple(value, 4)
        out = CheckResult(files=int(files), facts=dict(facts), details=list(details))
        out.findings, out.skips = unpack_findings(packed_findings)
    except (TypeError, ValueError, KeyError):
        return None
    return out


def cast_tuple(value: object, n: int) -> tuple[Any, ...]:
    """``value`` as a tuple of ``n`` (what marshal gave back); TypeError when it is not."""
    if not isinstance(value, tuple) or len(value) != n:
        raise TypeError("not a stored verdict")
    return value


class Replay:
    """One run's stored verdict: recall it if its inputs hold, else witness and store anew."""

    __slots__ = ("ctx", "key", "location", "missed", "witness")

    def __init__(
        self,
        ctx: Context,
        units: Iterable[Unit],
        in_scope: set[str],
        wanted: set[str],
        required: Mapping[str, frozenset[str]],
    ) -> None:
        self.ctx = ctx
        self.key = _digest(ctx, units, in_scope, wanted, required)
        self.location = "run" if ctx.scope.keys is None else "run in a scope"
        """One entry for the full run, one for a transaction's: neither evicts the other."""
        self.witness = Witness()
        self.missed: str | None = None
        """Why the stored verdict was not replayed, if one was looked for."""

    def recall(self) -> CheckResult | None:
        """The stored verdict, if every input it was judged from is as it was; else None, and
        `missed` says why (a ``--verbose`` line)."""
        value = self.ctx.cache.fact(_SPACE, self.location, self.key)
        if not isinstance(value, tuple) or len(value) != 4:
            self.missed = "no verdict stored for these settings, libraries and scope"
            return None
        stats, reals, sources, result = value
        if not isinstance(stats, dict) or not isinstance(reals, dict):
            return None
        if not isinstance(sources, tuple) or not self._same_sources(sources):
            self.missed = "the Python files that tell optional modules changed"
            return None
        moved = changed(stats, reals, RealPaths())
        if moved is not None:
            self.missed = f"{moved} changed since the verdict was stored"
            return None
        out = _unpack(result)
        if out is not None:
            declare(stats)  # read for it by workers and ld.so: a stored run verdict holds on them
            out.details.append(
                f"linkage: the verdict of an earlier run, replayed: its {len(stats)} paths "
                "and their links are as they were"
            )
        return out

    def _same_sources(self, sources: tuple[object, ...]) -> bool:
        dists = {d.key: d for d in self.ctx.inventory.distributions}
        for item in sources:
            if not isinstance(item, tuple) or len(item) != 2:
                return False
            dist = dists.get(item[0])
            if dist is None or python_sources(dist) != item[1]:
                return False
        return True

    def store(
        self,
        result: CheckResult,
        sources: Mapping[str, tuple[str, ...]],
        listings: Iterable[tuple[str, StatKey, object]] = (),
    ) -> None:
        """Remember ``result`` with what it was judged from, and ld.so's new answers, unless
        something the run read changed while it ran (observed again now: the verdict was judged
        from the first observation)."""
        w = self.witness
        declare(w.stats)  # read by the prefetch workers and ld.so, not only by this process
        if w.spoiled is not None or changed(w.stats, w.reals, RealPaths()) is not None:
            return
        value = (w.stats, w.reals, tuple(sources.items()), _pack(result))
        self.ctx.cache.remember(_SPACE, self.location, self.key, value)
        for location, key, listing in listings:
            self.ctx.cache.remember(_LISTINGS, location, key, listing)
