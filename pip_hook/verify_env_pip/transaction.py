"""One pip transaction, bracketed: snapshot, pip, snapshot, verify the difference."""

from __future__ import annotations

import os
import sys
import threading

from verify_env.transaction.snapshot import Change, Snapshot
from verify_env_pip.journal import Journal
from verify_env_pip.pip_args import PipCommand
from verify_env_pip.runner import run_pip

# Until pip starts, only the snapshot and the journal are needed; the core (inventory readers,
# the target probe, the checks: ~70 ms of imports) is imported by a thread while pip runs.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from verify_env.session import Outcome, Session
    from verify_env.settings.config import Settings
    from verify_env.target.model import Target
    from verify_env_pip.runner import HeldPip

__all__ = ["run_transaction"]


def _say(message: str) -> None:
    print(f"pipv: {message}", file=sys.stderr, flush=True)


def _target(python: str, explicit: bool) -> Target:
    from verify_env.target.model import resolve_target

    if not explicit and python == sys.executable:
        return resolve_target()  # described in-process: no probe subprocess
    return resolve_target(python)


def _session(settings: Settings) -> Session:
    """The session of a transaction: imported after pip started (the core's imports overlap
    pip's run); on a terminal, with the progress bar of every phase longer than a second."""
    from verify_env.session import Session

    progress = None
    if sys.stderr.isatty():
        from verify_env.render.progress import ProgressBar

        progress = ProgressBar()
    return Session(settings, transaction=True, progress=progress)


def _done(session: Session) -> None:
    """The progress line erased before the report is printed."""
    close = getattr(session.progress, "close", None)
    if close is not None:
        close()


def _everything(outcome: Outcome) -> Outcome:
    """A full run after an interrupted transaction: every distribution counts as affected."""
    import dataclasses

    return dataclasses.replace(outcome, affected=outcome.report.summary.distributions)


def _show(outcome: Outcome, settings: Settings) -> int:
    from verify_env.render import OutputFormat, render

    report = outcome.report
    failed = outcome.status != 0
    verdict = (
        "OK"
        if not report.errors
        else f"{report.errors} error" + ("s" if report.errors != 1 else "")
    )
    if failed and not report.errors:
        verdict = f"{report.warnings} warning(s) (strict)"
    if report.accepted:
        verdict += f", {report.accepted} accepted"
    if report.findings:
        sys.stderr.write(
            render(
                report,
                OutputFormat.TEXT,
                strict=settings.strict,
                color=sys.stderr.isatty() and "NO_COLOR" not in os.environ,
            )
        )
    for note in (*report.notes, *outcome.notes):
        _say(note)
    _say(
        f"verified {outcome.changed} changed + {outcome.affected} affected distributions: {verdict}"
    )
    if failed and settings.on_error == "warn":
        _say(f"on-error = warn ({settings.origins.get('on_error')}): keeping pip's exit status")
        return 0
    return 1 if failed else 0


def _import_checks() -> None:
    """Import what verification will need while pip runs (~0.15 s of imports that would
    otherwise follow pip's last line)."""
    import importlib

    for name in (
        "verify_env.session",
        "verify_env.verify",
        "verify_env.inventory",
        "verify_env.render.text",
        *(f"verify_env.checks.{c}" for c in ("record", "tags", "requirements")),
        "verify_env.checks.linkage.check",
    ):
        try:
            importlib.import_module(name)
        except Exception:  # the real import, later, reports it
            return


class _Prepared:
    """The target, described in a thread while pip runs when pipv verifies its own
    interpreter (~50 ms of probing and imports off the critical path)."""

    def __init__(self, python: str, explicit: bool) -> None:
        self.target: Target | None = None
        self._thread: threading.Thread | None = None
        self.here = not explicit and python == sys.executable
        self.executable: str | None
        if self.here:
            from verify_env.target.model import site_dirs_here

            self.prefix, self.executable = sys.prefix, sys.executable
            self.site_dirs = site_dirs_here()
        else:
            self.target = _target(python, explicit)
            self.prefix, self.executable = self.target.prefix, self.target.executable
            self.site_dirs = self.target.site_dirs

    def snapshot(self) -> Snapshot:
        return Snapshot.of(self.prefix, self.executable, self.site_dirs)

    def start(self) -> None:
        def work() -> None:
            from verify_env.target.model import resolve_target

            if self.target is None:
                self.target = resolve_target()
            _import_checks()

        self._thread = threading.Thread(target=work, daemon=True)
        self._thread.start()

    def finish(self) -> Target:
        """Wait for the thread (before any fork: the hashing workers fork only without
        other threads) and return the target."""
        if self._thread is not None:
            self._thread.join()
        if self.target is None:
            from verify_env.target.model import resolve_target

            self.target = resolve_target()
        return self.target


def run_transaction(
    python: str, cmd: PipCommand, settings: Settings, held: HeldPip | None = None
) -> int:
    """``held``: pip already started and waiting (it runs only when told to, after the
    snapshot and the journal entry)."""
    prepared = _Prepared(python, cmd.python is not None)
    journal = Journal.for_python(python)
    interrupted = journal.interrupted()
    before = prepared.snapshot()
    if os.path.isdir(os.path.join(prepared.prefix, "conda-meta")) and not cmd.allow_conda_overwrite:
        from verify_env.inventory import build_inventory
        from verify_env_pip.conda_guard import would_replace

        refused = would_replace(python, cmd, build_inventory(prepared.finish()))
        if refused:
            for message in refused:
                _say(message)
            _say(
                "refusing: pip would overwrite files conda manages, and conda-meta would no "
                "longer tell the truth. Pass --allow-conda-overwrite to let pip through "
                "(verification will then report the clobbered files)."
            )
            if held is not None:
                held.cancel()
            return 1
    noted = journal.begin(cmd.args, frozenset(p for p in before.layout if _stashed(p)))
    prepared.start()
    status = held.go(report=noted) if held is not None else run_pip(python, cmd.args)
    target = prepared.finish()
    after = prepared.snapshot()
    change = Change.between(before, after)
    if status != 0:
        if change.empty:
            journal.end()
            _say(f"pip exited with status {status}; nothing changed, nothing to verify")
        else:
            cut = journal.interrupt()
            what = f" ({cut.what})" if cut is not None else ""
            _say(
                f"pip exited with status {status} after changing the environment: the "
                f"transaction was cut short{what}. `pipv repair` finishes it and verifies "
                "again; `pipv verify` shows what is there now."
            )
        if interrupted is not None:
            _say(interrupted.note())
        return status
    session = _session(settings)
    if interrupted is not None:
        _say(interrupted.note() + ": verifying everything")
        outcome = _everything(session.run(target))
        if outcome.status == 0:
            journal.finished()
    elif change.empty:
        journal.end()
        return 0
    else:
        outcome = session.run(target, change=change)
    _done(session)
    journal.end()
    return _show(outcome, settings)


def _stashed(path: str) -> bool:
    """A site-dir entry named as pip names what it stashes while it uninstalls."""
    return os.path.basename(path).startswith("~")
