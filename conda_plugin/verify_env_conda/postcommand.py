"""Fallback for conda without post-transaction actions (before 25.5): a snapshot of the prefix
before the command and another after it, compared, then verified by the core's one scope rule.

A post-command hook fires only when the command succeeded, but also on ``--dry-run`` and on
"All requested packages already installed": an empty change is therefore not verified at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verify_env.session import Outcome, Session
    from verify_env.transaction.snapshot import Snapshot

__all__ = ["COMMANDS", "CommandWatch"]

#: The commands that change a prefix.
COMMANDS = frozenset({"install", "create", "update", "upgrade", "remove", "uninstall"})


class CommandWatch:
    """Remembers one prefix's snapshot between the pre- and the post-command hook."""

    def __init__(self) -> None:
        self._before: dict[str, Snapshot] = {}

    def before(self, prefix: str) -> None:
        """Take the snapshot before the command (an absent prefix: ``conda create``)."""
        import os

        from verify_env.target.model import resolve_target
        from verify_env.transaction.snapshot import Snapshot

        if not os.path.isdir(prefix):
            self._before[prefix] = Snapshot()
            return
        self._before[prefix] = Snapshot.take(resolve_target(prefix=prefix))

    def after(self, session: Session, prefix: str) -> Outcome | None:
        """Verify what changed since `before`; None when nothing did (or no snapshot)."""
        import os

        from verify_env.transaction.snapshot import Change, Snapshot

        old = self._before.pop(prefix, None)
        if old is None or not os.path.isdir(prefix):
            return None
        target = session.target(prefix=prefix)
        change = Change.between(old, Snapshot.take(target))
        if change.empty:
            return None
        return session.run(target, change=change)
