"""A whole run's verdict, stored with everything it read and replayed while all of it holds.

A verdict is a function of what is not on disk — the target's facts as its probe gives them
now, the checks and options, the working directory, this code, the host — and of what the run
read (`cache.observer`). The first is one digest, compared exactly; the second is the state of
every path read, each stat'ed again. When both are as they were, the stored report is the
report: no check is imported, no RECORD parsed, nothing hashed. A warm run then costs the
probe and a stat of each path read (issue 15: the torch venv's ~22k recorded files).

Stored only by a full run that judged everything (no skip: a timeout is not a verdict) with a
healthy stat cache, which ran nothing of the environment's (``imports``, ``--blas-probe``) and
was not ``--root``; and only when no path it read changed within `RECENT_NS` of its start,
since a file written within the clock's granularity of being read could change again without
its timestamps moving (right after an install the first path looked at says so, and storing
stops there; otherwise the states cost a stat of each path, ~0.1 s of a torch venv's 4 s first
run). One stored verdict a target as the command line named it (the last stored wins);
``--no-cache`` neither reads nor writes one. Like the stat cache it is this user's,
authenticated, bounded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import marshal
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from verify_env import __version__
from verify_env.cache.observer import Observation
from verify_env.cache.recheck import encode, first_changed
from verify_env.cache.sealed import dir_problem, read_sealed, write_sealed
from verify_env.finding import Finding, Severity, Skip

__all__ = ["Candidate", "pack_findings", "recall", "request_path", "run_key", "store"]

VERSION = 3
_MAGIC = b"verify-env verdict %d\n" % VERSION
MAX_BYTES = 64 << 20
"""A stored verdict larger than this is not read (a torch venv's is ~2 MB)."""
RECENT_NS = 2_000_000_000
"""A path whose ctime is this close to the start of the run that read it is not trusted."""
_FINDING = tuple(f.name for f in dataclasses.fields(Finding))
_SKIP = tuple(f.name for f in dataclasses.fields(Skip))


def request_path(
    cache_dir: str, python: str | None, prefix: str | None, environ: Mapping[str, str]
) -> str:
    """The stored verdict for the target the command line names (found before the probe says
    which prefix that is, so that its paths are stat'ed while the probe runs)."""
    named = (
        os.path.abspath(python) if python else None,
        os.path.abspath(prefix) if prefix else None,
        environ.get("VIRTUAL_ENV"),
        environ.get("CONDA_PREFIX"),
        sys.executable,
    )
    tag = hashlib.sha256(repr(named).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return os.path.join(cache_dir, "verdict", tag + ".bin")


def _canonical(value: object) -> object:
    """``value`` as plain data with one spelling: sets and mappings in sorted order (a
    frozenset's order changes with every process's hash seed)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple(
            (f.name, _canonical(getattr(value, f.name))) for f in dataclasses.fields(value)
        )
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _canonical(v)) for k, v in value.items()))
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(map(repr, value)))
    if isinstance(value, (list, tuple)):
        return tuple(map(_canonical, value))
    return value


def run_key(target: object, checks: Iterable[str], options: object) -> bytes:
    """Everything a verdict depends on that is not on disk, as one digest."""
    try:
        cwd: str | None = os.getcwd()
    except OSError:
        cwd = None
    facts = (
        VERSION,
        __version__,
        os.path.dirname(os.path.abspath(__file__)),
        sys.executable,
        sys.version,
        tuple(os.uname()),
        os.geteuid() if hasattr(os, "geteuid") else None,
        cwd,
        tuple(checks),
        _canonical(options),
        _canonical(target),
    )
    return hashlib.blake2b(repr(facts).encode("utf-8", "surrogateescape")).digest()


def _own_sources() -> list[str]:
    """The modules of verify-env itself (the import system's reads are not observed)."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return [
        os.path.join(d, name)
        for d, _, names in os.walk(top)
        for name in names
        if name.endswith(".py")
    ]


def pack_findings(findings: Iterable[Finding], skips: Iterable[Skip]) -> tuple[object, ...]:
    """Findings and skips as plain data (marshal stores no dataclass)."""

    def fields(obj: object, names: tuple[str, ...]) -> tuple[object, ...]:
        return tuple(v.value if isinstance(v := getattr(obj, n), Severity) else v for n in names)

    return (
        tuple(fields(f, _FINDING) for f in findings),
        tuple(fields(s, _SKIP) for s in skips),
    )


def unpack_findings(value: object) -> tuple[list[Finding], list[Skip]]:
    """`pack_findings` undone. Raises TypeError, ValueError or KeyError on anything else."""
    if not isinstance(value, tuple) or len(value) != 2:
        raise TypeError("not packed findings")
    findings = []
    for row in value[0]:
        kw = dict(zip(_FINDING, row, strict=True))
        kw["severity"] = Severity(kw["severity"])
        findings.append(Finding(**kw))
    return findings, [Skip(**dict(zip(_SKIP, row, strict=True))) for row in value[1]]


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate:
    """A stored verdict whose every path was as it was when it was looked at; replayed if the
    run's key (`run_key`) is the one stored."""

    key: bytes
    report: tuple[Any, ...]
    """checks, packed findings and skips, summary fields, facts, details."""
    paths: int
    """How many paths were stat'ed again."""


def recall(path: str) -> Candidate | str:
    """The verdict stored at ``path`` if everything it read holds; else why not."""
    if dir_problem(os.path.dirname(path)) is not None:
        return "the cache directory cannot be trusted"
    try:
        payload = read_sealed(path, _MAGIC, MAX_BYTES)
        if payload is None:
            return "no verdict stored for this target"
        key, witness, report = marshal.loads(payload)
    except (OSError, ValueError, EOFError, TypeError):
        return "the stored verdict cannot be read"
    if not isinstance(key, bytes) or not isinstance(report, tuple):
        return "the stored verdict cannot be read"
    moved = first_changed(witness)
    if moved is not None:
        return f"{moved} changed since the verdict was stored"
    return Candidate(key, report, len(witness[2]))


def store(
    path: str,
    key: bytes,
    observation: Observation,
    started_ns: int,
    checks: tuple[str, ...],
    findings: tuple[Finding, ...],
    skips: tuple[Skip, ...],
    summary: tuple[int, int],
    facts: dict[str, Any],
    details: tuple[str, ...],
) -> str | None:
    """Store a run's verdict with the state of every path it read, and of verify-env's own
    sources (an edit of a check, without a new version, is another verdict); None, or why
    not."""
    if observation.spoiled:
        return "a path the run read could not be noted"
    observation.declared.update(dict.fromkeys(_own_sources()))
    states = []
    recent = started_ns - RECENT_NS
    for p, whole, state in observation.states():  # what this process read first: right
        # after an install, the site dir's listing says "too recent" at once
        if state is not None and any(state[i] >= recent for i in (5, 11) if i < len(state)):
            return f"{p} changed within {RECENT_NS // 10**9} s of the run"
        states.append((p, whole, state))
    report: Any = (checks, pack_findings(findings, skips), summary, facts, details)
    try:
        payload = marshal.dumps((key, encode(states), report))
        if len(payload) > MAX_BYTES:
            return f"{len(states)} paths: more than a stored verdict may hold"
        write_sealed(path, _MAGIC, payload)
    except (OSError, ValueError) as exc:
        return f"could not store the verdict: {exc}"
    return None
