"""A disposable cache of Markdown facts, keyed by file content, inside the git directory.

Parsing is most of a docs check's time and most files do not change between
runs, so facts are reused for identical bytes. The cache lives in the work
tree's git directory (``<git dir>/autopack/``): every checked repository has
one, git never lists it, and nothing in the work tree changes. A missing,
corrupt or stale-format cache is simply rebuilt; it can never change a result,
because the key is the exact content and the parser version.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

from autopack.governance.markdown import CodeBlock, Heading, Link, MarkdownFacts, Packed, pack

# Bump when parse_markdown or MarkdownFacts change meaning.
FORMAT = 1
CACHE_NAME = "docs-facts.json"


def content_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _stamp() -> str:
    return f"{FORMAT}/markdown-it-py {version('markdown-it-py')}"


def encode(facts: MarkdownFacts) -> Packed:
    """The stored form is the packed one (JSON turns its tuples into lists)."""
    return pack(facts)


def decode(raw: list[Any]) -> MarkdownFacts:
    headings, anchors, links, blocks = raw
    return MarkdownFacts(
        headings=tuple(Heading(int(a), int(b), str(c), str(d)) for a, b, c, d in headings),
        anchors=frozenset(str(a) for a in anchors),
        links=tuple(Link(int(a), str(b), bool(c)) for a, b, c in links),
        code_blocks=tuple(CodeBlock(int(a), int(b), str(c), "", bool(d)) for a, b, c, d in blocks),
    )


class FactsCache:
    """Content-hash -> facts, loaded once per check and written back if it grew."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, Any] = {}
        self.used: set[str] = set()
        self.dirty = False
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            data = json.loads(path.read_text(encoding="utf-8"))
            if data["stamp"] == _stamp():
                self.entries = dict(data["entries"])

    def get(self, key: str) -> MarkdownFacts | None:
        raw = self.entries.get(key)
        if raw is None:
            return None
        try:
            facts = decode(raw)
        except (ValueError, TypeError):  # a damaged entry is a miss, never an error
            return None
        self.used.add(key)
        return facts

    def put(self, key: str, facts: MarkdownFacts) -> None:
        self.put_packed(key, encode(facts))

    def put_packed(self, key: str, packed: Packed) -> None:
        """Store facts already packed (parsing produced that form anyway)."""
        self.entries[key] = packed
        self.used.add(key)
        self.dirty = True

    def save(self, keep_all_below: int) -> None:
        """Write atomically if anything changed; failures only cost speed.

        Entries of other versions of files stay (a run may check only some
        files) until there are ``keep_all_below`` of them; then only the
        entries this run used are kept, so the cache cannot grow forever.
        """
        if not self.dirty:
            return
        keep = self.entries
        if len(keep) >= keep_all_below:
            keep = {key: value for key, value in keep.items() if key in self.used}
        body = json.dumps({"stamp": _stamp(), "entries": keep})
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Governance may not import services.fsio (independent layers); this is
            # the same temp-file-and-rename, without fsync: a lost cache is rebuilt.
            fd, tmp = tempfile.mkstemp(prefix=".facts.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(body)
                Path(tmp).replace(self.path)
            except OSError:
                Path(tmp).unlink(missing_ok=True)
                raise
