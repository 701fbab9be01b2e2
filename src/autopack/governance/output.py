"""A check's report as text, JSON or SARIF 2.1.0 (``--format``).

Text is for people (``path:line:column: RULE-ID message [matched] (fix: hint)``
and a summary line); JSON follows ``schemas/findings.schema.json``; SARIF is
what code-scanning views read to show findings inline. All three carry the
same fields per finding; ``verbose`` adds each rule's reason.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from autopack import __version__
from autopack.governance.findings import Finding, Report

Format = Literal["text", "json", "sarif"]
FORMATS: tuple[Format, ...] = ("text", "json", "sarif")
JSON_FORMAT_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_URI = "https://pypi.org/project/autopack/"


def render_text(report: Report, *, verbose: bool = False) -> list[str]:
    lines = [finding.render(verbose=verbose) for finding in report.sorted_findings()]
    return [*lines, report.summary_line()]


def _finding_json(finding: Finding, verbose: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "file": finding.path,
        "line": finding.line,
        "column": finding.column,
        "rule": finding.rule,
        "message": finding.message,
        "fix": finding.fix,
        "matched": finding.matched,
    }
    if verbose:
        body["reason"] = finding.reason
    return body


def report_json(report: Report, *, verbose: bool = False) -> dict[str, Any]:
    return {
        "format_version": JSON_FORMAT_VERSION,
        "check": report.check,
        "ok": report.ok,
        "skipped": report.skipped,
        "stats": dict(sorted(report.stats.items())),
        "findings": [_finding_json(f, verbose) for f in report.sorted_findings()],
    }


def report_sarif(report: Report, *, verbose: bool = False) -> dict[str, Any]:
    findings = report.sorted_findings()
    rules: dict[str, dict[str, Any]] = {}
    for finding in findings:
        if finding.rule in rules:
            continue
        rule: dict[str, Any] = {
            "id": finding.rule,
            "shortDescription": {"text": finding.message},
            "help": {"text": finding.fix or finding.message},
        }
        if verbose and finding.reason:
            rule["fullDescription"] = {"text": finding.reason}
        rules[finding.rule] = rule
    index = {rule_id: i for i, rule_id in enumerate(rules)}
    results = []
    for finding in findings:
        region: dict[str, Any] = {"startLine": finding.line, "startColumn": finding.column}
        if finding.matched:
            region["snippet"] = {"text": finding.matched}
        text = f"{finding.message} (fix: {finding.fix})" if finding.fix else finding.message
        properties: dict[str, Any] = {"fix": finding.fix, "matched": finding.matched}
        if verbose:
            properties["reason"] = finding.reason
        results.append(
            {
                "ruleId": finding.rule,
                "ruleIndex": index[finding.rule],
                "level": "error",
                "message": {"text": text},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": finding.path, "uriBaseId": "%SRCROOT%"},
                            "region": region,
                        }
                    }
                ],
                "properties": properties,
            }
        )
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "autopack",
                "semanticVersion": __version__,
                "informationUri": TOOL_URI,
                "rules": list(rules.values()),
            }
        },
        "automationDetails": {"id": f"autopack/docs/{report.check}/"},
        "results": results,
    }
    if report.skipped is not None:
        run["properties"] = {"skipped": report.skipped}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def render(report: Report, fmt: Format, *, verbose: bool = False) -> list[str]:
    """The lines to print for one report in the chosen format (ASCII-safe JSON)."""
    if fmt == "text":
        return render_text(report, verbose=verbose)
    body = (
        report_json(report, verbose=verbose)
        if fmt == "json"
        else report_sarif(report, verbose=verbose)
    )
    return [json.dumps(body, indent=2, sort_keys=True, ensure_ascii=True)]
