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
    ratchet_order,
    ratchet_unused,
    registry_finding,
)
from autopack.governance.registry import DocsSpec, DriftRule, is_glob
from autopack.governance.rulesets import RULE_SETS, drift_rules_of
from autopack.governance.view import RepoView

_LINE_END = re.compile(r"\r\n|\r|\n")


def _scoped(rule: DriftRule, is_code: bool) -> bool:
    return rule.scope == "any" or (rule.scope == "code") == is_code


def check_classification(view: RepoView) -> list[Finding]:
    """Every Markdown file is living, a ledger or explicitly unclassified, and exists."""
    loaded = view.loaded
    docs = view.registry.docs or DocsSpec()
    findings = ratchet_order(loaded.path, loaded.text, "docs.living", docs.living)
    findings += ratchet_order(loaded.path, loaded.text, "docs.exclude", docs.exclude)
    findings += ratchet_order(loaded.path, loaded.text, "docs.ledgers", view.registry.ledger_paths)
    findings += ratchet_order(
        loaded.path, loaded.text, "docs.unclassified_allow", docs.unclassified_allow
    )
    ledgers = set(view.registry.ledger_paths)
    exact_living = {entry for entry in docs.living if not is_glob(entry)}
    for path in sorted(exact_living & ledgers):
        findings.append(
            registry_finding(
                loaded.path,
                loaded.text,
                path,
                "DOCS-DOUBLE",
                f"{path} is listed as living and as a ledger",
                "keep it in one list",
            )
        )
    for path in sorted(exact_living | ledgers):
        if not view.exists(path):
            findings.append(
                registry_finding(
                    loaded.path,
                    loaded.text,
                    path,
                    "DOCS-MISSING",
                    f"{path} is in the registry but not in the repository",
                    "restore the file or remove it from the registry",
                )
            )
    living, used_living, used_excludes = view.resolve_living()
    findings += ratchet_unused(
        loaded.path,
        loaded.text,
        "docs.living",
        [g for g in docs.living if is_glob(g) and g not in used_living],
    )
    findings += ratchet_unused(
        loaded.path,
        loaded.text,
        "docs.exclude",
        [g for g in docs.exclude if g not in used_excludes],
    )
    classified = set(living) | ledgers | view.excluded
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
    report = Report("drift")
    if view.registry.docs is None:
        report.skipped = f"no docs section in {loaded.path}"
        return report
    own = view.registry.drift_rules or []
    rules = drift_rules_of(view.registry)
    report.findings += check_classification(view)
    report.findings += ratchet_order(loaded.path, loaded.text, "drift_rules", [r.id for r in own])
    report.findings += ratchet_order(loaded.path, loaded.text, "rule_sets", view.registry.rule_sets)
    builtin = {rule.id for name in view.registry.rule_sets for rule in RULE_SETS[name]}
    report.findings += [
        registry_finding(
            loaded.path,
            loaded.text,
            rule.id,
            "RULE-DUPLICATE",
            f"drift rule {rule.id} is also in a rule set named in rule_sets",
            "delete the registry's copy or leave out the rule set",
        )
        for rule in own
        if rule.id in builtin
    ]
    compiled = [(rule, rule.regex()) for rule in rules]
    used: set[tuple[str, str]] = set()
    living = view.living_docs()
    lines_scanned = 0
    for path in living:
        text = view.text(path)
        lines_scanned += text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        # Whole-text search per rule: a pattern that starts with a literal is
        # scanned for at C speed, far faster than every rule on every line.
        hits = [
            (rule, list(regex.finditer(text)))
            for rule, regex in compiled
            if any(glob_match(glob, path) for glob in rule.paths)
        ]
        if not any(matches for _, matches in hits):
            continue  # a clean file is never parsed
        # Line breaks as the Markdown parser counts them (\r\n, \r, \n), and the
        # offset where each line starts, to turn a match position into a line.
        lines = _LINE_END.split(text)
        starts = [0, *(m.end() for m in _LINE_END.finditer(text))]
        code = view.facts_of(path).code_lines()
        for rule, matches in hits:
            seen_lines: set[int] = set()
            for match in matches:
                number = bisect_right(starts, match.start())
                if number in seen_lines or not _scoped(rule, number in code):
                    continue
                seen_lines.add(number)  # one finding per rule and line, at its first match
                line = lines[number - 1]
                allowed = [a for a in rule.allow if a.path == path and a.contains in line]
                if allowed:
                    used.update((rule.id, a.key) for a in allowed)
                    continue
                report.findings.append(
                    Finding(
                        path,
                        number,
                        rule.id,
                        rule.message,
                        rule.fix,
                        column=match.start() - starts[number - 1] + 1,
                        matched=_shown(match.group(0)),
                        reason=rule.reason,
                    )
                )
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


def _shown(matched: str) -> str:
    """The matched text on one line, cut to a readable length."""
    flat = " ".join(matched.split())
    return flat if len(flat) <= 120 else flat[:117] + "..."
