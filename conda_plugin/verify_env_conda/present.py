"""How the plugin speaks in conda's output: one line when all is well, the findings briefly
when not, and the messages that refuse or roll back a transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verify_env.report import Report
    from verify_env.session import Outcome
    from verify_env_conda.cache_check import CacheProblem
    from verify_env_conda.clobber import Clobber

__all__ = [
    "ESCAPES",
    "cache_note",
    "cache_refusal",
    "clobber_refusal",
    "outcome_lines",
    "rollback_message",
    "unverified_message",
]

MAX_LINES = 20
# Not --no-plugins: it also turns off conda's other plugins, the libmamba solver among them, so
# on a stock conda every command becomes a solver error.
ESCAPES = (
    "to go ahead anyway for one command, prefix it with CONDA_PLUGINS_VERIFY_ENV_MODE=warn; "
    "for good, `conda config --set plugins.verify_env_mode warn`"
)


def outcome_lines(outcome: Outcome) -> list[str]:
    """``verify-env: 1 changed + 4 affected packages verified: OK`` and, when not OK, each
    finding with its repair."""
    report = outcome.report
    counts = f"{outcome.changed} changed + {outcome.affected} affected packages verified"
    if not report.findings:
        return [f"verify-env: {counts}: OK", *(f"verify-env: note: {n}" for n in outcome.notes)]
    verdict = f"{report.errors} error(s), {report.warnings} warning(s)" + (
        f", {report.accepted} accepted" if report.accepted else ""
    )
    lines = [f"verify-env: {counts}: {verdict}"]
    hints: list[str] = []
    for n, f in enumerate(report.findings):
        if n == MAX_LINES:
            lines.append(
                f"  … and {len(report.findings) - MAX_LINES} more (`conda verify` lists them all)"
            )
            break
        who = f"{f.distribution} {f.version}".strip() if f.distribution else ""
        why = f" (accepted: {f.accepted})" if f.accepted else ""
        lines.append(
            f"  {f.severity}: {who + ': ' if who else ''}[{f.check}/{f.code}] {f.message}{why}"
        )
        if f.hint and f.hint not in hints and f.accepted is None:
            hints.append(f.hint)
    lines += [f"  fix: {h}" for h in hints]
    lines += [f"verify-env: note: {n}" for n in outcome.notes]
    return lines


def rollback_message(outcome: Outcome, rollback_enabled: bool = True) -> str:
    """The exception text conda prints when ``fail`` mode fails the transaction: conda rolls
    it back, unless its ``rollback_enabled`` is off (then the files stay as linked)."""
    body = "\n".join(outcome_lines(outcome))
    what = (
        "so conda rolls the transaction back"
        if rollback_enabled
        else "and conda's rollback_enabled is false, so what was linked stays linked"
    )
    return (
        f"verify-env found {outcome.report.errors} error(s) after linking, {what} "
        f"(plugins.verify_env_mode is 'fail'):\n{body}\n"
        f"Repair what the findings name first; {ESCAPES}."
    )


def unverified_message(
    prefix: str, error: Exception, refused: bool, rollback_enabled: bool = True
) -> str:
    """When the prefix could not be verified at all. In ``fail`` mode (``refused``) the
    transaction does not pass unverified: conda rolls it back (if its rollback is on)."""
    if not refused:
        return f"verify-env: could not verify {prefix}, so it is NOT verified: {error}"
    what = (
        "so conda rolls the transaction back"
        if rollback_enabled
        else "and conda's rollback_enabled is false, so what was linked stays linked"
    )
    return (
        f"verify-env could not verify {prefix} after linking, {what} "
        f"(plugins.verify_env_mode is 'fail'): {error}\n"
        f"Run `conda verify -p {prefix}` to see what breaks it; {ESCAPES}."
    )


def cache_refusal(problems: Sequence[CacheProblem], refused: bool = True) -> str:
    """Why ``Verifying transaction`` failed (``refused``), or what it warns about: package-cache
    files that are not what their package says, and how to get clean copies."""
    outcome = "nothing was linked" if refused else "conda links them anyway (mode warn)"
    lines = [
        f"verify-env: {len(problems)} file(s) in the package cache differ from their "
        f"package's info/paths.json; {outcome}:"
    ]
    for problem in problems[:MAX_LINES]:
        lines.append(f"  {problem.package.dist_name}: {problem.message}")
    if len(problems) > MAX_LINES:
        lines.append(f"  … and {len(problems) - MAX_LINES} more")
    dirs = " ".join(sorted({p.extracted for p in problems if p.extracted}))
    fix = (
        f"Drop the damaged copies from the package cache (rm -rf {dirs}) and run the "
        "command again; conda extracts them afresh."
    )
    lines.append(f"{fix} Or, {ESCAPES}." if refused else fix)
    return "\n".join(lines)


def clobber_refusal(
    clobbers: Sequence[Clobber], refused: bool = True, allowed_by: str | None = None
) -> str:
    """Why ``Verifying transaction`` failed (``refused``), or what it warns about: paths the
    transaction would link over another installed package's files."""
    outcome = (
        "nothing was linked"
        if refused
        else f"conda links them anyway ({allowed_by or 'mode warn'}), and the other owner's "
        "files are lost"
    )
    lines = [
        f"verify-env: {len(clobbers)} path(s) the transaction would link belong to another "
        f"installed package; {outcome}:"
    ]
    for clobber in clobbers[:MAX_LINES]:
        lines.append(f"  error: [record/file-conflict] {clobber.message}")
    if len(clobbers) > MAX_LINES:
        lines.append(f"  … and {len(clobbers) - MAX_LINES} more")
    fix = (
        "Remove the package that owns them first (`pip uninstall NAME` for a pip "
        "distribution, `conda remove NAME` for a conda package), or do not install the "
        "package that brings them."
    )
    lines.append(f"{fix} Or, {ESCAPES}." if refused else fix)
    return "\n".join(lines)


def _cache_dir(prefix: str, name: str, version: str) -> str | None:
    """The package-cache dir the conda record of ``name`` ``version`` was linked from."""
    import glob
    import json
    import os

    from verify_env.files import read_regular

    pattern = os.path.join(glob.escape(prefix), "conda-meta", f"{glob.escape(name)}-*.json")
    for path in glob.glob(pattern):
        data = read_regular(path, 64 << 20)
        try:
            record = json.loads(data.decode("utf-8")) if data else None
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict) and (record.get("name"), record.get("version")) == (
            name,
            version,
        ):
            extracted = record.get("extracted_package_dir")
            return extracted if isinstance(extracted, str) and extracted else None
    return None


def _same_inode(a: str, b: str) -> bool:
    import os

    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def cache_note(report: Report) -> list[str]:
    """When conda packages' damaged files are the very inodes of their own package-cache copy
    (conda hard-links them), the reinstall the ``fix:`` line names relinks the same damaged
    bytes: say so, and what repairs it (issue 19 §7). A file another package was linked over
    is a link into *that* package's cache, and is not meant here."""
    import os

    from verify_env.repair.plan import REINSTALLABLE

    prefix = report.target.prefix
    names = set()
    for f in report.findings:
        if f.installer != "conda" or f.code not in REINSTALLABLE or not f.path:
            continue
        if not f.distribution or not f.version:
            continue
        cache = _cache_dir(prefix, f.distribution, f.version)
        if cache is None:
            continue
        location = f.location or os.path.join(prefix, f.path)
        _, sep, tail = f.path.partition("/site-packages/")
        candidates = [f.path] + ([f"site-packages/{tail}"] if sep else [])
        if any(_same_inode(location, os.path.join(cache, c)) for c in candidates):
            names.add(f.distribution)
    if not names:
        return []
    return [
        f"the damaged files of {', '.join(sorted(names))} are hard links into conda's package "
        "cache, which holds the same damaged bytes: `conda install --force-reinstall` alone "
        "relinks them; `conda doctor verify-env --fix` drops the damaged cache copy first, "
        "then reinstalls"
    ]
