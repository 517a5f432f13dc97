"""A note, outside the environment, that a pip transaction is under way — and, once pip was
killed in the middle of one, what it was installing.

Written before pip starts and removed once the transaction has been verified. If pip (or pipv
with it) is killed — Ctrl-C, SIGKILL, the OOM killer in a container — the note survives as an
*interrupted* transaction: its command line, the ``~``-prefixed entries the site dirs held
before it (pip's stashes of what it uninstalls are named so; those that appeared since are the
transaction's own leftovers), and pip's own installation report (``pip install --report``, pip
23+), which pip writes after resolving and before it touches the environment: the exact names
and versions being installed, at the cost of one small JSON file and no second resolution.

Every later pipv run says so on stderr (a pass-through command keeps pip's stdout and exit
status); ``pipv repair`` finishes the install to those versions, removes the leftovers, and
verifies again (`verify_env_pip.recover`).
"""

from __future__ import annotations

import os

from verify_env.cache.location import cache_path_for
from verify_env.files import read_regular, replace_atomically

__all__ = ["Interrupted", "Journal"]

_REPORT_LIMIT = 64 << 20  # pip's report of a few hundred packages is well under 1 MB


class Interrupted:
    """A transaction pip never finished, as its note and pip's report tell it."""

    __slots__ = ("args", "installs", "pid", "started", "tildes_before")

    def __init__(
        self,
        args: tuple[str, ...],
        installs: tuple[tuple[str, str], ...] | None,
        tildes_before: frozenset[str],
        pid: int | None,
        started: float | None,
    ) -> None:
        self.args = args
        """pip's command line (the requirement strings among it), as pipv ran it."""
        self.installs = installs
        """(name, version) pip had resolved to install; None when pip wrote no report (pip
        before 23.0, or killed before it had resolved)."""
        self.tildes_before = tildes_before
        """``~``-prefixed site-dir entries present before the transaction: not its own."""
        self.pid = pid
        self.started = started

    @property
    def command(self) -> str:
        return "pip " + " ".join(self.args) if self.args else "an unreadable earlier transaction"

    @property
    def is_install(self) -> bool:
        return "install" in self.args

    @property
    def what(self) -> str:
        """What was being installed, in words."""
        if not self.args:
            return "what it was doing is not known: its note is unreadable"
        if not self.is_install:
            return "an uninstall"
        if self.installs is None:
            return "the versions it was installing are not known (pip wrote no report)"
        if not self.installs:
            return "pip had resolved nothing to install"
        return "it was installing " + ", ".join(f"{n} {v}" for n, v in self.installs)

    def note(self) -> str:
        """The one-line notice every later pipv run prints."""
        return (
            f"an earlier `{self.command}` was interrupted before it finished ({self.what}); "
            "`pipv repair` finishes it, `pipv verify` shows the damage"
        )


class Journal:
    """The notes for one environment prefix: the transaction under way, and one that was
    interrupted.

    A plain class, json imported only when a note is written or found: every pipv command
    looks for the note, and dataclasses and json cost ~12 ms of ``pipv --version`` here."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    @classmethod
    def for_python(cls, python: str) -> Journal:
        """Keyed by the interpreter's path as given (not resolved: every venv's python links
        to the same base interpreter), so finding it needs no probe."""
        return cls(cache_path_for(os.path.abspath(python))[: -len(".bin")] + ".pipv-journal")

    @property
    def report_path(self) -> str:
        """Where pip writes its installation report for the transaction under way."""
        return self.path + ".report.json"

    @property
    def _interrupted_path(self) -> str:
        return self.path[: -len("-journal")] + "-interrupted"

    def begin(self, args: tuple[str, ...], tildes: frozenset[str] = frozenset()) -> bool:
        """Record the transaction about to run; False when it cannot be written (that only
        costs the next run its warning, and pip is then given no report to write)."""
        import json
        import time

        try:
            # the stat cache's dir: 0700, or verify-env will not trust the cache in it
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            try:
                os.unlink(self.report_path)  # an earlier transaction's report is not this one's
            except FileNotFoundError:
                pass
            note = {
                "pid": os.getpid(),
                "args": list(args),
                "started": time.time(),
                "report": self.report_path,
                "tildes": sorted(tildes),
            }
            replace_atomically(self.path, json.dumps(note).encode(), mode=0o600)
        except OSError:
            return False
        return True

    def interrupt(self) -> Interrupted | None:
        """pip was killed during the transaction under way: keep its note (and pip's report,
        inlined) as the interrupted one; what it says."""
        return self._settle(self.path)

    def interrupted(self) -> Interrupted | None:
        """An interrupted transaction not yet finished, if any: the one noted as such, or a
        transaction under way whose pipv is gone (killed with its pip). Two stats when there
        is none."""
        if os.path.lexists(self._interrupted_path):
            return self._read(self._interrupted_path)
        if not os.path.lexists(self.path):
            return None
        note = self._load(self.path)
        pid = note.get("pid") if isinstance(note, dict) else None
        if isinstance(pid, int) and pid != os.getpid() and _alive(pid):
            return None  # another pipv's transaction, still under way
        return self._settle(self.path)

    def _settle(self, path: str) -> Interrupted | None:
        import json

        note = self._load(path)
        if not isinstance(note, dict):
            note = {}
        report = note.get("report")
        if isinstance(report, str) and "installs" not in note:
            note["installs"] = _installs(read_regular(report, _REPORT_LIMIT))
        try:
            replace_atomically(self._interrupted_path, json.dumps(note).encode(), mode=0o600)
            os.unlink(path)
        except OSError:
            pass
        return _from_note(note)

    def _read(self, path: str) -> Interrupted:
        note = self._load(path)
        return _from_note(note if isinstance(note, dict) else {})

    @staticmethod
    def _load(path: str) -> object:
        data = read_regular(path)
        if data is None:
            return None
        import json

        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            return None

    def end(self) -> None:
        """The transaction under way is verified: its note and report go."""
        for path in (self.path, self.report_path):
            try:
                os.unlink(path)
            except OSError:
                pass

    def finished(self) -> None:
        """The interrupted transaction was finished (or found whole): its note goes."""
        try:
            os.unlink(self._interrupted_path)
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: alive
    return True


def _installs(data: bytes | None) -> list[list[str]] | None:
    """(name, version) of each item of pip's installation report; None without a report."""
    if data is None:
        return None
    import json

    try:
        doc = json.loads(data)
        out = []
        for item in doc["install"]:
            meta = item["metadata"]
            out.append([str(meta["name"]), str(meta["version"])])
        return out
    except (ValueError, RecursionError, KeyError, TypeError):
        return None


def _from_note(note: dict[str, object]) -> Interrupted:
    args = note.get("args")
    installs = note.get("installs")
    tildes = note.get("tildes")
    pid, started = note.get("pid"), note.get("started")
    return Interrupted(
        tuple(str(a) for a in args) if isinstance(args, list) else (),
        tuple((str(i[0]), str(i[1])) for i in installs if isinstance(i, list) and len(i) == 2)
        if isinstance(installs, list)
        else None,
        frozenset(str(t) for t in tildes) if isinstance(tildes, list) else frozenset(),
        pid if isinstance(pid, int) else None,
        started if isinstance(started, float) else None,
    )
