"""What a check is: a named pure function from the verification context to findings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from verify_env.finding import Finding, Severity, Skip

# Types only: the registry (`verify_env.checks`) and the session import this module before the
# target's probe is waited for, so what it needs at run time stays small (the inventory, the
# stat cache and the target's model are imported by the engine, while the probe runs).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from verify_env.cache.statcache import StatCache
    from verify_env.inventory import Distribution, Inventory
    from verify_env.target.model import Target
    from verify_env.transaction.scope import Scope

__all__ = [
    "Check",
    "CheckResult",
    "Context",
    "Deferred",
    "Options",
    "Preparation",
    "Start",
    "dist_finding",
]


def dist_finding(
    check: str,
    dist: Distribution,
    code: str,
    path: str | None,
    message: str,
    severity: Severity = Severity.ERROR,
    hint: str | None = None,
) -> Finding:
    """A finding about one distribution: its name, version and installer, and its own repair
    (`Distribution.hint`) unless the finding has a better one."""
    return Finding(
        check,
        code,
        severity,
        dist.name,
        dist.version,
        dist.installer,
        path,
        message,
        hint if hint is not None else dist.hint,
    )


ProgressFn = Callable[[str, int, int, int, int], None]
"""(phase, files done, files total, bytes done, bytes total)."""


@dataclass(frozen=True, slots=True)
class Options:
    """What the user asked of the checks beyond which ones run."""

    strict: bool = False
    """``--strict``: warnings fail too."""
    blas_probe: bool = False
    """``--blas-probe``: run a numeric probe of each BLAS/LAPACK provider in a subprocess."""
    import_timeout: float = 30.0
    """``--import-timeout``: seconds one module's import may take before it is a finding."""
    import_env: tuple[str, ...] = ()
    """Names of further environment variables imported package code may see
    (``VERIFY_ENV_IMPORT_ENV``, through the settings: ``--isolated`` drops it)."""


@dataclass(frozen=True, slots=True)
class Start:
    """What a check may start work on before the inventory is complete."""

    target: Target
    scope: Scope
    cache: StatCache
    jobs: int
    report_progress: bool
    """Whether a progress callback will be asked for."""


class Preparation(Protocol):
    """Work a check started early (the record check's hashing): it sees each distribution as
    soon as the inventory has read it; the check takes the results from `Context.prepared`."""

    def feed(self, dist: Distribution) -> None: ...

    def abort(self) -> None:
        """Stop whatever is left (a no-op once the check has taken the results)."""


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a check may read. Checks print nothing and exit nothing."""

    target: Target
    """The interpreter and prefix verified."""
    inventory: Inventory
    """What is installed."""
    scope: Scope
    """What to look at."""
    jobs: int
    """Worker processes for hashing."""
    cache: StatCache
    """Digests remembered from earlier runs (disabled under ``--no-cache``)."""
    progress: ProgressFn | None = None
    """Progress callback for long phases, or None."""
    options: Options = field(default_factory=Options)
    """Options of the run."""
    prepared: Mapping[str, Preparation] = field(default_factory=dict)
    """Check name -> the work it started through its ``prepare`` before the inventory was
    complete; the check that owns it knows its type."""


@dataclass(slots=True)
class CheckResult:
    """What one check found, could not judge, and how much it read."""

    findings: list[Finding] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    files: int = 0
    bytes_hashed: int = 0
    facts: dict[str, object] = field(default_factory=dict)
    """Sections for the report's ``environment`` (``blas``: provider per consumer); JSON-able."""
    details: list[str] = field(default_factory=list)
    """Lines for ``--verbose`` text output (e.g. where the static loader and ld.so disagree)."""


Deferred = Callable[[], CheckResult]
"""A check that started background work (hashing) returns this; calling it waits and finishes,
so the checks after it run while the workers hash."""


@dataclass(frozen=True, slots=True)
class Check:
    """A registry entry (``checks/__init__.py``)."""

    name: str
    """The name ``--checks`` takes; the ``check`` of its codes in `verify_env.finding.CODES`."""
    module: str
    """The module holding ``run(ctx)``, imported when the check runs."""
    default: bool = True
    """Whether it runs without ``--checks``."""

    @property
    def codes(self) -> tuple[str, ...]:
        """The finding codes it may report."""
        from verify_env.finding import CODES

        return tuple(c.name for c in CODES.values() if c.check == self.name)

    def prepare(self, start: Start) -> Preparation | None:
        """Start the check's early work, if its module has a ``prepare(start)``; None when it
        has none or nothing could be started."""
        import importlib

        module = importlib.import_module(self.module)
        prepare = getattr(module, "prepare", None)
        if prepare is None:
            return None
        prepared: Preparation | None = prepare(start)
        return prepared

    def run(self, ctx: Context) -> CheckResult | Deferred:
        """The check itself."""
        import importlib

        module = importlib.import_module(self.module)
        result: CheckResult | Deferred = module.run(ctx)
        return result
