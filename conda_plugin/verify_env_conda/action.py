"""The post-transaction action: refuse damaged package-cache files before linking, verify the
prefix after linking.

conda constructs the action class positionally with ``(transaction_context, target_prefix,
unlink_precs, link_precs, remove_specs, update_specs, neutered_specs)`` and calls ``verify()``
in "Verifying transaction" (before anything is linked: a returned exception refuses the
transaction and nothing changes) and ``execute()`` after linking, with conda-meta written (an
exception rolls the whole transaction back: ``reverse()`` is called, ``cleanup()`` is not).

`TransactionCheck` holds the logic and needs no conda; `hooks.py` mixes it with conda's
``Action`` base. Our own failures never refuse or roll back a transaction: they print one line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from verify_env_conda.mode import DEFAULT_MODE, Mode
from verify_env_conda.records import PackageRef

if TYPE_CHECKING:
    from verify_env.target.model import Target
    from verify_env_conda.clobber import Clobber, LinkedFiles

__all__ = ["TransactionCheck", "TransactionRefused"]


class TransactionRefused(Exception):
    """What `TransactionCheck` returns from ``verify()`` or raises from ``execute()``; conda's
    side replaces it with a ``CondaError`` subclass so conda prints the message, not a
    traceback."""


class TransactionCheck:
    """verify-env's part of one conda transaction on one prefix."""

    #: Where the package cache lives (conda: ``context.pkgs_dirs``).
    pkgs_dirs: Sequence[str] = ()
    #: The exception type to return or raise.
    error: type[Exception] = TransactionRefused
    #: Where the findings go (conda's stderr under ``--json``).
    stream: TextIO | None = None
    #: conda's ``context.plugins`` (``verify_env_ignore``, ``verify_env_baseline``), if any.
    plugins: object = None
    #: conda's ``context.rollback_enabled``: whether an exception from `execute` undoes the
    #: transaction (the message must say what conda really does).
    rollback_enabled: bool = True

    _verified = False
    #: What the pre-link check found that linking would overwrite (warn mode links anyway).
    prelink_clobbers: Sequence[Clobber] = ()
    #: conda's ``--clobber``: the user asked to overwrite other packages' files.
    allow_clobber: bool = False
    #: What each linked package links (`verify_env_conda.clobber.linked_files`), once read.
    linked_files: LinkedFiles | None = None
    #: The prefix's description, started in `verify` (`_start_target`), waited for in
    #: `execute`.
    pending_target: Callable[[], Target] | None = None
    #: conda's ``--json``: one JSON line per verification on `stream` (`jsonline`).
    json_lines: bool = False

    def __init__(
        self,
        transaction_context: Any = None,
        target_prefix: str | None = None,
        unlink_precs: Iterable[object] | None = None,
        link_precs: Iterable[object] | None = None,
        remove_specs: object = None,
        update_specs: object = None,
        neutered_specs: object = None,
        *,
        mode: Mode | None = None,
    ) -> None:
        self.transaction_context = transaction_context
        self.target_prefix = target_prefix
        self.unlink_precs = list(unlink_precs or ())
        self.link_precs = list(link_precs or ())
        self.remove_specs = remove_specs
        self.update_specs = update_specs
        self.neutered_specs = neutered_specs
        self.mode = mode if mode is not None else self.current_mode()
        self.linked = [PackageRef.of(r) for r in self.link_precs]
        self.unlinked = [PackageRef.of(r) for r in self.unlink_precs]
        self.seconds = 0.0
        """Time the last `execute` spent verifying."""

    def current_mode(self) -> Mode:
        """The configured mode; conda's side reads ``context.plugins``."""
        return DEFAULT_MODE

    @property
    def verified(self) -> bool:
        return self._verified

    def _print(self, lines: Iterable[str]) -> None:
        out = self.stream or sys.stdout
        for line in lines:
            print(line, file=out)
        out.flush()

    def verify(self) -> Exception | None:
        """Before linking: every file of every package about to be linked, as extracted in the
        package cache, against its ``paths.json`` sha256; and every path they would link that
        another installed package owns (`verify_env_conda.clobber`). Returns (never raises)
        the refusal."""
        self._verified = True
        if self.mode is Mode.OFF or not self.linked:
            return None
        from verify_env_conda.cache_check import check_cache
        from verify_env_conda.clobber import find_clobbers, linked_files
        from verify_env_conda.present import cache_refusal, clobber_refusal

        failing = self.mode is Mode.FAIL
        try:
            problems = check_cache(self.linked, self.pkgs_dirs)
            clobbers = []
            if self.target_prefix:
                self.linked_files = linked_files(self.target_prefix, self.linked, self.pkgs_dirs)
                clobbers = find_clobbers(self.target_prefix, self.linked_files, self.unlinked)
        except Exception as exc:  # our own failure: never refuse a transaction for it
            self._print(
                [
                    "verify-env: could not check the packages before linking: "
                    f"{type(exc).__name__}: {exc}"
                ]
            )
            return None
        self.prelink_clobbers = clobbers
        clobbers, accepted = self._unaccepted(clobbers)
        if accepted:
            self._print(accepted)
        # `conda install --clobber` asks for exactly this overwrite: reported, not refused
        refused = failing and bool(problems or (clobbers and not self.allow_clobber))
        if not refused:
            try:
                self._start_target()
            except Exception:  # `execute` describes the prefix itself, and says why not
                self.pending_target = None
        if not problems and not clobbers:
            return None
        messages = [cache_refusal(problems, refused=refused)] if problems else []
        if clobbers:
            allowed = "conda's --clobber" if failing and self.allow_clobber else None
            messages.append(clobber_refusal(clobbers, refused=refused, allowed_by=allowed))
        if self.json_lines:
            from verify_env_conda.jsonline import before_link

            self._print([before_link(problems, clobbers, refused)])
        if refused:
            return self.error("\n".join(messages))
        self._print("\n".join(messages).splitlines())
        return None

    def _unaccepted(self, clobbers: list[Clobber]) -> tuple[list[Clobber], list[str]]:
        """The clobbers no ``--ignore`` rule or baseline of the settings accepts (the rules
        every door applies after linking: `verify_env.settings.accept`), and a line for each
        one that is. The settings are read only when there is a clobber to judge."""
        if not clobbers or self.target_prefix is None:
            return clobbers, []
        import os

        from verify_env.finding import Finding, Severity
        from verify_env_conda.settings import transaction_session

        acceptance = transaction_session(self.plugins, self.stream).acceptance
        if acceptance is None:
            return clobbers, []
        kept, notes = [], []
        for c in clobbers:
            why = acceptance.accepts(
                Finding(
                    "record",
                    "file-conflict",
                    Severity.ERROR,
                    c.package.name,
                    c.package.version,
                    "conda",
                    c.path,
                    c.message,
                    location=os.path.join(self.target_prefix, c.path),
                )
            )
            if why is None:
                kept.append(c)
            else:
                notes.append(f"verify-env: {c.message} (accepted: {why})")
        return kept, notes

    def _start_target(self) -> None:
        """Describe the prefix now, while conda links: from conda's records when they suffice
        (`verify_env_conda.static_target`: no interpreter starts at all), else by starting
        the probe, which then runs beside the linking — unless the transaction changes what
        the probe would see (python itself, a ``.pth``)."""
        import os

        from verify_env_conda.static_target import records_suffice, target_from_records

        prefix = self.target_prefix
        if not prefix or not os.path.isdir(os.path.join(prefix, "conda-meta")):
            return
        if self.linked_files is not None and records_suffice(
            self.linked, self.unlinked, self.linked_files
        ):
            target = target_from_records(prefix)
            if target is not None:
                self.pending_target = lambda: target
                return
        changes_probe = any(
            r.name in ("python", "pypy", "pypy3") or any(p.endswith(".pth") for p in r.files)
            for r in self.unlinked
        ) or any(
            r.name in ("python", "pypy", "pypy3") or any(p.endswith(".pth") for p in paths)
            for r, (_, paths) in (self.linked_files or {}).items()
        )
        if changes_probe or len(self.linked_files or {}) < len(self.linked):
            return
        from verify_env.target.interpreter import interpreter_in
        from verify_env.target.model import start_target

        if interpreter_in(prefix) is not None:
            self.pending_target = start_target(prefix=prefix)

    def execute(self) -> None:
        """After linking: verify the transaction's scope; in ``fail`` mode an error finding
        raises, and conda rolls the transaction back. So does a prefix that cannot be verified
        at all (its interpreter fails to describe itself): ``fail`` never passes unverified."""
        if self.mode is Mode.OFF or not self.target_prefix:
            return
        from verify_env.errors import ProbeError, VerifyEnvError
        from verify_env_conda.present import (
            outcome_lines,
            rollback_message,
            unverified_message,
        )
        from verify_env_conda.settings import transaction_session
        from verify_env_conda.transaction import verify_transaction

        started = time.perf_counter()
        session = transaction_session(self.plugins, self.stream)
        failing = self.mode is Mode.FAIL
        try:
            overwritten = [c.owner_key for c in self.prelink_clobbers if c.owner_key]
            pending, self.pending_target = self.pending_target, None
            target = pending() if pending else None
            outcome = verify_transaction(
                session, self.target_prefix, self.linked, self.unlinked, overwritten, target
            )
        except (VerifyEnvError, OSError) as exc:
            # A probe failure is the environment's (its python does not start): fail mode must
            # not let it pass. Anything else is ours, and never stops conda.
            refuse = failing and isinstance(exc, ProbeError)
            text = unverified_message(self.target_prefix, exc, refuse, self.rollback_enabled)
            if self.json_lines:
                from verify_env_conda.jsonline import could_not_verify

                self._print([could_not_verify(str(exc), refuse and self.rollback_enabled)])
            if refuse:
                raise self.error(text) from None
            self._print([text])
            return
        finally:
            self.seconds = time.perf_counter() - started
        rolled_back = failing and bool(outcome.status)
        if self.json_lines:
            from verify_env_conda.jsonline import after_link

            self._print([after_link(outcome, rolled_back and self.rollback_enabled)])
        if rolled_back:
            raise self.error(rollback_message(outcome, self.rollback_enabled))
        self._print(outcome_lines(outcome))

    def _drop_pending(self) -> None:
        """Wait for a probe started in `verify` that `execute` did not use."""
        pending, self.pending_target = self.pending_target, None
        if pending is not None:
            try:
                pending()
            except Exception:  # its answer is not wanted any more
                pass

    def reverse(self) -> None:
        """Nothing to undo: verification never writes the prefix."""
        self._drop_pending()

    def cleanup(self) -> None:
        """Nothing to clean up but a probe nobody waited for."""
        self._drop_pending()
