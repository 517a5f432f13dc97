"""Accepted findings: ignore rules and baselines. A front door verifies, then calls `apply`.

An accepted finding stays in the report, with severity info and the reason that accepted it
(`Finding.accepted`), and never changes the exit status, under ``--strict`` neither.

**Ignore rules** are ``check:code:distribution:path``, each part an `fnmatch` glob; fewer parts
mean a trailing ``*`` (``record:hash-mismatch:certifi`` accepts every hash mismatch of
certifi). The distribution is compared by its normalized name (PEP 503), the path as the
owning record names it; ``*`` in the path crosses ``/``. A part without glob characters must
name a known check or code, so a typo is refused instead of accepting nothing.

**A baseline** (``--baseline write FILE``) records every finding of a run with the sha256 of
its file as it is now. A later finding matches an entry when check, code, distribution,
version and path are equal and the file's sha256 still equals the recorded one (both absent
counts as equal) — so a *further* change to an accepted file is new, and so is the same damage
after a reinstall of another version (a new install deserves a new look: write the baseline
again). A finding without a path (a requirement conflict) must also repeat its message. Files
are hashed only for findings that have a candidate entry, and never without a baseline.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from verify_env import __version__
from verify_env.binary.extensions import is_shared_object
from verify_env.errors import UsageError
from verify_env.files import open_regular, replace_atomically
from verify_env.finding import CODES, Finding, Severity
from verify_env.inventory.model import canonical_name
from verify_env.report import Report

__all__ = [
    "BASELINE_SCHEMA",
    "Acceptance",
    "Baseline",
    "IgnoreRule",
    "accept_all",
    "accepted",
    "apply",
    "file_sha256",
    "not_for_a_baseline",
    "parse_rule",
    "refused_notes",
    "write_baseline",
]

BASELINE_SCHEMA = 1
_GLOB = re.compile(r"[*?\[]")
_ENTRY_KEYS = ("check", "code", "distribution", "version", "path", "sha256", "message")


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """One ``check:code:distribution:path`` rule and where it was given."""

    text: str
    """The rule as written."""
    parts: tuple[str, str, str, str]
    """check, code, distribution (normalized) and path globs; missing parts are ``*``."""
    source: str
    """Where it comes from: ``--ignore``, ``VERIFY_ENV_IGNORE``, ``pyproject.toml
    [tool.verify-env] ignore`` …"""
    reason: str | None = None
    """The reason the user wrote beside it (``{rule = …, reason = …}``)."""

    @property
    def accepted(self) -> str:
        """The `Finding.accepted` text of the findings it accepts."""
        return f"{self.source} {self.text}" + (f" — {self.reason}" if self.reason else "")

    def matches(self, f: Finding) -> bool:
        check, code, dist, path = self.parts
        return (
            fnmatch.fnmatchcase(f.check, check)
            and fnmatch.fnmatchcase(f.code, code)
            and fnmatch.fnmatchcase(canonical_name(f.distribution or ""), dist)
            and fnmatch.fnmatchcase(f.path or "", path)
        )


def parse_rule(text: str, source: str, reason: str | None = None) -> IgnoreRule:
    """``check:code:dist:path`` as an `IgnoreRule`; ValueError with the message to show for a
    rule that names no known check or code (the path keeps any further ``:``)."""
    from verify_env.checks import CHECKS

    raw = text.strip()
    if not raw:
        raise ValueError("an empty ignore rule would accept everything; write '*' to mean that")
    pieces = [p or "*" for p in raw.split(":", 3)]
    pieces += ["*"] * (4 - len(pieces))
    check, code, dist, path = pieces
    checks = {c.name for c in CHECKS}
    if not _GLOB.search(check) and check not in checks:
        raise ValueError(
            f"{raw!r}: unknown check {check!r}; choose from "
            f"{', '.join(sorted(checks))} (rules are check:code:distribution:path)"
        )
    if not _GLOB.search(code) and code not in CODES:
        raise ValueError(
            f"{raw!r}: unknown code {code!r} (rules are "
            "check:code:distribution:path; `verify-env --explain` lists codes)"
        )
    if not _GLOB.search(code) and not _GLOB.search(check) and CODES[code].check != check:
        raise ValueError(
            f"{raw!r}: code {code!r} belongs to check {CODES[code].check!r}, not {check!r}"
        )
    return IgnoreRule(raw, (check, code, canonical_name(dist), path), source, reason)


@dataclass(frozen=True, slots=True)
class _Entry:
    check: str
    code: str
    distribution: str
    version: str | None
    path: str | None
    sha256: str | None
    message: str


@dataclass(frozen=True, slots=True)
class Baseline:
    """The findings a baseline file accepts."""

    path: str
    """The file, as the user named it (it is shown in every reason)."""
    entries: tuple[_Entry, ...]

    @property
    def accepted(self) -> str:
        return f"baseline {self.path}"

    @classmethod
    def read(cls, path: str, shown_as: str | None = None) -> Baseline:
        """Read and validate a baseline file; `UsageError` ``FILE:LINE: what is wrong`` for a
        file that is absent, not JSON, or not a verify-env baseline."""
        shown = shown_as or path
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UsageError(
                f"{shown}: cannot read the baseline: {reason} (write one with "
                f"--baseline write {shown})"
            ) from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{shown}:{exc.lineno}: not JSON: {exc.msg} (column {exc.colno})"
            ) from None
        if (
            not isinstance(doc, dict)
            or doc.get("schema") != BASELINE_SCHEMA
            or not isinstance(doc.get("accepted"), list)
        ):
            got = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
            raise UsageError(
                f"{shown}:1: not a verify-env baseline (want an object with "
                f'"schema": {BASELINE_SCHEMA} and an "accepted" list; '
                f"got schema {got!r})"
            )
        lines = _entry_lines(text, len(doc["accepted"]))
        entries = []
        for i, raw in enumerate(doc["accepted"]):
            problem = _entry_problem(raw)
            if problem:
                raise UsageError(f"{shown}:{lines[i]}: accepted[{i}]: {problem}")
            entries.append(_Entry(*(raw.get(k) for k in _ENTRY_KEYS)))
        return cls(shown, tuple(entries))


def _entry_problem(raw: object) -> str | None:
    if not isinstance(raw, dict):
        return f"an entry must be an object, not {json.dumps(raw)[:60]}"
    unknown = sorted(set(raw) - set(_ENTRY_KEYS))
    if unknown:
        return f"unknown key {unknown[0]!r}"
    for key in ("check", "code", "distribution", "message"):
        if not isinstance(raw.get(key), str):
            return f"{key!r} must be a string, not {json.dumps(raw.get(key))}"
    for key in ("version", "path", "sha256"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            return f"{key!r} must be a string or null, not {json.dumps(raw[key])}"
    if raw["code"] not in CODES:
        return f"unknown code {raw['code']!r}"
    return None


def _entry_lines(text: str, count: int) -> list[int]:
    """The line each entry of ``"accepted"`` starts on (line 1 when it cannot be told), so that
    a bad entry is named by its line, as a bad TOML key is."""
    found = re.search(r'"accepted"\s*:\s*\[', text)
    lines = [1] * count
    if not found:
        return lines
    decoder = json.JSONDecoder()
    pos = found.end()
    for i in range(count):
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        lines[i] = text.count("\n", 0, pos) + 1
        try:
            _, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            break
    return lines


def file_sha256(location: str | None) -> str | None:
    """The sha256 of a regular file now, or None when there is none (missing, a directory,
    unreadable)."""
    if location is None:
        return None
    opened = open_regular(location)
    if opened is None:
        return None
    fd, _ = opened
    digest = hashlib.sha256()
    try:
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return digest.hexdigest()


def _key(f: Finding | _Entry) -> tuple[str, str, str, str | None, str | None, str | None]:
    """What must be equal besides the hash (a finding without a path repeats its message)."""
    return (
        f.check,
        f.code,
        canonical_name(f.distribution or ""),
        f.version,
        f.path,
        f.message if f.path is None else None,
    )


def _accept(f: Finding, reason: str) -> Finding:
    return dataclasses.replace(f, severity=Severity.INFO, accepted=reason)


def apply(
    report: Report, rules: Sequence[IgnoreRule] = (), baseline: Baseline | None = None
) -> Report:
    """The report with the findings that ``rules`` or ``baseline`` accept marked accepted
    (rules first: they need no hashing). Without rules and baseline, the same report."""
    if not rules and baseline is None:
        return report
    return dataclasses.replace(report, findings=accepted(report.findings, rules, baseline))


def accepted(
    findings: Sequence[Finding], rules: Sequence[IgnoreRule] = (), baseline: Baseline | None = None
) -> tuple[Finding, ...]:
    """``findings``, those ``rules`` or ``baseline`` accept marked accepted: `apply` for
    findings made outside a report (the conda plugin's, before anything is linked)."""
    candidates: dict[tuple[str, str, str, str | None, str | None, str | None], set[str | None]] = {}
    for e in baseline.entries if baseline else ():
        candidates.setdefault(_key(e), set()).add(e.sha256)
    out = []
    for f in findings:
        if f.accepted is None:
            rule = next((r for r in rules if r.matches(f)), None)
            if rule is not None:
                f = _accept(f, rule.accepted)
            elif baseline is not None:
                hashes = candidates.get(_key(f))
                if hashes is not None and file_sha256(f.location) in hashes:
                    f = _accept(f, baseline.accepted)
        out.append(f)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Acceptance:
    """What a run accepts: the rules and the baseline of its settings, read before it
    verifies (a bad baseline fails fast: `verify_env.session.Session`), applied after."""

    rules: tuple[IgnoreRule, ...] = ()
    baseline: Baseline | None = None

    def apply(self, report: Report) -> Report:
        return apply(report, self.rules, self.baseline)

    def accepts(self, f: Finding) -> str | None:
        """Why ``f`` is accepted (`Finding.accepted`), or None."""
        return accepted((f,), self.rules, self.baseline)[0].accepted


def accept_all(report: Report, reason: str) -> Report:
    """Every finding not accepted yet, accepted for ``reason`` (a baseline just written),
    except the damage a baseline never takes (`not_for_a_baseline`)."""
    return dataclasses.replace(
        report,
        findings=tuple(
            f if f.accepted is not None or not_for_a_baseline(f) else _accept(f, reason)
            for f in report.findings
        ),
    )


_DAMAGE = frozenset({"hash-mismatch", "size-mismatch", "missing-file"})


def not_for_a_baseline(f: Finding) -> bool:
    """A compiled file (extension module, shared library) rewritten, cut short or deleted:
    nobody edits one on purpose, and importing it crashes or fails — writing it into a
    baseline would silence the damage for good. It stays an error; an ``--ignore`` rule
    still accepts it for whoever means it."""
    return (
        f.severity is Severity.ERROR
        and f.accepted is None
        and f.code in _DAMAGE
        and f.path is not None
        and is_shared_object(f.path)
    )


def refused_notes(report: Report) -> list[str]:
    """One line per finding a baseline just written left out, with what to do instead."""
    from verify_env.repair.hints import accept_rule

    return [
        f"not written into the baseline: {f.path} ({f.check}/{f.code} of {f.distribution}): "
        "a damaged compiled file is no intended change; repair it"
        + (f" ({f.hint})" if f.hint else "")
        + f", or accept it explicitly with {accept_rule(f.check, f.code, f.distribution, f.path)}"
        for f in report.findings
        if not_for_a_baseline(f)
    ]


def write_baseline(report: Report, path: str) -> int:
    """Write every finding of ``report`` to ``path`` as a baseline, atomically (one entry per
    line, so that a review sees what a change accepts), but damaged compiled files
    (`not_for_a_baseline`); returns the number of entries."""
    entries = [_entry_json(f) for f in report.findings if not not_for_a_baseline(f)]
    body = ",\n".join(f"  {json.dumps(e)}" for e in entries)
    text = (
        f'{{"schema": {BASELINE_SCHEMA}, "tool": "verify-env {__version__}",\n'
        f' "accepted": [\n{body}\n ]}}\n'
        if entries
        else f'{{"schema": {BASELINE_SCHEMA}, "tool": "verify-env {__version__}", '
        '"accepted": []}\n'
    )
    try:
        replace_atomically(path, text.encode("ascii"))
    except OSError as exc:
        raise UsageError(f"cannot write the baseline {path!r}: {exc.strerror or exc}") from None
    return len(entries)


def _entry_json(f: Finding) -> dict[str, str | None]:
    return {
        "check": f.check,
        "code": f.code,
        "distribution": f.distribution or "",
        "version": f.version,
        "path": f.path,
        "sha256": file_sha256(f.location),
        "message": f.message,
    }
