"""The report: findings, skips and a summary, and the exit status they imply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from verify_env.finding import Finding, Severity, Skip
from verify_env.target.model import Target

__all__ = ["EXIT_ERRORS", "EXIT_OK", "EXIT_USAGE", "Report", "Summary"]

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
