"""Markdown facts for the checkers, from a CommonMark parser (markdown-it-py), not regexes.

One parse per file yields what every check needs: headings with GitHub anchors,
links with line numbers, code blocks and inline code. The parse is pure (text in,
facts out); parsing many texts on every CPU lives in ``parse_many_packed`` (the
caller reads each file once, see ``RepoView.facts``).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, SpawnContext
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError

MARKDOWN_SUFFIXES = (".md", ".markdown")
# Below this many files a process pool costs more than it saves.
PARALLEL_MIN_FILES = 200
# Files per unit of work handed to a helper process (or parsed by this one).
CHUNK_FILES = 10
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


# In ASCII the kept characters are exactly these: letters and digits (L, N),
# "_" (the only ASCII Pc), "-" and space. Pinned against unicodedata by a test.
_ASCII_DROPPED = re.compile(r"[^a-z0-9 _-]")


def github_slug_base(text: str) -> str:
    """GitHub's heading slug before de-duplication (github-slugger's rule).

    Lower-case; drop every character that is not a letter, mark, number,
    connector punctuation (``_``), hyphen or space; each space becomes ``-``.
    """
    lowered = text.lower()
    if lowered.isascii():
        return _ASCII_DROPPED.sub("", lowered).replace(" ", "-")
    kept = []
    for ch in lowered:
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
    # The post-passes only pair emphasis delimiters (there are none without the
    # emphasis rule) and merge adjacent text tokens (text is not collected).
    md.inline.ruler2.disable(["emphasis", "balance_pairs", "fragments_join"])
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


# Characters at which some inline rule of the commonmark preset can start
# (newline, escape, backticks, emphasis, link, image, autolink, html_inline,
# entity). Text without any of them parses to itself as one text token; a test
# pins this set against the preset's enabled rules.
_INLINE_STARTS = frozenset("\n\\`*_[]!<&")


def _plain(content: str) -> bool:
    """Would every inline rule pass this text by (so it shows as written)?"""
    return _INLINE_STARTS.isdisjoint(content)


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
            first_line = (token.map[0] if token.map else 0) + 1
            if is_heading and _plain(content):
                # No inline rule can fire: the shown text is the source text.
                heading_text = content.strip()
                slug = slugger.slug(heading_text)
                anchors.add(slug)
                level = int(tokens[index - 1].tag[1:])
                headings.append(Heading(first_line, level, heading_text, slug))
                continue
            children: list[Token] = []
            parser = _FULL if is_heading else _LINKS
            parser.inline.parse(content, parser, env, children)
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
            f"{rel}: cannot read: {exc.strerror}", code=ErrorCode.UNREADABLE_FILE
        ) from exc


def decode_text(rel: str, data: bytes) -> str:
    """A file's bytes as text; non-UTF-8 is bad input (exit 2)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{rel}: not UTF-8 text (byte {exc.start})", code=ErrorCode.UNREADABLE_FILE
        ) from exc


def read_text(root: Path, rel: str) -> str:
    """A repository file as text; unreadable or non-UTF-8 is bad input (exit 2)."""
    return decode_text(rel, read_bytes(root, rel))


# Facts as plain lists and tuples: what helper processes send back (pickling
# thousands of frozen dataclasses costs more than a second CPU saves) and what
# the facts cache stores as JSON. Code block text is not kept.
Packed = tuple[
    list[tuple[int, int, str, str]],
    list[str],
    list[tuple[int, str, bool]],
    list[tuple[int, int, str, bool]],
]


def pack(facts: MarkdownFacts) -> Packed:
    return (
        [(h.line, h.level, h.text, h.slug) for h in facts.headings],
        sorted(facts.anchors),
        [(link.line, link.href, link.image) for link in facts.links],
        [(b.start, b.end, b.info, b.fenced) for b in facts.code_blocks],
    )


def unpack(packed: Packed) -> MarkdownFacts:
    """The facts back from ``pack`` (trusted input: see ``cache.decode`` for stored)."""
    headings, anchors, links, blocks = packed
    return MarkdownFacts(
        headings=tuple(Heading(*h) for h in headings),
        anchors=frozenset(anchors),
        links=tuple(Link(*link) for link in links),
        code_blocks=tuple(CodeBlock(a, b, c, "", d) for a, b, c, d in blocks),
    )


def _parse_packed(text: str) -> tuple[MarkdownFacts, Packed]:
    facts = parse_markdown(text, code_content=False)
    return facts, pack(facts)


def _claim(counter: Synchronized[int]) -> int:
    with counter.get_lock():
        number = counter.value
        counter.value = number + 1
    return number


def _helper(
    chunks: Sequence[Sequence[tuple[str, str]]], counter: Synchronized[int], conn: Connection
) -> None:
    """Helper-process body: claim chunks until none are left, then send packed facts."""
    out: list[tuple[str, Packed]] = []
    try:
        while (number := _claim(counter)) < len(chunks):
            out += [(rel, _parse_packed(text)[1]) for rel, text in chunks[number]]
    finally:
        conn.send(out)
        conn.close()


def _pool_context() -> ForkContext | SpawnContext:
    # fork is cheap and safe while this process has a single thread (and the
    # helpers inherit the texts instead of receiving them); otherwise, or on
    # platforms without fork, start clean interpreters.
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def parse_many_packed(
    texts: Mapping[str, str], *, jobs: int | None = None
) -> dict[str, tuple[MarkdownFacts, Packed]]:
    """Facts, and their packed form, for many documents on up to ``jobs`` CPUs.

    ``jobs`` defaults to every CPU (at most 8). This process parses too: it and
    the helper processes claim chunks from one shared counter, so the work
    balances itself whatever a helper's start-up cost; helpers send packed
    facts once, at the end. A file a helper did not deliver (it died) is
    parsed here. Facts never depend on who parsed them (a test pins parallel
    == serial).
    """
    with _heap_frozen():
        return _parse_all(list(texts.items()), jobs)


@contextlib.contextmanager
def _heap_frozen() -> Iterator[None]:
    """Keep the garbage collector off the objects that exist before a bulk parse.

    Parsing keeps many objects alive (the facts), which triggers full
    collections; each would walk every object the process already had (all
    its imported modules), in this process and, through fork, in the helpers
    (touching their inherited pages). ``gc.freeze`` takes those objects out of
    collection until ``gc.unfreeze``; nothing is lost, they are only collected
    later. A caller's own freeze is left alone.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _parse_all(
    items: list[tuple[str, str]], jobs: int | None
) -> dict[str, tuple[MarkdownFacts, Packed]]:
    parsers = jobs if jobs is not None else min(os.cpu_count() or 1, 8)
    # A daemonic process (a multiprocessing.Pool worker) may not start helpers.
    if parsers <= 1 or len(items) < PARALLEL_MIN_FILES or multiprocessing.current_process().daemon:
        return {rel: _parse_packed(text) for rel, text in items}
    size = max(1, min(CHUNK_FILES, -(-len(items) // (parsers * 4))))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    context = _pool_context()
    counter = context.Value(ctypes.c_int, 0)
    helpers = []
    for _ in range(parsers - 1):
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_helper, args=(chunks, counter, sender), daemon=True)
        process.start()
        sender.close()
        helpers.append((process, receiver))
    out: dict[str, tuple[MarkdownFacts, Packed]] = {}
    delivered = False
    try:
        while (number := _claim(counter)) < len(chunks):
            out.update((rel, _parse_packed(text)) for rel, text in chunks[number])
        for _, receiver in helpers:
            with contextlib.suppress(EOFError, OSError):
                out.update((rel, (unpack(packed), packed)) for rel, packed in receiver.recv())
        delivered = True
    finally:
        for process, receiver in helpers:
            receiver.close()
            if not delivered:  # interrupted: a helper may wait forever to send
                process.terminate()
            process.join()
    for rel, text in items:
        if rel not in out:
            out[rel] = _parse_packed(text)
    return out


def parse_many(texts: Mapping[str, str], *, jobs: int | None = None) -> dict[str, MarkdownFacts]:
    """Facts for many documents (see ``parse_many_packed``)."""
    return {rel: facts for rel, (facts, _) in parse_many_packed(texts, jobs=jobs).items()}


def collect_facts(
    root: Path, rels: Sequence[str], *, jobs: int | None = None
) -> dict[str, MarkdownFacts]:
    """Read and parse many files (see ``parse_many``); each file is read once, here."""
    return parse_many({rel: read_text(root, rel) for rel in rels}, jobs=jobs)


def is_markdown(rel: str) -> bool:
    return rel.lower().endswith(MARKDOWN_SUFFIXES)
