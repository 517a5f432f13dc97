"""``--format json``: one object, schema 1 of the contract in DESIGN.md."""

from __future__ import annotations

import json
from typing import Any

from verify_env import __version__
from verify_env.render import safe_text
from verify_env.report import Report

__all__ = ["as_dict", "render"]


def _text(value: str | None) -> str | None:
    return None if value is None else safe_text(value)


def _clean(value: Any) -> Any:
    """Facts sections as valid UTF-8 all the way down (paths may hold undecodable bytes)."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def as_dict(report: Report) -> dict[str, Any]:
    t = report.target
    libc = (
        f"{t.libc} {t.libc_version[0]}.{t.libc_version[1]}" if t.libc and t.libc_version else t.libc
    )
    return {
        "schema": 1,
        "tool": {"name": "verify-env", "version": __version__},
        "environment": {
            "python": _text(t.executable),
            "prefix": _text(t.prefix),
            "version": ".".join(map(str, t.version)) if t.version else None,
            "implementation": t.implementation,
            "platform": f"{t.platform}-{t.machine}",
            "libc": libc,
            "note": _text(t.note),
            **_clean(report.facts),
        },
        "checks": list(report.checks),
        "summary": {
            "distributions": report.summary.distributions,
            "files": report.summary.files,
            "bytes_hashed": report.summary.bytes_hashed,
            "seconds": report.summary.seconds,
            "errors": report.errors,
            "warnings": report.warnings,
            "accepted": report.accepted,
            "skipped": len(report.skips),
        },
        "findings": [
            {
                "check": f.check,
                "code": f.code,
                "severity": str(f.severity),
                "distribution": f.distribution,
                "version": f.version,
                "installer": f.installer,
                "path": _text(f.path),
                "message": _text(f.message),
                "hint": _text(f.hint),
                "accepted": _text(f.accepted),
            }
            for f in report.findings
        ],
        "skipped": [
            {
                "check": s.check,
                "distribution": s.distribution,
                "path": _text(s.path),
                "reason": _text(s.reason),
            }
            for s in report.skips
        ],
        "notes": [_text(n) for n in report.notes],
    }


def render(report: Report) -> str:
    return json.dumps(as_dict(report), indent=2) + "\n"
