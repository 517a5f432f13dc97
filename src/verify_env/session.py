"""One run, the same for every front door.

settings -> target -> inventory -> scope -> checks -> accepted findings -> report -> exit status.
``verify-env``, ``conda verify``, the conda transaction hooks and doctor check, pipv after an
install and ``pipv verify`` / ``pipv repair`` all run through a `Session`; a front door only says
where its settings come from (command line, ``.condarc``, pyproject.toml …) and how to print the
`Outcome`. So an option reaches every door at once, and the doors cannot disagree on a verdict.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from verify_env.checks import DEFAULT_CHECKS, parse_checks
from verify_env.checks.interface import Options, ProgressFn
from verify_env.gcpolicy import few_collections
from verify_env.report import Report
from verify_env.settings.config import Settings
from verify_env.target.model import Target, start_target

# Imported by the front doors only when they are about to verify: these stay out of pipv's
# first milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from verify_env.cache.statcache import StatCache
    from verify_env.inventory import Inventory
    from verify_env.settings.accept import Acceptance
    from verify_env.transaction.snapshot import Change

__all__ = ["TRANSACTION_CHECKS", "Outcome", "Session"]

# After a transaction: the default checks but ``paths``. What shadows a module depends on the
# working directory and PYTHONPATH of whoever runs Python later, not on what was installed, and
# judging it from the installer's own working directory costs a third of the time for nothing.
# ``imports`` runs package code: never after an install unless configured checks name it
# outright (then it is still left out here: see `Session.checks`).
TRANSACTION_CHECKS: tuple[str, ...] = tuple(c for c in DEFAULT_CHECKS if c != "paths")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run found, with what the settings accept already marked."""

    report: Report
    """The report, accepted findings marked (``summary.accepted``)."""
    status: int
    """The exit status it implies: 0 whole, 1 error findings (warnings too under strict)."""
    changed: int = 0
    """Distributions in scope because the transaction changed them (0 for a full run)."""
    affected: int = 0
    """Distributions in scope because the change could break them."""
    notes: tuple[str, ...] = ()
    """Facts about the run beside the findings, one line each (a baseline written, damage
    shared through hard links, a stat cache that could not be used …)."""


class Session:
    """The settings of one front-door invocation, and the runs made with them.

    Raises `verify_env.errors.UsageError` at once for settings that cannot work (an unknown
    check, a baseline that cannot be read), before any interpreter is probed."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        transaction: bool = False,
        progress: ProgressFn | None = None,
        write_baseline: str | None = None,
    ) -> None:
        self.settings = settings if settings is not None else Settings()
        self.transaction = transaction
        self.progress = progress
        self.write_baseline = write_baseline
        s = self.settings
        self.checks = self._checks(transaction)
        self.options = Options(
            strict=s.strict,
            blas_probe=s.blas_probe,
            import_timeout=s.import_timeout if s.import_timeout is not None else 30.0,
            import_env=s.import_env,
        )
        self.acceptance: Acceptance | None = None
        self._caches: dict[int, tuple[Inventory, StatCache]] = {}
        if s.ignore or s.baseline is not None or write_baseline:
            from verify_env.settings.accept import Acceptance

            baseline = None if write_baseline else s.read_baseline()  # bad: UsageError now
            self.acceptance = Acceptance(tuple(s.ignore), baseline)

    def _checks(self, transaction: bool) -> tuple[str, ...]:
        """The configured checks (``--checks``, ``checks =``), else the default ones; after a
        transaction only those of them in `TRANSACTION_CHECKS`."""
        configured = parse_checks(self.settings.checks) if self.settings.checks else None
        if not transaction:
            return configured or DEFAULT_CHECKS
        return tuple(c for c in configured or TRANSACTION_CHECKS if c in TRANSACTION_CHECKS)

    @property
    def cache_dir(self) -> str:
        """Where the stat cache lives: the settings' (``VERIFY_ENV_CACHE_DIR``), else the user
        cache dir — never a variable the settings did not read (``--isolated``)."""
        from verify_env.cache.location import user_cache_dir

        return self.settings.cache_dir or user_cache_dir()

    @property
    def strict(self) -> bool:
        return self.settings.strict

    def start(self, python: str | None = None, prefix: str | None = None) -> Callable[[], Target]:
        """Start describing the target (another interpreter is probed in a subprocess while
        the caller goes on); the result waits for it, importing the engine and the selected
        checks first: the imports (~40 ms) and the probe (~40 ms) overlap on two cores."""
        pending = start_target(python, prefix)

        def target() -> Target:
            self._import_engine()
            return pending()

        return target

    @few_collections
    def _import_engine(self) -> None:
        """The modules a run will import, imported now (a no-op the second time)."""
        import importlib

        from verify_env.checks import by_name

        importlib.import_module("verify_env.verify")
        checks = by_name()
        for name in self.checks:
            importlib.import_module(checks[name].module)

    def target(self, python: str | None = None, prefix: str | None = None) -> Target:
        return self.start(python, prefix)()

    def announcement(self) -> str | None:
        """The line every front door prints before a run that executes the environment's own
        code (issue 18, §11): ``imports`` imports its modules, ``--blas-probe`` calls its
        BLAS libraries. None when nothing of it runs."""
        from verify_env.settings.config import IMPORT_ENV

        parts = []
        if "imports" in self.checks:
            parts.append(
                "--checks imports imports its modules in a separate session with a scrubbed "
                f"environment ({IMPORT_ENV} passes named variables)"
            )
        if self.options.blas_probe and "linkage" in self.checks:
            parts.append("--blas-probe calls its BLAS libraries in a separate session")
        if not parts:
            return None
        return (
            "verify-env: this verification runs the environment's own code: "
            + "; ".join(parts)
            + "; each killed whole at the end"
        )

    def run_root(self, root: str, python: str | None = None) -> Outcome:
        """Verify the environments of the image unpacked at ``root`` (issue 21): the one
        ``python`` names (a path inside the image), else every one `discover` finds. Their
        facts come from files (`verify_env.target.static`), every path is resolved inside the
        image, and nothing of it runs: the checks that would (``imports``, ``--blas-probe``)
        are left out with a note saying so."""
        import os

        from verify_env.errors import ProbeError, UsageError
        from verify_env.loader.rootfs import RootFS
        from verify_env.report import merged
        from verify_env.target.discover import MAX_ENVIRONMENTS, discover
        from verify_env.target.model import static_target, unusable_target

        if not os.path.isdir(root):
            raise UsageError(f"--root {root!r}: not a directory")
        fs = RootFS(root)
        notes: list[str] = []
        if python is not None:
            pythons = [python]
        else:
            pythons, cut = discover(fs)
            if not pythons:
                raise UsageError(f"--root {root!r}: no Python environment found in it")
            if cut:
                notes.append(
                    f"--root: the search for environments stopped at its bound "
                    f"(at most {MAX_ENVIRONMENTS}); name one with --python PATH-IN-ROOT"
                )
        checks = self.checks
        if "imports" in checks:
            checks = tuple(c for c in checks if c != "imports")
            notes.append(
                "imports: cannot run in --root mode: it imports the image's packages with its "
                "interpreter, which runs the image's code (and may be built for another machine)"
            )
        options = self.options
        if options.blas_probe:
            import dataclasses

            options = dataclasses.replace(options, blas_probe=False)
            notes.append(
                "--blas-probe: cannot run in --root mode: it calls the image's BLAS libraries "
                "in a process of the image's interpreter"
            )
        from verify_env.verify import verify

        named: list[tuple[str, Report]] = []
        for exe in pythons:
            try:
                target = static_target(fs.root, exe)
            except ProbeError as exc:
                if python is not None:
                    raise
                target = unusable_target(fs.root, exe, str(exc))
            report = verify(
                target,
                checks,
                jobs=self.settings.jobs,
                use_cache=not self.settings.no_cache,
                progress=self.progress,
                options=options,
            )
            named.append((fs.inner(target.prefix), report))
        if not named:
            raise UsageError(
                f"--root {root!r}: no environment in it could be described: {notes[-1]}"
            )
        return self._outcome(merged(named, tuple(notes)))

    def run(
        self,
        target: Target,
        *,
        change: Change | None = None,
        also: Iterable[str] = (),
        inventory: Inventory | None = None,
    ) -> Outcome:
        """Verify ``target``: everything, or — given the ``change`` a transaction made (and
        ``also``, keys the front door knows are affected) — what changed and what that could
        break, by the one rule `verify_env.transaction.scope.scope_of`."""
        from verify_env.verify import verify

        also = frozenset(also)
        line = self.announcement()
        if line is not None:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        if change is None and not also:
            report = verify(
                target,
                self.checks,
                jobs=self.settings.jobs,
                use_cache=not self.settings.no_cache,
                progress=self.progress,
                options=self.options,
                inventory=inventory,
                cache_dir=self.cache_dir,
                cache=self._cache_of(inventory),
            )
            return self._outcome(report)
        from verify_env.transaction.scope import scope_of
        from verify_env.transaction.snapshot import Change

        inventory = inventory if inventory is not None else self.inventory(target)
        change = change if change is not None else Change(frozenset(), frozenset(), frozenset())
        scope = scope_of(change, inventory, also)
        report = verify(
            target,
            self.checks,
            scope=scope,
            jobs=self.settings.jobs,
            use_cache=not self.settings.no_cache,
            progress=self.progress,
            options=self.options,
            inventory=inventory,
            cache_dir=self.cache_dir,
            cache=self._cache_of(inventory),
        )
        in_scope = {d.key for d in inventory.distributions if scope.includes(d)}
        changed = len((change.touched | also) & in_scope)
        return self._outcome(report, changed, len(in_scope) - changed)

    def _cache_of(self, inventory: Inventory | None) -> StatCache | None:
        """The stat cache `Session.inventory` built ``inventory`` with (None: the engine loads
        its own)."""
        held = self._caches.pop(id(inventory), None) if inventory is not None else None
        return held[1] if held is not None and held[0] is inventory else None

    def inventory(self, target: Target) -> Inventory:
        """The target's inventory, its parsed records taken from the stat cache (unless
        ``no-cache``): what a front door builds once, for the scope and the verification."""
        from verify_env.cache.statcache import StatCache, cache_path_for
        from verify_env.inventory import build_inventory

        path = None if self.settings.no_cache else cache_path_for(target.prefix, self.cache_dir)
        cache = StatCache(path).load()
        inventory = build_inventory(target, cache=cache)
        # `run` hands it to the engine, which saves it with the parsed records it remembers
        self._caches[id(inventory)] = (inventory, cache)
        return inventory

    def _outcome(self, report: Report, changed: int = 0, affected: int = 0) -> Outcome:
        notes: list[str] = []
        if self.write_baseline:
            from verify_env.settings import accept

            rules = accept.apply(report, self.acceptance.rules if self.acceptance else ())
            count = accept.write_baseline(report, self.write_baseline)
            notes.append(f"{self.write_baseline}: accepted {count} finding(s)")
            notes += accept.refused_notes(rules)  # what no rule took either
            report = accept.accept_all(rules, f"baseline {self.write_baseline} (written now)")
        elif self.acceptance is not None:
            report = self.acceptance.apply(report)
        from verify_env.repair.plan import shared_damage

        notes += shared_damage(report)
        return Outcome(
            report, report.exit_status(self.settings.strict), changed, affected, tuple(notes)
        )
