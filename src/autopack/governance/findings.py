"""Findings, glob patterns and the ratchet rule every allowlist obeys."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One problem, printed as ``path:line: RULE-ID message (fix: hint)``."""

    path: str
    line: int
    rule: str
    message: str
    fix: str = ""

    def render(self) -> str:
        text = f"{self.path}:{self.line}: {self.rule} {self.message}"
        return f"{text} (fix: {self.fix})" if self.fix else text


@dataclass(slots=True)
class Report:
    """What a check found plus counts for its summary line."""

    check: str
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def sorted_findings(self) -> list[Finding]:
        return sorted(set(self.findings))

    def summary_line(self) -> str:
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


def json_line(text: str, value: str) -> int:
    """Line of the first occurrence of ``"value"`` in a JSON text (1 if absent)."""
    index = text.find(f'"{value}"')
    return text.count("\n", 0, index) + 1 if index >= 0 else 1


def ratchet_order(
    registry_path: str, registry_text: str, name: str, entries: Sequence[str]
) -> list[Finding]:
    """An allowlist must be sorted and unique, so a diff shows exactly what changed."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for entry in entries:
        if entry in seen:
            findings.append(
                Finding(
                    registry_path,
                    json_line(registry_text, entry),
                    "RATCHET-DUPLICATE",
                    f"{name}: {entry!r} is listed twice",
                    "remove the duplicate",
                )
            )
        seen.add(entry)
    if list(entries) != sorted(entries):
        first = next(a for a, b in zip(entries, sorted(entries), strict=True) if a != b)
        findings.append(
            Finding(
                registry_path,
                json_line(registry_text, first),
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
        Finding(
            registry_path,
            json_line(registry_text, entry),
            "RATCHET-STALE",
            f"{name}: {entry!r} matches nothing",
            "delete the entry",
        )
        for entry in unused
    ]
