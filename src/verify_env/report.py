"""The report: findings, skips and a summary, and the exit status they imply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from verify_env.finding import Finding, Severity, Skip
from verify_env.target.model import Target

__all__ = ["EXIT_ERRORS", "EXIT_OK", "EXIT_USAGE", "Environment", "Report", "Summary", "merged"]

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts for the summary line and the JSON ``summary`` object."""

    distributions: int
    """Distributions in scope."""
    files: int
    """Files examined."""
    bytes_hashed: int
    """Bytes actually hashed this run (cache hits excluded)."""
    seconds: float
    """Wall time of the verification."""


@dataclass(frozen=True, slots=True)
class Environment:
    """One environment of an image verified by ``--root``, and what was found in it."""

    name: str
    """Its prefix inside the image (``/opt/app``, ``/usr``): what its findings name."""
    target: Target
    """What was verified."""
    summary: Summary
    """Its counts."""
    errors: int
    """Its error findings."""
    warnings: int
    """Its warnings."""


@dataclass(frozen=True, slots=True)
class Report:
    """What a run found, ready for any renderer."""

    target: Target
    """What was verified."""
    checks: tuple[str, ...]
    """The checks that ran."""
    findings: tuple[Finding, ...]
    """Everything found, sorted by distribution, path, code."""
    skips: tuple[Skip, ...]
    """What could not be judged, with reasons."""
    summary: Summary
    """Counts."""
    notes: tuple[str, ...] = ()
    """Messages about the run itself (a stat cache that could not be read …)."""
    facts: dict[str, Any] = field(default_factory=dict)
    """Sections checks add to the JSON ``environment`` object (``blas`` …)."""
    details: tuple[str, ...] = ()
    """Lines for ``--verbose`` text output."""
    environments: tuple[Environment, ...] = ()
    """``--root``: each environment of the image, in discovery order (`target` is the first)."""

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.WARNING)

    @property
    def accepted(self) -> int:
        return sum(1 for f in self.findings if f.accepted is not None)

    def exit_status(self, strict: bool = False) -> int:
        if self.errors or (strict and self.warnings):
            return EXIT_ERRORS
        return EXIT_OK


def merged(named: list[tuple[str, Report]], notes: tuple[str, ...] = ()) -> Report:
    """One report for the environments of an image: each finding names its environment; one
    that several environments share (the system's standard library, seen by each venv built
    on it) is reported once, in the first."""
    import dataclasses

    assert named
    findings: list[Finding] = []
    seen: set[tuple[object, ...]] = set()
    envs = []
    for name, report in named:
        for f in report.findings:
            key = (f.check, f.code, f.distribution, f.version, f.location or f.path, f.message)
            if key in seen:
                continue
            seen.add(key)
            findings.append(dataclasses.replace(f, environment=name))
        envs.append(
            Environment(name, report.target, report.summary, report.errors, report.warnings)
        )
    first = named[0][1]
    facts: dict[str, Any] = {}
    for name, report in named:  # each environment's sections; lists joined, entries named
        for section, value in report.facts.items():
            if isinstance(value, list):
                facts.setdefault(section, []).extend(
                    {**v, "environment": name} if isinstance(v, dict) else v for v in value
                )
            else:
                facts.setdefault(section, value)
    summary = Summary(
        sum(r.summary.distributions for _, r in named),
        sum(r.summary.files for _, r in named),
        sum(r.summary.bytes_hashed for _, r in named),
        round(sum(r.summary.seconds for _, r in named), 3),
    )
    return Report(
        first.target,
        first.checks,
        tuple(findings),
        tuple(s for _, r in named for s in r.skips),
        summary,
        (*notes, *dict.fromkeys(n for _, r in named for n in r.notes)),
        facts,
        tuple(d for _, r in named for d in r.details),
        tuple(envs),
    )
