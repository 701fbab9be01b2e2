"""``.gitignore`` rules for a plain directory (no git): what ``git status`` would skip.

Implements git's pattern language: ``#`` comments, ``!`` negation, a trailing
``/`` for directories only, a ``/`` anywhere else anchors the pattern to the
directory of its ``.gitignore``, ``*``, ``?``, ``[...]`` and ``**``. The last
matching pattern wins, deeper files override shallower ones, and nothing below
an ignored directory can be re-included (git does not look inside it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IGNORE_FILE = ".gitignore"


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    base: str  # directory of the .gitignore, "" for the root, else "a/b/"
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def _translate(body: str) -> str:
    """A gitignore glob (without anchoring) as a regex over a POSIX path."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("/**", i) and i + 3 == len(body):
            out.append("/.*")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            end = body.find("]", i + 2)
            if end < 0:
                out.append(re.escape(ch))
                i += 1
                continue
            inner = body[i + 1 : end]
            if inner[:1] in ("!", "^"):
                inner = "^" + inner[1:]
            out.append("[" + inner.replace("\\", "\\\\") + "]")
            i = end + 1
        elif ch == "\\" and i + 1 < len(body):
            out.append(re.escape(body[i + 1]))
            i += 2
        else:
            out.append(re.escape(ch))
            i += 1
    return "".join(out)


def parse_rules(text: str, base: str) -> list[IgnoreRule]:
    """The rules of one ``.gitignore`` whose directory is ``base`` ("" or "dir/")."""
    rules: list[IgnoreRule] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if raw.endswith("\\ "):  # an escaped trailing space is kept
            line += " "
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        elif line.startswith("\\"):
            line = line[1:] if line[1:2] in ("#", "!") else line
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        body = _translate(line)
        pattern = body if anchored else f"(?:.*/)?{body}"
        try:
            regex = re.compile(pattern)
        except re.error:  # git skips a pattern it cannot read; so do we
            continue
        rules.append(IgnoreRule(base, regex, negate, dir_only))
    return rules


def is_ignored(rules: list[IgnoreRule], path: str, is_dir: bool) -> bool:
    """Does the last rule that matches ``path`` (repository-relative) ignore it?"""
    ignored = False
    for rule in rules:
        if rule.dir_only and not is_dir:
            continue
        if rule.base and not path.startswith(rule.base):
            continue
        if rule.regex.fullmatch(path[len(rule.base) :]) is not None:
            ignored = not rule.negate
    return ignored
