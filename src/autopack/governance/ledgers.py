"""Ledgers: append-only history files with a machine-readable index.

Format (checked here, described at the top of every ledger):

    <!-- LEDGER_INDEX_START -->
    | ID | Date | Title |            (more columns may follow, e.g. Status)
    | --- | --- | --- |
    | DEC-001 | 2026-11-24 | One line title |
    <!-- LEDGER_INDEX_END -->

    ## DEC-001: One line title

Ids are PREFIX-NNN, start at 001, have no gaps, ascend in file order and
appear exactly once in the index and once as a level-2 heading, with the same
title. Dates are ISO (YYYY-MM-DD) and never decrease.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from autopack.governance.findings import Finding
from autopack.governance.markdown import MarkdownFacts
from autopack.governance.registry import LedgerSpec

INDEX_START = "<!-- LEDGER_INDEX_START -->"
INDEX_END = "<!-- LEDGER_INDEX_END -->"
BASE_COLUMNS = ("ID", "Date", "Title")
# (line, rule, message, fix) -> records a finding
_Bad = Callable[[int, str, str, str], None]
_SEPARATOR = re.compile(r"^\|?(\s*:?-{3,}:?\s*\|)+\s*:?-*:?\s*$")


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: str
    number: int
    date: date
    title: str
    line: int
    extra: tuple[tuple[str, str], ...] = ()

    def column(self, name: str) -> str | None:
        return dict(self.extra).get(name)


@dataclass(slots=True)
class Ledger:
    spec: LedgerSpec
    entries: list[LedgerEntry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def latest(self) -> LedgerEntry | None:
        return max(self.entries, key=lambda e: e.number, default=None)


def _cells(line: str) -> list[str]:
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|"):
        body = body[:-1]
    return [cell.strip() for cell in body.split("|")]


def parse_ledger(spec: LedgerSpec, text: str, facts: MarkdownFacts) -> Ledger:
    ledger = Ledger(spec)
    path = spec.path
    id_re = re.compile(rf"{re.escape(spec.id_prefix)}-(\d{{3,}})")

    def bad(line: int, rule: str, message: str, fix: str) -> None:
        ledger.findings.append(Finding(path, line, rule, message, fix))

    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == INDEX_START]
    ends = [i for i, line in enumerate(lines) if line.strip() == INDEX_END]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        bad(
            1, "LEDGER-INDEX", "needs exactly one index block", f"add {INDEX_START} ... {INDEX_END}"
        )
        return ledger
    rows = [(i + 1, line) for i, line in enumerate(lines[starts[0] + 1 : ends[0]], starts[0] + 1)]
    rows = [(n, line) for n, line in rows if line.strip()]
    if not rows or tuple(_cells(rows[0][1])[:3]) != BASE_COLUMNS:
        bad(starts[0] + 1, "LEDGER-INDEX", "index header must start | ID | Date | Title |", "")
        return ledger
    header = _cells(rows[0][1])
    for number, line in rows[1:]:
        if _SEPARATOR.match(line.strip()):
            continue
        cells = _cells(line)
        if len(cells) != len(header):
            bad(number, "LEDGER-ROW", f"row has {len(cells)} cells, header {len(header)}", "")
            continue
        match = id_re.fullmatch(cells[0])
        if match is None:
            bad(number, "LEDGER-ROW", f"id {cells[0]!r} is not {spec.id_prefix}-NNN", "")
            continue
        try:
            when = date.fromisoformat(cells[1])
        except ValueError:
            bad(number, "LEDGER-ROW", f"date {cells[1]!r} is not YYYY-MM-DD", "")
            continue
        extra = tuple(zip(header[3:], cells[3:], strict=True))
        entry = LedgerEntry(cells[0], int(match.group(1)), when, cells[2], number, extra)
        ledger.entries.append(entry)
    _check_order(ledger, bad)
    _check_sections(ledger, facts, id_re, bad)
    return ledger


def _check_order(ledger: Ledger, bad: _Bad) -> None:
    seen: set[str] = set()
    previous: LedgerEntry | None = None
    for expected, entry in enumerate(ledger.entries, start=1):
        if entry.id in seen:
            bad(entry.line, "LEDGER-DUPLICATE", f"{entry.id} appears twice in the index", "")
        seen.add(entry.id)
        if entry.number != expected:
            bad(
                entry.line,
                "LEDGER-ORDER",
                f"{entry.id} out of sequence: expected {ledger.spec.id_prefix}-{expected:03d}",
                "ids start at 001, ascend by one and entries are never removed",
            )
        if previous is not None and entry.date < previous.date:
            bad(entry.line, "LEDGER-DATE", f"{entry.id} is dated before {previous.id}", "")
        previous = entry


def _check_sections(
    ledger: Ledger, facts: MarkdownFacts, id_re: re.Pattern[str], bad: _Bad
) -> None:
    sections: list[tuple[str, str, int]] = []
    for heading in facts.headings:
        head, sep, title = heading.text.partition(": ")
        if heading.level == 2 and id_re.fullmatch(head) and sep:
            sections.append((head, title.strip(), heading.line))
        elif heading.text.startswith(f"{ledger.spec.id_prefix}-"):
            bad(
                heading.line,
                "LEDGER-SECTION",
                f"heading {heading.text!r} is not '## {ledger.spec.id_prefix}-NNN: Title'",
                "",
            )
    indexed = [(e.id, e.title) for e in ledger.entries]
    written = [(s[0], s[1]) for s in sections]
    if indexed == written:
        return
    index_ids = [e.id for e in ledger.entries]
    section_ids = [s[0] for s in sections]
    for ident, title, line in sections:
        if ident not in index_ids:
            bad(line, "LEDGER-MISMATCH", f"section {ident} has no index row", "add the row")
        elif (ident, title) not in indexed:
            bad(line, "LEDGER-MISMATCH", f"{ident}: heading title differs from the index", "")
    for entry in ledger.entries:
        if entry.id not in section_ids:
            bad(
                entry.line, "LEDGER-MISMATCH", f"{entry.id} has no '## {entry.id}: ...' section", ""
            )
    if set(index_ids) == set(section_ids) and index_ids != section_ids:
        bad(sections[0][2], "LEDGER-MISMATCH", "sections are not in index order", "")
