"""Findings, glob patterns and the ratchet rule every allowlist obeys."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, printed as ``path:line:column: RULE-ID message [matched] (fix: hint)``.

    ``column`` is 1-based; ``matched`` is the text the rule matched (empty when
    the problem is the file as a whole); ``reason`` is why the rule exists
    (shown with ``--verbose``).
    """

    path: str
    line: int
    rule: str
    message: str
    fix: str = ""
    column: int = 1
    matched: str = ""
    reason: str = ""

    def sort_key(self) -> tuple[str, int, int, str, str, str]:
        return (self.path, self.line, self.column, self.rule, self.message, self.matched)

    def render(self, *, verbose: bool = False) -> str:
        text = f"{self.path}:{self.line}:{self.column}: {self.rule} {self.message}"
        if self.matched:
            text += f" [{self.matched}]"
        if self.fix:
            text += f" (fix: {self.fix})"
        if verbose and self.reason:
            text += f"\n    why: {self.reason}"
        return text


@dataclass(slots=True)
class Report:
    """What a check found plus counts for its summary line."""

    check: str
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    # Set when the registry has no section for this check: nothing was checked.
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    def sorted_findings(self) -> list[Finding]:
        return sorted(set(self.findings), key=Finding.sort_key)

    def summary_line(self) -> str:
        if self.skipped is not None:
            return f"{self.check}: skipped ({self.skipped})"
        counts = ", ".join(f"{key} {value}" for key, value in sorted(self.stats.items()))
        verdict = "ok" if self.ok else f"{len(set(self.findings))} finding(s)"
        return f"{self.check}: {verdict} ({counts})" if counts else f"{self.check}: {verdict}"


@lru_cache(maxsize=1024)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A path glob as a regex over POSIX relative paths.

    ``**`` crosses directories, ``*`` and ``?`` stay inside one segment and a
    trailing ``/`` means "this directory and everything below it".
    """
    if pattern.endswith("/"):
        pattern += "**"
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def glob_match(pattern: str, path: str) -> bool:
    return glob_regex(pattern).fullmatch(path) is not None


def locate(text: str, value: str) -> tuple[int, int]:
    """(line, column) of the first quoted ``value`` in a JSON or TOML text ((1, 1) if absent)."""
    index = -1
    for quoted in (f'"{value}"', f"'{value}'", value):
        index = text.find(quoted)
        if index >= 0:
            break
    if index < 0:
        return 1, 1
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def registry_finding(
    registry_path: str, registry_text: str, entry: str, rule: str, message: str, fix: str
) -> Finding:
    """A finding about one registry entry, pointing at where the entry is written."""
    line, column = locate(registry_text, entry)
    return Finding(registry_path, line, rule, message, fix, column=column, matched=entry)


def ratchet_order(
    registry_path: str, registry_text: str, name: str, entries: Sequence[str]
) -> list[Finding]:
    """An allowlist must be sorted and unique, so a diff shows exactly what changed."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for entry in entries:
        if entry in seen:
            findings.append(
                registry_finding(
                    registry_path,
                    registry_text,
                    entry,
                    "RATCHET-DUPLICATE",
                    f"{name}: {entry!r} is listed twice",
                    "remove the duplicate",
                )
            )
        seen.add(entry)
    if list(entries) != sorted(entries):
        first = next(a for a, b in zip(entries, sorted(entries), strict=True) if a != b)
        findings.append(
            registry_finding(
                registry_path,
                registry_text,
                first,
                "RATCHET-UNSORTED",
                f"{name} is not sorted (first out of place: {first!r})",
                "sort the list",
            )
        )
    return findings


def ratchet_unused(
    registry_path: str, registry_text: str, name: str, unused: Iterable[str]
) -> list[Finding]:
    """An allowlist entry that matches nothing is a hole waiting to be used: fail."""
    return [
        registry_finding(
            registry_path,
            registry_text,
            entry,
            "RATCHET-STALE",
            f"{name}: {entry!r} matches nothing",
            "delete the entry",
        )
        for entry in unused
    ]
