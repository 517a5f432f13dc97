"""BLAS/LAPACK judgement for one consumer in the closure it is loaded with.

ld.so binds each imported name to the first object in the lookup scope that defines it: the
interpreter's own closure (global), then the consumer's load order. So the provider is the first
object in that order exporting any name the consumer imports. Then: nothing exports them ->
``blas-missing``, or ``blas-interface`` when the other interface's names are there (an LP64
``dgemm_`` against a provider that has only ``dgemm_64_``); some names missing ->
``blas-symbols``; all there but LP64 against ILP64 (by suffix, soname or OpenBLAS's
``USE64BITINT``) -> ``blas-interface``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from verify_env.checks.linkage import blas
from verify_env.checks.linkage.facts import FileFacts

__all__ = ["Verdict", "judge"]

_SHOW = 6  # names quoted in one message


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one BLAS/LAPACK consumer gets."""

    consumer: str
    """The consuming file."""
    provider: str | None
    """The providing file, if any."""
    family: str | None
    """The provider's family (OpenBLAS, MKL …)."""
    version: str | None
    """The provider's version where its bytes say it."""
    interface: str | None
    """The provider's integer interface, LP64 or ILP64."""
    consumer_interface: str
    """The consumer's integer interface, LP64 or ILP64."""
    code: str | None
    """``blas-missing``, ``blas-symbols`` or ``blas-interface``; None when all is well."""
    message: str
    """What is wrong (empty when nothing is)."""
    unresolved: tuple[str, ...] = ()
    """Imported BLAS/LAPACK names nothing in the scope defines."""


def quote(names: Sequence[str]) -> str:
    shown = ", ".join(sorted(names)[:_SHOW])
    return shown + (f" and {len(names) - _SHOW} more" if len(names) > _SHOW else "")


ExportSets = dict[str, frozenset[str]]
"""path -> the BLAS/LAPACK names it exports, as a set; one per run (providers are in the scope
of every consumer: a provider's thousands of names are not walked again for each)."""


def judge(
    consumer: str,
    scope: Sequence[str],
    facts: FileFacts,
    soname_of: dict[str, str],
    label: str,
    exported: ExportSets | None = None,
) -> Verdict | None:
    """The verdict for ``consumer`` given the objects in its lookup scope, in order; None if it
    imports no BLAS/LAPACK. ``label`` names the consumer in messages."""
    mine = facts.blas(consumer)
    if mine is None or not mine.consumer:
        return None
    exported = {} if exported is None else exported
    wanted = set(mine.imports)
    ci = blas.interface_of(consumer, None, mine, as_consumer=True)
    provider: str | None = None
    lacking = wanted  # what nothing in the scope so far defines
    looked: list[blas.BlasFacts] = []
    for obj in scope:
        got = facts.blas(obj)
        if obj == consumer or got is None:
            continue
        names = exported.get(obj)
        if names is None:
            names = exported[obj] = frozenset(got.exports)
        if provider is None and not names.isdisjoint(wanted):
            provider = obj
        lacking = lacking - names  # walks the consumer's few names, not the provider's many
        looked.append(got)
    unresolved = tuple(sorted(lacking))
    others: dict[str, bool] = {}
    for got in looked if unresolved else ():  # the other interface's names, for what lacks
        for routine, ilp in blas.routines(got.exports).items():
            others.setdefault(routine, ilp)
    want_routines = blas.routines(unresolved)
    twins = [
        n
        for n in unresolved
        if (r := blas.split(n)) and r[0] in others and others[r[0]] != want_routines[r[0]]
    ]
    if provider is None:
        if twins:
            return Verdict(
                consumer,
                None,
                None,
                None,
                "ILP64" if ci == "LP64" else "LP64",
                ci,
                "blas-interface",
                f"{label} is an {ci} BLAS/LAPACK consumer ({quote(unresolved)}), but "
                f"the libraries it loads export only the "
                f"{'ILP64' if ci == 'LP64' else 'LP64'} names",
                unresolved,
            )
        return Verdict(
            consumer,
            None,
            None,
            None,
            None,
            ci,
            "blas-missing",
            f"{label} imports {len(wanted)} BLAS/LAPACK symbols "
            f"({quote(sorted(wanted))}) and no library it loads provides them",
            unresolved,
        )
    pf = facts.blas(provider)
    assert pf is not None
    family = blas.family_of(facts.realpath(provider), pf)
    version = blas.version_of(pf)
    pi = blas.interface_of(provider, soname_of.get(provider), pf, as_consumer=False)
    name = os.path.basename(provider)
    if twins:
        return Verdict(
            consumer,
            provider,
            family,
            version,
            pi,
            ci,
            "blas-interface",
            f"{label} is {ci}, but its BLAS/LAPACK provider {name} ({family}) exports "
            f"{quote(twins)} only under the other interface's names",
            unresolved,
        )
    if unresolved:
        return Verdict(
            consumer,
            provider,
            family,
            version,
            pi,
            ci,
            "blas-symbols",
            f"{label} imports {quote(unresolved)} from BLAS/LAPACK, which its provider "
            f"{name} ({family}) and the rest of its libraries do not define",
            unresolved,
        )
    if pi != ci:
        return Verdict(
            consumer,
            provider,
            family,
            version,
            pi,
            ci,
            "blas-interface",
            f"{label} calls BLAS/LAPACK with {ci} integers, but its provider {name} "
            f"({family}) is {pi}: results are garbage or it crashes",
        )
    return Verdict(consumer, provider, family, version, pi, ci, None, "")
