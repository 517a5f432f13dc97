"""One run, the same for every front door.

settings -> target -> inventory -> scope -> checks -> accepted findings -> report -> exit status.
``verify-env``, ``conda verify``, the conda transaction hooks and doctor check, pipv after an
install and ``pipv verify`` / ``pipv repair`` all run through a `Session`; a front door only says
where its settings come from (command line, ``.condarc``, pyproject.toml …) and how to print the
`Outcome`. So an option reaches every door at once, and the doors cannot disagree on a verdict.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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
    from verify_env.cache.observer import Observation
    from verify_env.cache.statcache import StatCache
    from verify_env.cache.verdict import Candidate
    from verify_env.inventory import Inventory
    from verify_env.settings.accept import Acceptance
    from verify_env.transaction.scope import Scope
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
        self._verdict: str | None = None
        """Where the verdict of a full run of the target `start` named is stored (None: not
        stored: ``--no-cache``, or checks that run the environment's code)."""
        self._recalled: tuple[Target, Candidate | str, float] | None = None
        """The target `start` gave, what `verdict.recall` said of its stored verdict, and when
        the run began."""
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
        started = time.perf_counter()
        pending = start_target(python, prefix)
        recalled: Candidate | str | None = None
        if self._replayable:
            from verify_env.cache.verdict import recall, request_path

            self._verdict = request_path(self.cache_dir, python, prefix, os.environ)
            recalled = recall(self._verdict)  # the paths are stat'ed while the probe runs

        def target() -> Target:
            from verify_env.cache.verdict import Candidate

            if not isinstance(recalled, Candidate):
                self._import_engine()
            got = pending()
            if recalled is not None:
                self._recalled = (got, recalled, started)
            return got

        return target

    @property
    def _replayable(self) -> bool:
        """Whether a full run's verdict may be stored and replayed: not after a transaction,
        not under ``--no-cache``, nor when it runs the environment's code (its outcome is not
        a function of files)."""
        s = self.settings
        if self.transaction:  # its runs are scoped (a full one is rare): no stat of it all
            return False
        return not s.no_cache and "imports" not in self.checks and not self.options.blas_probe

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
        also = frozenset(also)
        line = self.announcement()
        if line is not None:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        if change is None and not also:
            recalled, self._recalled = self._recalled, None
            replayed, why = self._replay(target, recalled) if inventory is None else (None, None)
            if replayed is not None:
                return self._outcome(replayed)
            observe = self._verdict is not None and inventory is None and target.root is None
            with self._observing(observe) as seen:
                started = time.time_ns()
                report = self._verify(target, None, inventory)
            if seen is not None:
                report = self._store(target, report, seen, started, why)
            return self._outcome(report)
        from verify_env.transaction.scope import scope_of
        from verify_env.transaction.snapshot import Change

        inventory = inventory if inventory is not None else self.inventory(target)
        change = change if change is not None else Change(frozenset(), frozenset(), frozenset())
        scope = scope_of(change, inventory, also)
        report = self._verify(target, scope, inventory)
        in_scope = {d.key for d in inventory.distributions if scope.includes(d)}
        changed = len((change.touched | also) & in_scope)
        return self._outcome(report, changed, len(in_scope) - changed)

    def _verify(self, target: Target, scope: Scope | None, inventory: Inventory | None) -> Report:
        """The engine, with this session's settings."""
        from verify_env.verify import verify

        return verify(
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

    def _replay(
        self, target: Target, recalled: tuple[Target, Candidate | str, float] | None
    ) -> tuple[Report | None, str | None]:
        """The stored verdict as this run's report, if every path it read holds (`start`
        checked) and it was judged with everything else as now; else (None, why not)."""
        from verify_env.cache.verdict import Candidate, run_key

        if recalled is None or recalled[0] is not target:
            return None, None
        _, candidate, started = recalled
        if not isinstance(candidate, Candidate):
            return None, candidate
        if candidate.key != run_key(target, self.checks, self.options):
            return None, "the target, settings or verify-env changed since it was stored"
        from verify_env.cache.verdict import unpack_findings
        from verify_env.report import Summary

        checks, packed, (distributions, files), facts, details = candidate.report
        findings, skips = unpack_findings(packed)
        seconds = round(time.perf_counter() - started, 3)
        line = (
            f"verdict: replayed from an earlier run: the {candidate.paths} paths it read are as "
            "they were (--no-cache judges anew); its lines follow"
        )
        return Report(
            target,
            tuple(checks),
            tuple(findings),
            tuple(skips),
            Summary(distributions, files, 0, seconds),
            (),
            dict(facts),
            (line, *details),  # first: the lines after it are the stored run's
        ), None

    @contextmanager
    def _observing(self, on: bool) -> Iterator[Observation | None]:
        """What the run reads, observed (`verify_env.cache.observer`) when ``on``; never the
        cache dir, which the run itself writes."""
        if not on:
            yield None
            return
        from verify_env.cache.observer import observing

        with observing((os.path.join(os.path.abspath(self.cache_dir), ""),)) as seen:
            yield seen

    def _store(
        self, target: Target, report: Report, seen: Observation, started: int, why: str | None
    ) -> Report:
        """Store ``report`` as the verdict of the target `start` named, if it may be (see
        `verify_env.cache.verdict`); the report with a ``--verbose`` line on its replay."""
        from verify_env.cache.verdict import run_key, store

        assert self._verdict is not None
        if report.notes:
            not_stored: str | None = "the stat cache had problems (see the notes)"
        elif report.skips:  # a timeout, a helper that died: what was not judged stays open
            not_stored = "something could not be judged (see the skips)"
        else:
            not_stored = store(
                self._verdict,
                run_key(target, self.checks, self.options),
                seen,
                started,
                report.checks,
                report.findings,
                report.skips,
                (report.summary.distributions, report.summary.files),
                report.facts,
                report.details,
            )
        lines = [f"verdict: judged in full: {why}"] if why else []
        if not_stored:
            lines.append(f"verdict: not stored for a replay: {not_stored}")
        return dataclasses.replace(report, details=(*report.details, *lines)) if lines else report

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
