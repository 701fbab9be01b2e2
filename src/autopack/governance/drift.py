"""Drift checker: rules as data, applied to living docs; ledgers are history and exempt.

Each rule is a Python regex with a scope (prose, code or any), a message, a fix
hint and the reason it exists. A rule may carry an allowlist of exact
(path, line text) exemptions; like every allowlist it is a ratchet.
Also checked here, because they decide what "living" means: every Markdown
file is classified in the registry and every classified file exists.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from autopack.governance.findings import (
    Finding,
    Report,
    glob_match,
    json_line,
    ratchet_order,
    ratchet_unused,
)
from autopack.governance.registry import DriftRule
from autopack.governance.view import RepoView

_LINE_END = re.compile(r"\r\n|\r|\n")


def _scoped(rule: DriftRule, is_code: bool) -> bool:
    return rule.scope == "any" or (rule.scope == "code") == is_code


def check_classification(view: RepoView) -> list[Finding]:
    """Every Markdown file is living, a ledger or explicitly unclassified, and exists."""
    loaded = view.loaded
    docs = view.registry.docs
    findings = ratchet_order(loaded.path, loaded.text, "docs.living", docs.living)
    findings += ratchet_order(loaded.path, loaded.text, "docs.ledgers", view.registry.ledger_paths)
    findings += ratchet_order(
        loaded.path, loaded.text, "docs.unclassified_allow", docs.unclassified_allow
    )
    classified = set(docs.living) | set(view.registry.ledger_paths)
    both = set(docs.living) & set(view.registry.ledger_paths)
    for path in sorted(both):
        findings.append(
            Finding(
                loaded.path,
                json_line(loaded.text, path),
                "DOCS-DOUBLE",
                f"{path} is listed as living and as a ledger",
                "keep it in one list",
            )
        )
    for path in sorted(classified):
        if not view.exists(path):
            findings.append(
                Finding(
                    loaded.path,
                    json_line(loaded.text, path),
                    "DOCS-MISSING",
                    f"{path} is in the registry but not in the repository",
                    "restore the file or remove it from the registry",
                )
            )
    used: set[str] = set()
    for path in view.markdown_files():
        if path in classified:
            continue
        hits = [glob for glob in docs.unclassified_allow if glob_match(glob, path)]
        if hits:
            used.update(hits)
            continue
        findings.append(
            Finding(
                path,
                1,
                "DOCS-UNCLASSIFIED",
                "Markdown file is neither a living doc nor a ledger",
                f"add it to docs.living or docs.ledgers in {loaded.path}",
            )
        )
    findings += ratchet_unused(
        loaded.path,
        loaded.text,
        "docs.unclassified_allow",
        [glob for glob in docs.unclassified_allow if glob not in used],
    )
    return findings


def check_drift(view: RepoView) -> Report:
    loaded = view.loaded
    rules = view.registry.drift_rules
    report = Report("drift")
    report.findings += check_classification(view)
    report.findings += ratchet_order(loaded.path, loaded.text, "drift_rules", [r.id for r in rules])
    compiled = [(rule, rule.regex()) for rule in rules]
    used: set[tuple[str, str]] = set()
    living = [path for path in view.registry.docs.living if view.exists(path)]
    facts = view.facts(living)
    lines_scanned = 0
    for path in living:
        text = view.text(path)
        lines_scanned += text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        # Whole-text search per rule: a pattern that starts with a literal is
        # scanned for at C speed, far faster than every rule on every line.
        hits = [
            (rule, [m.start() for m in regex.finditer(text)])
            for rule, regex in compiled
            if any(glob_match(glob, path) for glob in rule.paths)
        ]
        if not any(positions for _, positions in hits):
            continue
        # Line breaks as the Markdown parser counts them (\r\n, \r, \n), and the
        # offset where each line starts, to turn a match position into a line.
        lines = _LINE_END.split(text)
        starts = [0, *(m.end() for m in _LINE_END.finditer(text))]
        code = facts[path].code_lines()
        for rule, positions in hits:
            for number in sorted({bisect_right(starts, pos) for pos in positions}):
                line = lines[number - 1]
                if not _scoped(rule, number in code):
                    continue
                allowed = [a for a in rule.allow if a.path == path and a.contains in line]
                if allowed:
                    used.update((rule.id, a.key) for a in allowed)
                    continue
                report.findings.append(Finding(path, number, rule.id, rule.message, rule.fix))
    for rule in rules:
        keys = [a.key for a in rule.allow]
        report.findings += ratchet_order(loaded.path, loaded.text, f"{rule.id}.allow", keys)
        report.findings += ratchet_unused(
            loaded.path,
            loaded.text,
            f"{rule.id}.allow",
            [a.contains for a in rule.allow if (rule.id, a.key) not in used],
        )
    report.stats = {"living_docs": len(living), "rules": len(rules), "lines": lines_scanned}
    return report
