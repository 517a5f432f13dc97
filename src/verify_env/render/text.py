"""``--format text``: for people. Grouped by distribution, each group with its repair, and one
summary line. Long runs of one code in one distribution are cut to a few lines; the JSON keeps
them all."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from verify_env import __version__
from verify_env.finding import Finding, Severity, Skip
from verify_env.render import safe_text
from verify_env.report import Report

__all__ = ["render"]

MAX_PER_CODE = 8
_COLORS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


def _header(report: Report) -> list[str]:
    t = report.target
    facts = []
    if t.version:
        facts.append(f"{t.implementation or 'python'} {'.'.join(map(str, t.version))}")
    facts.append(f"{t.platform} {t.machine}")
    if t.libc and t.libc_version:
        facts.append(f"{t.libc} {t.libc_version[0]}.{t.libc_version[1]}")
    lines = [f"verify-env {__version__}: {safe_text(t.prefix)} ({', '.join(facts)})"]
    if report.environments:
        lines = [f"verify-env {__version__}: image {safe_text(t.root or '')} ({', '.join(facts)})"]
        for e in report.environments:
            python = e.target.shown(e.target.executable) if e.target.executable else "no python"
            counts = f"{e.summary.distributions} distributions, {_count(e.errors, 'error')}"
            lines.append(safe_text(f"  environment {e.name}: {python} ({counts})"))
    if t.note:
        lines.append(f"note: {safe_text(t.note)}")
    return lines


_THEN = ", then: "


def _plan(hints: set[str]) -> str | None:
    """The one repair of a distribution's group: the hint every other one ends with (``remove
    X, then: H``), or the only one."""
    for hint in hints:
        if all(h == hint or h.endswith(_THEN + hint) for h in hints):
            return hint
    return None


def _group(findings: list[Finding], color: bool) -> list[str]:
    lines: list[str] = []
    per_code: dict[str, int] = defaultdict(int)
    # an accepted one needs no repair
    plan = _plan({f.hint for f in findings if f.accepted is None and f.hint})
    for f in findings:
        per_code[f.code] += 1
        if per_code[f.code] > MAX_PER_CODE:
            continue
        sev = str(f.severity)
        if color:
            sev = f"{_COLORS[f.severity]}{sev}\033[0m"
        accepted = f" (accepted: {f.accepted})" if f.accepted else ""
        lines.append(f"  {sev}: [{f.check}/{f.code}] {safe_text(f.message + accepted)}")
        if not f.hint or f.accepted is not None or f.hint == plan:
            continue
        if plan is not None:  # a step of its own before the group's repair
            lines.append(f"      first: {safe_text(f.hint[: -len(_THEN + plan)])}")
        else:
            lines.append(f"      fix: {safe_text(f.hint)}")
    for code, count in per_code.items():
        if count > MAX_PER_CODE:
            lines.append(f"  … and {count - MAX_PER_CODE} more {code} (all in --format json)")
    if plan:
        lines.append(f"  fix: {safe_text(plan)}")
    return lines


def _unjudged(report: Report) -> list[Skip]:
    """What no check could judge, less what a finding already reports (a missing file is
    one problem, not also one the linkage check could not read)."""
    reported = {(f.distribution, f.path) for f in report.findings if f.path}
    return [s for s in report.skips if not s.path or (s.distribution, s.path) not in reported]


def _blas(report: Report, verbose: bool) -> list[str]:
    """The linkage check's ``facts["blas"]``: which provider each BLAS/LAPACK consumer gets,
    one line per distribution and provider (every consumer under ``--verbose``)."""
    entries = report.facts.get("blas")
    if not isinstance(entries, list) or not entries:
        return []
    groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for e in entries:
        what = ", ".join(
            str(p) for p in (e.get("family"), e.get("version"), e.get("interface")) if p
        )
        provider = str(e.get("provider") or "none")
        if provider.startswith(report.target.prefix + "/"):
            provider = provider[len(report.target.prefix) + 1 :]
        provider = report.target.shown(provider)  # --root: the path inside the image
        groups[(str(e.get("distribution")), provider, what)].append(str(e.get("consumer")))
    lines = ["", "BLAS/LAPACK (consumers -> provider):"]
    for (dist, provider, what), consumers in groups.items():
        if verbose or len(consumers) == 1:
            shown = ", ".join(consumers)
        else:
            shown = f"{len(consumers)} modules, e.g. {consumers[0]}"
        lines.append(safe_text(f"  {dist}: {shown} -> {provider}" + (f" ({what})" if what else "")))
    return lines


def render(
    report: Report,
    *,
    strict: bool = False,
    verbose: bool = False,
    color: bool = False,
    quiet: bool = False,
) -> str:
    """The text report. ``quiet`` (``-q``): nothing at all for a run that passes, else only the
    findings that fail it and the summary line."""
    failed = report.errors or (strict and report.warnings)
    whole = report
    if quiet:
        if not failed:
            return ""
        fails = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
        report = dataclasses.replace(
            report,
            findings=tuple(f for f in report.findings if f.severity in fails),
            skips=(),
            facts={},
        )
    lines = [] if quiet else _header(report)
    groups: dict[tuple[str, str, str, str], list[Finding]] = defaultdict(list)
    for f in report.findings:
        dist = f.distribution or "(environment)"
        groups[(dist, f.version or "", f.installer or "", f.environment or "")].append(f)
    for (dist, version, installer, env), found in groups.items():
        title = " ".join(p for p in (dist, version) if p)
        where = f" in {env}" if env else ""
        lines.append("")
        lines.append(safe_text(title + (f" ({installer})" if installer else "") + where))
        lines.extend(_group(found, color))
    lines.extend(_blas(report, verbose))
    if report.details and verbose:
        lines.append("")
        lines.extend(safe_text(d) for d in report.details)
    unjudged = _unjudged(whole)
    if unjudged and verbose and not quiet:
        lines.append("")
        lines.append("not judged:")
        lines.extend(
            safe_text(f"  [{s.check}] {s.distribution or ''} {s.reason}") for s in unjudged
        )
    s = report.summary
    verdict = "FAILED" if failed else "OK"
    parts = [_count(whole.errors, "error"), _count(whole.warnings, "warning")]
    if whole.accepted:
        parts.append(f"{whole.accepted} accepted")
    if unjudged:
        parts.append(f"{len(unjudged)} not judged" + ("" if verbose else " (--verbose)"))
    lines.append("")
    lines.append(
        f"{verdict}: {', '.join(parts)} — {summary_counts(report)} in {s.seconds:.2f} s "
        f"[{','.join(report.checks)}]"
    )
    return "\n".join(lines) + "\n"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def summary_counts(report: Report) -> str:
    """``3 distributions, 1761 files, 68.5 MB hashed``; a run that hashed nothing (every digest
    known from the stat cache, a size that already told) says so instead of ``0 B hashed``."""
    s = report.summary
    out = _count(s.distributions, "distribution")
    if not s.files:
        return out
    if s.bytes_hashed:
        return f"{out}, {_count(s.files, 'file')}, {_size(s.bytes_hashed)} hashed"
    return f"{out}, {_count(s.files, 'file')} (none needed rehashing)"
