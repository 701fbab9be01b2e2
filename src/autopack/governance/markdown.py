"""Markdown facts for the checkers, from a CommonMark parser (markdown-it-py), not regexes.

One parse per file yields what every check needs: headings with GitHub anchors,
links with line numbers, code blocks and inline code. The parse is pure (text in,
facts out); reading files in bulk, possibly in parallel, lives in ``collect_facts``.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from autopack.domain.errors import InvalidInputError

MARKDOWN_SUFFIXES = (".md", ".markdown")
# Below this many files a process pool costs more than it saves.
PARALLEL_MIN_FILES = 200
_HTML_ANCHOR = re.compile(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
# Where newline, escape, backticks, link, image, autolink and html_inline start.
_LINK_TERMINATORS = re.compile(r"[\n\\`\[\]!<]")


@dataclass(frozen=True, slots=True)
class Heading:
    line: int  # 1-based
    level: int
    text: str
    slug: str


@dataclass(frozen=True, slots=True)
class Link:
    line: int
    href: str
    image: bool = False


@dataclass(frozen=True, slots=True)
class CodeBlock:
    start: int  # first line of the block (the opening fence for fenced blocks), 1-based
    end: int  # last line, inclusive
    info: str  # fence info string ("bash", "yaml", ...); "" for indented code
    content: str
    fenced: bool

    @property
    def language(self) -> str:
        return self.info.split(maxsplit=1)[0].lower() if self.info.strip() else ""

    @property
    def content_start(self) -> int:
        """Line number of the first content line."""
        return self.start + 1 if self.fenced else self.start


@dataclass(frozen=True, slots=True)
class InlineCode:
    line: int
    content: str


@dataclass(frozen=True, slots=True)
class MarkdownFacts:
    headings: tuple[Heading, ...]
    anchors: frozenset[str]
    links: tuple[Link, ...]
    code_blocks: tuple[CodeBlock, ...]
    inline_code: tuple[InlineCode, ...] = field(default=())

    def code_lines(self) -> frozenset[int]:
        """Every 1-based line that belongs to a code block, fences included."""
        lines: set[int] = set()
        for block in self.code_blocks:
            lines.update(range(block.start, block.end + 1))
        return frozenset(lines)


def github_slug_base(text: str) -> str:
    """GitHub's heading slug before de-duplication (github-slugger's rule).

    Lower-case; drop every character that is not a letter, mark, number,
    connector punctuation (``_``), hyphen or space; each space becomes ``-``.
    """
    kept = []
    for ch in text.lower():
        if ch in " -_" or unicodedata.category(ch)[0] in "LMN" or unicodedata.category(ch) == "Pc":
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


class Slugger:
    """Unique slugs in document order: duplicates get ``-1``, ``-2``, ..."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def slug(self, text: str) -> str:
        original = github_slug_base(text)
        result = original
        while result in self._seen:
            self._seen[original] += 1
            result = f"{original}-{self._seen[original]}"
        self._seen[result] = 0
        return result


def _block_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark")
    # Inline parsing is most of the cost; it runs per token, only where needed.
    md.core.ruler.disable(["inline", "text_join"])
    return md


def _link_parser() -> MarkdownIt:
    """Inline rules that decide where links are; emphasis and entities cannot move them."""
    md = MarkdownIt("commonmark")
    md.inline.ruler.disable(["emphasis", "entity"])
    md.inline.ruler2.disable(["emphasis"])
    # The text rule runs up to the next character some rule may start at; with
    # emphasis and entities off, only these remain, so text runs are longer.
    md.inline.terminator_re = _LINK_TERMINATORS
    # Keep destinations as written: the link checker decodes them itself, once.
    md.normalizeLink = _as_written  # type: ignore[method-assign]
    return md


def _as_written(url: str) -> str:
    return url


_BLOCK = _block_parser()
_LINKS = _link_parser()
_FULL = MarkdownIt("commonmark")  # headings: the shown text needs every inline rule
_FULL.normalizeLink = _as_written  # type: ignore[method-assign]


def _may_link(content: str, env: dict[str, Any]) -> bool:
    """Can this inline content hold a link, an image or an HTML anchor?

    CommonMark inline links and images need ``](`` with nothing between; other
    links are autolinks or HTML (``<``) or references, which need a definition
    (collected by the block pass) and a ``]``.
    """
    return "](" in content or "<" in content or (bool(env.get("references")) and "]" in content)


def _inline_text(children: Sequence[Token]) -> str:
    """The text a browser shows for a heading (GitHub slugs this, not the source)."""
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "text_special", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts)


def parse_markdown(
    text: str, *, inline_code: bool = False, code_content: bool = True
) -> MarkdownFacts:
    """Facts about one Markdown document.

    With ``inline_code`` every paragraph is parsed to collect code spans;
    otherwise only headings and inline text that can hold a link are.
    Without ``code_content`` code blocks keep their lines but not their text
    (bulk scans ship facts between processes; the text is dead weight there).
    """
    env: dict[str, Any] = {}
    state = StateCore(text, _BLOCK, env)
    _BLOCK.core.process(state)
    headings: list[Heading] = []
    anchors: set[str] = set()
    links: list[Link] = []
    blocks: list[CodeBlock] = []
    spans: list[InlineCode] = []
    slugger = Slugger()
    tokens = state.tokens
    for index, token in enumerate(tokens):
        kind = token.type
        if kind in ("fence", "code_block"):
            start, end = token.map if token.map else (0, 0)
            fenced = kind == "fence"
            body = token.content if code_content else ""
            blocks.append(CodeBlock(start + 1, end, token.info.strip(), body, fenced))
        elif kind == "html_block":
            anchors.update(_HTML_ANCHOR.findall(token.content))
        elif kind == "inline":
            is_heading = index > 0 and tokens[index - 1].type == "heading_open"
            content = token.content
            if not (is_heading or inline_code or _may_link(content, env)):
                continue
            children: list[Token] = []
            parser = _FULL if is_heading else _LINKS
            parser.inline.parse(content, parser, env, children)
            first_line = (token.map[0] if token.map else 0) + 1
            _collect_inline(children, first_line, links, anchors, spans if inline_code else None)
            if is_heading:
                level = int(tokens[index - 1].tag[1:])
                heading_text = _inline_text(children).strip()
                slug = slugger.slug(heading_text)
                anchors.add(slug)
                headings.append(Heading(first_line, level, heading_text, slug))
    return MarkdownFacts(
        headings=tuple(headings),
        anchors=frozenset(anchors),
        links=tuple(links),
        code_blocks=tuple(blocks),
        inline_code=tuple(spans),
    )


def _collect_inline(
    children: Iterable[Token],
    first_line: int,
    links: list[Link],
    anchors: set[str],
    spans: list[InlineCode] | None,
) -> None:
    line = first_line
    for child in children:
        kind = child.type
        if kind in ("softbreak", "hardbreak"):
            line += 1
        elif kind == "link_open":
            href = child.attrGet("href")
            if isinstance(href, str):
                links.append(Link(line, href))
        elif kind == "image":
            src = child.attrGet("src")
            if isinstance(src, str):
                links.append(Link(line, src, image=True))
        elif kind == "html_inline":
            anchors.update(_HTML_ANCHOR.findall(child.content))
        elif kind == "code_inline" and spans is not None:
            spans.append(InlineCode(line, child.content))


def read_bytes(root: Path, rel: str) -> bytes:
    """A repository file's bytes; unreadable is bad input (exit 2)."""
    try:
        return (root / rel).read_bytes()
    except OSError as exc:
        raise InvalidInputError(
            f"{rel}: cannot read: {exc.strerror}", code="unreadable_file"
        ) from exc


def read_text(root: Path, rel: str) -> str:
    """A repository file as text; unreadable or non-UTF-8 is bad input (exit 2)."""
    data = read_bytes(root, rel)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{rel}: not UTF-8 text (byte {exc.start})", code="unreadable_file"
        ) from exc


def _facts_for(root: str, rels: Sequence[str]) -> list[tuple[str, MarkdownFacts | str]]:
    """Worker body: facts per file, or the bad-input message for that file."""
    out: list[tuple[str, MarkdownFacts | str]] = []
    base = Path(root)
    for rel in rels:
        try:
            out.append((rel, parse_markdown(read_text(base, rel), code_content=False)))
        except InvalidInputError as exc:
            out.append((rel, exc.message))
    return out


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork is cheap and safe while this process has a single thread; otherwise
    # (or on platforms without fork) start clean interpreters.
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def collect_facts(
    root: Path, rels: Sequence[str], *, jobs: int | None = None
) -> dict[str, MarkdownFacts]:
    """Parse many files, in worker processes when there are enough of them."""
    # One CPU stays with this process; on two CPUs a pool measured slower than none.
    workers = jobs if jobs is not None else min((os.cpu_count() or 1) - 1, 8)
    if workers <= 1 or len(rels) < PARALLEL_MIN_FILES:
        results = _facts_for(str(root), rels)
    else:
        size = -(-len(rels) // (workers * 4))
        chunks = [rels[i : i + size] for i in range(0, len(rels), size)]
        with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
            results = [
                item
                for part in pool.map(_facts_for, [str(root)] * len(chunks), chunks)
                for item in part
            ]
    facts: dict[str, MarkdownFacts] = {}
    for rel, value in results:
        if isinstance(value, str):
            raise InvalidInputError(value, code="unreadable_file")
        facts[rel] = value
    return facts


def is_markdown(rel: str) -> bool:
    return rel.lower().endswith(MARKDOWN_SUFFIXES)
