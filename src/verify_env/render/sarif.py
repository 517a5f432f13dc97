"""``--format sarif``: a SARIF 2.1.0 log for code-scanning dashboards (GitHub code scanning,
Azure DevOps, VS Code's SARIF viewer).

One rule per finding code, every code of `verify_env.finding.CODES` in table order (so a
``ruleIndex`` is stable across runs): id = the code, shortDescription = its meaning,
fullDescription and help = why it matters and how to fix it, defaultConfiguration.level from
its default severity. One result per finding, at the file it names.

Locations are absolute ``file://`` URIs, not paths relative to a ``uriBaseId``: the files live
in an environment, usually outside the repository, and GitHub's upload action ignores
``uriBaseId`` and takes every relative URI as relative to the checkout (codeql-action
``fingerprints.ts`` ``resolveUriToFile``), so a base-relative path would point at the wrong
file; an absolute URI is unambiguous everywhere and, for a ``.venv`` inside the checkout, is
mapped onto the repository's file. Results carry their own ``partialFingerprints`` (check,
code, distribution, path) so that a dashboard tracks one finding across runs even where it
cannot hash the file. Accepted findings are results with an external ``suppression`` whose
justification is the reason that accepted them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import PurePosixPath
from typing import Any

from verify_env import __version__
from verify_env.finding import CODES, Code, Finding, Severity
from verify_env.render import safe_text
from verify_env.report import Report

__all__ = ["INFORMATION_URI", "SCHEMA_URI", "render", "rule", "sarif_log"]

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/verify-env/"
FINGERPRINT = "verifyEnvFinding/v1"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _file_uri(path: str) -> str:
    """``file:///abs/path``, percent-encoded byte by byte (undecodable names included)."""
    return PurePosixPath(os.path.abspath(path)).as_uri()


def rule(code: Code) -> dict[str, Any]:
    """The SARIF reportingDescriptor of one finding code."""
    from verify_env.commands.explain import severity_text

    why_fix = f"{code.why} Fix: {code.fix}"
    detail = f" Judged: {code.detail}." if code.detail else ""
    markdown = (
        f"**{code.meaning[0].upper()}{code.meaning[1:]}.**{detail}\n\n"
        f"Severity: {severity_text(code)}.\n\n**Why it matters.** {code.why}\n\n"
        f"**How to fix.** {code.fix}\n\n"
        f"`verify-env --explain {code.name}` prints this text."
    )
    return {
        "id": code.name,
        "name": "".join(part.capitalize() for part in code.name.split("-")),
        "shortDescription": {"text": code.meaning},
        "fullDescription": {"text": f"{code.meaning}.{detail} {why_fix}"},
        "help": {"text": f"{why_fix} (verify-env --explain {code.name})", "markdown": markdown},
        "defaultConfiguration": {"level": _LEVEL[code.severity]},
        "properties": {
            "tags": ["verify-env", code.check],
            "check": code.check,
            "precision": "very-high",
        },
    }


def _fingerprint(f: Finding) -> str:
    key = "\0".join((f.check, f.code, f.distribution or "", f.path or ""))
    return hashlib.sha256(safe_text(key).encode()).hexdigest()


def _where(f: Finding, report: Report) -> str:
    """The file the finding is about; the environment itself when it names none."""
    if f.location:
        return f.location
    if f.path and os.path.isabs(f.path):
        return f.path
    return report.target.executable or report.target.prefix


def _result(f: Finding, report: Report, index: dict[str, int]) -> dict[str, Any]:
    who = (
        f"{f.distribution} {f.version}: "
        if f.distribution and f.version
        else (f"{f.distribution}: " if f.distribution else "")
    )
    text = f"{who}{f.message}" + (f"\nFix: {f.hint}" if f.hint else "")
    result: dict[str, Any] = {
        "ruleId": f.code,
        "ruleIndex": index[f.code],
        "level": _LEVEL[f.severity],
        "message": {"text": safe_text(text)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _file_uri(_where(f, report))},
                    "region": {"startLine": 1},
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT: _fingerprint(f)},
        "properties": {
            k: safe_text(v)
            for k, v in (
                ("check", f.check),
                ("distribution", f.distribution),
                ("version", f.version),
                ("installer", f.installer),
                ("path", f.path),
                ("hint", f.hint),
            )
            if v is not None
        },
    }
    if f.accepted is not None:
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": safe_text(f.accepted)}
        ]
    return result


def sarif_log(report: Report) -> dict[str, Any]:
    """The whole log as a dict (one run)."""
    from verify_env.render.json import as_dict

    index = {name: i for i, name in enumerate(CODES)}
    facts = as_dict(report)
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "verify-env",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [rule(code) for code in CODES.values()],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": [
                            {"level": "note", "message": {"text": text}} for text in facts["notes"]
                        ],
                    }
                ],
                "results": [_result(f, report, index) for f in report.findings],
                "properties": {
                    "environment": facts["environment"],
                    "checks": facts["checks"],
                    "summary": facts["summary"],
                },
            }
        ],
    }


def render(report: Report) -> str:
    return json.dumps(sarif_log(report), indent=2) + "\n"
