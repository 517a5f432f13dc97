"""``--format junit``: one testsuite per check, one testcase per distribution with findings.

Errors are ``<failure>``s; warnings and accepted findings (info, with the reason that accepted
them) go to the testcase's ``<system-out>`` so that CI dashboards show them without failing the
build (``--strict`` governs the exit status, not the XML).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from verify_env.finding import Finding, Severity
from verify_env.render import safe_text
from verify_env.report import Report

__all__ = ["render"]


def _line(f: Finding) -> str:
    out = f"[{f.code}] {f.message}" + (f" (accepted: {f.accepted})" if f.accepted else "")
    return safe_text(out + (f"\n  fix: {f.hint}" if f.hint else ""))


def render(report: Report) -> str:
    root = ET.Element("testsuites", name="verify-env", time=f"{report.summary.seconds:.3f}")
    groups: dict[str, dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for f in report.findings:
        groups[f.check][f.distribution or "(environment)"].append(f)
    total = failures = 0
    for check in report.checks:
        cases = groups.get(check, {})
        suite = ET.SubElement(root, "testsuite", name=f"verify-env.{check}")
        n_fail = 0
        environment = ET.SubElement(
            suite, "testcase", classname=f"verify-env.{check}", name="environment"
        )
        for dist, found in sorted(cases.items()):
            case = ET.SubElement(
                suite, "testcase", classname=f"verify-env.{check}", name=safe_text(dist)
            )
            errors = [f for f in found if f.severity is Severity.ERROR]
            others = [f for f in found if f.severity is not Severity.ERROR]
            if errors:
                n_fail += 1
                failure = ET.SubElement(
                    case, "failure", type=errors[0].code, message=f"{len(errors)} error finding(s)"
                )
                failure.text = "\n".join(_line(f) for f in errors)
            if others:
                ET.SubElement(case, "system-out").text = "\n".join(
                    f"{f.severity}: {_line(f)}" for f in others
                )
        if n_fail:
            ET.SubElement(
                environment,
                "failure",
                type="verify-env",
                message=f"{n_fail} distribution(s) with errors",
            )
            n_fail += 1
        suite.set("tests", str(len(cases) + 1))
        suite.set("failures", str(n_fail))
        suite.set("errors", "0")
        total += len(cases) + 1
        failures += n_fail
    root.set("tests", str(total))
    root.set("failures", str(failures))
    ET.indent(root)
    xml = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml + "\n"
