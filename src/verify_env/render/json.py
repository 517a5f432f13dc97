"""``--format json``: one object, schema 1 of the contract in DESIGN.md."""

from __future__ import annotations

import json
from typing import Any

from verify_env import __version__
from verify_env.render import safe_text
from verify_env.report import Environment, Report
from verify_env.target.model import Target

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
    libc = _libc(t)
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
            **({"root": _text(t.root)} if t.root is not None else {}),
            **_clean(report.facts),
        },
        **(
            {"environments": [_environment(e) for e in report.environments]}
            if report.environments
            else {}
        ),
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
                **({"environment": _text(f.environment)} if f.environment is not None else {}),
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


def _environment(env: Environment) -> dict[str, Any]:
    """One environment of an image (``--root``): where it is inside the image, what it is."""
    t = env.target
    return {
        "name": _text(env.name),
        "python": _text(t.shown(t.executable)) if t.executable else None,
        "prefix": _text(t.shown(t.prefix)),
        "version": ".".join(map(str, t.version)) if t.version else None,
        "platform": f"{t.platform}-{t.machine}",
        "libc": _libc(t),
        "distributions": env.summary.distributions,
        "errors": env.errors,
        "warnings": env.warnings,
    }


def _libc(t: Target) -> str | None:
    return (
        f"{t.libc} {t.libc_version[0]}.{t.libc_version[1]}" if t.libc and t.libc_version else t.libc
    )


def render(report: Report) -> str:
    return json.dumps(as_dict(report), indent=2) + "\n"
