"""What a JSON consumer of ``conda … --json`` gets from verify-env (issue 19 §11).

conda's stdout under ``--json`` is one JSON document that conda writes itself: the plugin cannot
add to it without breaking it. So each verification the plugin makes during the command prints
one line to stderr that is a JSON object whose only key is ``verify_env`` (documented in
docs/conda.md)::

    {"verify_env": {"stage": "before-link", "refused": false, "findings": [...]}}
    {"verify_env": {"stage": "after-link", "exit_status": 1, "changed": 1, "affected": 0,
                    "rolled_back": false, "report": {...report-1.json...}}}

A consumer reads stderr line by line and keeps the lines that parse as such an object. When
``fail`` mode refuses or rolls back, conda's own JSON error on stdout carries the same findings
as text in its ``message``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from verify_env.session import Outcome
    from verify_env_conda.cache_check import CacheProblem
    from verify_env_conda.clobber import Clobber

__all__ = ["after_link", "before_link", "could_not_verify"]

KEY = "verify_env"


def _line(body: dict[str, Any]) -> str:
    return json.dumps({KEY: body}, separators=(",", ":"), ensure_ascii=True)


def _finding(code: str, package: str, version: str, path: str, message: str) -> dict[str, Any]:
    """A pre-link finding in report-1.json's finding shape."""
    return {
        "check": "record",
        "code": code,
        "severity": "error",
        "distribution": package,
        "version": version,
        "installer": "conda",
        "path": path,
        "message": message,
        "hint": None,
        "accepted": None,
    }


def before_link(
    problems: Sequence[CacheProblem], clobbers: Sequence[Clobber], refused: bool
) -> str:
    """The pre-link check's line: damaged package-cache files (``hash-mismatch`` of the
    cache copy) and paths another installed package owns (``file-conflict``)."""
    findings = [
        _finding("hash-mismatch", p.package.name, p.package.version, p.path, p.message)
        for p in problems
    ] + [
        _finding("file-conflict", c.package.name, c.package.version, c.path, c.message)
        for c in clobbers
    ]
    return _line({"stage": "before-link", "refused": refused, "findings": findings})


def after_link(outcome: Outcome, rolled_back: bool) -> str:
    """The post-link verification's line: the whole report, as ``verify-env --format json``."""
    from verify_env.render.json import as_dict

    return _line(
        {
            "stage": "after-link",
            "exit_status": outcome.status,
            "changed": outcome.changed,
            "affected": outcome.affected,
            "rolled_back": rolled_back,
            "notes": list(outcome.notes),
            "report": as_dict(outcome.report),
        }
    )


def could_not_verify(message: str, refused: bool) -> str:
    """The line when the prefix could not be verified at all (its interpreter failed)."""
    return _line(
        {"stage": "after-link", "exit_status": 2, "error": message, "rolled_back": refused}
    )
