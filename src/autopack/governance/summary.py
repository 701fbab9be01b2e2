"""The README summary block, regenerated from the ledgers and nothing else.

The block sits between SUMMARY_START and SUMMARY_END. Its first line carries a
fingerprint of the rest, so a hand edit is told apart from a stale block:
``--check`` reports either with a diff; ``--execute`` rewrites a stale block
and refuses a hand-edited one unless forced. The output depends only on the
ledgers (dates come from entries, never from the clock), so it is reproducible.
"""

from __future__ import annotations

import difflib
import hashlib
import posixpath
import re
from dataclasses import dataclass, field
from typing import Literal

from autopack.governance.findings import Finding, Report
from autopack.governance.ledgers import Ledger, parse_ledger
from autopack.governance.registry import SUMMARY_END, SUMMARY_START
from autopack.governance.view import RepoView

_FINGERPRINT = re.compile(r"fingerprint=sha256:([0-9a-f]{16})")
State = Literal["ok", "stale", "hand-edited", "no-block", "bad-ledgers", "skipped"]


@dataclass(slots=True)
class SummaryOutcome:
    report: Report
    state: State
    path: str
    expected: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    new_text: str | None = None  # the whole file with the fresh block

    def diff(self) -> list[str]:
        return list(
            difflib.unified_diff(
                self.current,
                self.expected,
                f"{self.path} (current block)",
                f"{self.path} (from the ledgers)",
                lineterm="",
            )
        )


def fingerprint(body: list[str]) -> str:
    return hashlib.sha256("\n".join(body).encode("utf-8")).hexdigest()[:16]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_block(ledgers: list[Ledger], summary_file: str, refresh_command: str) -> list[str]:
    """The block's lines, markers included."""
    here = posixpath.dirname(summary_file) or "."
    dated = [e.date for ledger in ledgers for e in ledger.entries]
    body: list[str] = [""]
    last = max(dated).isoformat() if dated else "none"
    body.append(f"Last ledger entry: **{last}**.")
    body += ["", "| Ledger | Entries | Latest |", "| --- | --- | --- |"]
    for ledger in ledgers:
        link = posixpath.relpath(ledger.spec.path, here)
        count = str(len(ledger.entries))
        statuses = [e.column("Status") for e in ledger.entries]
        if any(s is not None for s in statuses):
            count += f" (open: {sum(1 for s in statuses if (s or '').lower() == 'open')})"
        latest = ledger.latest
        shown = f"{latest.id} ({latest.date.isoformat()}): {latest.title}" if latest else "none"
        body.append(f"| [{_cell(ledger.spec.title)}]({link}) | {count} | {_cell(shown)} |")
    for ledger in ledgers:
        if not ledger.spec.list_in_summary:
            continue
        body += ["", f"{ledger.spec.title}:", ""]
        body += [f"- {e.id}: {e.title}" for e in ledger.entries] or ["- none"]
    body.append("")
    head = (
        f"<!-- Generated from the ledgers by `{refresh_command}`; edit the ledgers, not this "
        f"block. fingerprint=sha256:{fingerprint(body)} -->"
    )
    return [SUMMARY_START, head, *body, SUMMARY_END]


def load_ledgers(view: RepoView) -> tuple[list[Ledger], list[Finding]]:
    ledgers: list[Ledger] = []
    findings: list[Finding] = []
    all_specs = view.registry.docs.ledgers if view.registry.docs else []
    specs = [spec for spec in all_specs if view.exists(spec.path)]
    facts = view.facts([spec.path for spec in specs])
    for spec in all_specs:
        if not view.exists(spec.path):
            findings.append(
                Finding(
                    spec.path, 1, "LEDGER-MISSING", "ledger listed in the registry is missing", ""
                )
            )
            continue
        ledger = parse_ledger(spec, view.text(spec.path), facts[spec.path])
        findings += ledger.findings
        ledgers.append(ledger)
    return ledgers, findings


def evaluate_summary(
    view: RepoView, *, execute: bool = False, force: bool = False
) -> SummaryOutcome:
    spec = view.registry.summary
    report = Report("summary")
    if spec is None:
        report.skipped = f"no summary section in {view.loaded.path}"
        return SummaryOutcome(report, "skipped", "")
    ledgers, ledger_findings = load_ledgers(view)
    report.stats = {"ledgers": len(ledgers), "entries": sum(len(x.entries) for x in ledgers)}
    if ledger_findings:
        report.findings += ledger_findings
        return SummaryOutcome(report, "bad-ledgers", spec.file)
    expected = render_block(ledgers, spec.file, spec.refresh_command)
    raw = view.text(spec.file) if view.exists(spec.file) else ""
    newline = "\r\n" if "\r\n" in raw else "\n"
    lines = raw.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == SUMMARY_START]
    ends = [i for i, line in enumerate(lines) if line.strip() == SUMMARY_END]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        report.findings.append(
            Finding(
                spec.file,
                1,
                "SUMMARY-MARKERS",
                f"needs exactly one {SUMMARY_START} line followed by one {SUMMARY_END} line",
                "add the two marker lines, then run the refresh with --execute",
            )
        )
        return SummaryOutcome(report, "no-block", spec.file, expected)
    start, end = starts[0], ends[0]
    current = lines[start : end + 1]
    outcome = SummaryOutcome(report, "ok", spec.file, expected, current)
    if current == expected:
        return outcome
    # A block with nothing between its markers holds no edit that could be lost.
    recorded = _FINGERPRINT.search(current[1]) if len(current) > 2 else None
    hand_edited = len(current) > 2 and (
        recorded is None or recorded.group(1) != fingerprint(current[2:-1])
    )
    outcome.state = "hand-edited" if hand_edited else "stale"
    if execute and (force or not hand_edited):
        fresh = [*lines[:start], *expected, *lines[end + 1 :]]
        outcome.new_text = newline.join(fresh) + newline
        return outcome
    if hand_edited:
        message = "summary block was edited by hand (fingerprint mismatch); it is generated"
        fix = f"move the change into a ledger, then run {spec.refresh_command} --force"
    else:
        message = "summary block is stale: the ledgers changed since it was generated"
        fix = f"run {spec.refresh_command}"
    report.findings.append(
        Finding(spec.file, start + 1, f"SUMMARY-{outcome.state.upper()}", message, fix)
    )
    return outcome
