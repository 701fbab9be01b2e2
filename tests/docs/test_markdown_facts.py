"""The Markdown facts every check relies on: GitHub slugs, links, code, and the fast parse."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import pytest
from docs_support import REPO, ledger_specs, living_docs
from markdown_it import MarkdownIt

from autopack.domain.errors import InvalidInputError
from autopack.governance import markdown as markdown_module
from autopack.governance.markdown import (
    PARALLEL_MIN_FILES,
    Slugger,
    collect_facts,
    github_slug_base,
    parse_many,
    parse_markdown,
)


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Hello World", "hello-world"),
        ("API: GET /health", "api-get-health"),
        ("What's new? (v0.1.0)", "whats-new-v010"),
        ("snake_case and kebab-case", "snake_case-and-kebab-case"),
        ("  two  spaces ", "--two--spaces-"),
        ("Ünïcode Straße", "ünïcode-straße"),
        ("C++ & C#", "c--c"),
    ],
)
def test_github_slug_rules(heading: str, slug: str) -> None:
    assert github_slug_base(heading) == slug


def test_duplicate_headings_get_numbered_suffixes() -> None:
    slugger = Slugger()
    assert [slugger.slug(t) for t in ["Usage", "Usage", "Usage-1", "Usage"]] == [
        "usage",
        "usage-1",
        "usage-1-1",
        "usage-2",
    ]


def test_heading_text_is_the_rendered_text() -> None:
    facts = parse_markdown("# The `autopack` *CLI* [guide](x.md)\n\n## A &amp; B\n\nSetext\n---\n")
    assert [(h.level, h.text, h.slug) for h in facts.headings] == [
        (1, "The autopack CLI guide", "the-autopack-cli-guide"),
        (2, "A & B", "a--b"),
        (2, "Setext", "setext"),
    ]


def test_links_have_lines_and_code_is_not_a_link() -> None:
    text = (
        "Intro [one](a.md)\n"
        "and ![img](pic.png) then [two][ref].\n"
        "\n"
        "```bash\n"
        "[not](a-link.md)\n"
        "```\n"
        "\n"
        "    [indented](code.md)\n"
        "\n"
        'Inline `[code](span.md)` <a id="custom"></a>\n'
        "\n"
        "[ref]: b.md#part\n"
    )
    facts = parse_markdown(text)
    assert [(link.line, link.href, link.image) for link in facts.links] == [
        (1, "a.md", False),
        (2, "pic.png", True),
        (2, "b.md#part", False),
    ]
    assert "custom" in facts.anchors
    assert facts.code_lines() >= {4, 5, 6, 8}
    assert 1 not in facts.code_lines()


def _reference(text: str) -> tuple[set[tuple[int, str]], set[str]]:
    """Links and anchors from markdown-it's full pipeline: the slow, obvious way."""
    md = MarkdownIt("commonmark")
    md.normalizeLink = lambda url: url  # type: ignore[method-assign]
    tokens = md.parse(text)
    links: set[tuple[int, str]] = set()
    anchors: set[str] = set()
    slugger = Slugger()
    for index, token in enumerate(tokens):
        if token.type != "inline" or token.map is None:
            continue
        line = token.map[0] + 1
        children: list[Any] = token.children or []
        for child in children:
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            elif child.type == "link_open":
                links.add((line, str(child.attrGet("href"))))
            elif child.type == "image":
                links.add((line, str(child.attrGet("src"))))
        if index and tokens[index - 1].type == "heading_open":
            shown = "".join(
                c.content for c in children if c.type in ("text", "code_inline", "text_special")
            )
            anchors.add(slugger.slug(shown.strip()))
    return links, anchors


@pytest.mark.parametrize("rel", [*living_docs(), *[spec.path for spec in ledger_specs()]])
def test_fast_parse_equals_the_full_pipeline_on_every_doc(rel: str) -> None:
    text = (REPO / rel).read_text(encoding="utf-8")
    facts = parse_markdown(text)
    links, anchors = _reference(text)
    assert {(link.line, link.href) for link in facts.links} == links
    assert {h.slug for h in facts.headings} == anchors


def test_parallel_collection_equals_serial(tmp_path: Path) -> None:
    rels = []
    for i in range(PARALLEL_MIN_FILES + 10):
        rel = f"f{i}.md"
        text = f"# Title {i}\n\n[next](f{i + 1}.md#title-{i + 1}) and [self](#title-{i})\n"
        (tmp_path / rel).write_text(text, encoding="utf-8")
        rels.append(rel)
    parallel = collect_facts(tmp_path, rels, jobs=2)
    assert parallel == collect_facts(tmp_path, rels, jobs=1)
    assert parallel["f3.md"].anchors == frozenset({"title-3"})


def test_non_utf8_file_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_bytes(b"# caf\xe9\n")
    with pytest.raises(InvalidInputError, match=r"bad\.md: not UTF-8"):
        collect_facts(tmp_path, ["bad.md"], jobs=1)


TRICKY = [
    "*emphasis around [a link](a.md)* and **[bold](b.md#x)**",
    "`code [not](a.md)` then [yes](c.md) and \\[escaped](d.md)",
    '&#91;entity](e.md) and [x](<spaced name.md>) and [t](f.md "title")',
    "<https://example.invalid/auto> and <a href='g.md'>html</a> [![img](i.png)](h.md)",
    "[outer [inner](j.md)](k.md) and [ref][] and [Ref]\n\n[ref]: l.md",
    "_under_[m](m.md)_ and ~~[n](n.md)~~ and [o](o.md#frag%20ment)",
    "line one [p](p.md)\nline two `span\nacross` [q](q.md)  \nhard [r](r.md)",
]


@pytest.mark.parametrize("text", TRICKY)
def test_fast_parse_equals_the_full_pipeline_on_tricky_inline(text: str) -> None:
    doc = f"# Head\n\n{text}\n\n- item {text.splitlines()[0]}\n\n> quote {text.splitlines()[0]}\n"
    links, anchors = _reference(doc)
    facts = parse_markdown(doc)
    assert {(link.line, link.href) for link in facts.links} == links
    assert {h.slug for h in facts.headings} == anchors


def _slug_by_unicodedata(text: str) -> str:
    """github-slugger's rule spelled out per character, no fast path."""
    kept = [
        ch
        for ch in text.lower()
        if ch in " -_" or unicodedata.category(ch)[0] in "LMN" or unicodedata.category(ch) == "Pc"
    ]
    return "".join(kept).replace(" ", "-")


def test_ascii_slug_fast_path_equals_the_unicode_rule() -> None:
    every_ascii = "".join(chr(i) for i in range(128))
    assert github_slug_base(every_ascii) == _slug_by_unicodedata(every_ascii)
    for ch in every_ascii:
        assert github_slug_base(f"A{ch}b") == _slug_by_unicodedata(f"A{ch}b"), repr(ch)
    mixed = "Ünïcode and ASCII_stuff (v1.0) — dash"
    assert github_slug_base(mixed) == _slug_by_unicodedata(mixed)


def test_plain_heading_shortcut_covers_every_enabled_inline_rule() -> None:
    """Headings without any rule's start character skip the inline parse.

    That is only sound while the preset's inline rules are these; a new rule
    (or markdown-it-py enabling one) must extend ``_INLINE_STARTS``.
    """
    enabled = set(markdown_module._FULL.inline.ruler.get_active_rules())
    assert enabled == {
        "text",
        "newline",
        "escape",
        "backticks",
        "emphasis",
        "link",
        "image",
        "autolink",
        "html_inline",
        "entity",
    }
    assert set(markdown_module._FULL.inline.ruler2.get_active_rules()) == {
        "balance_pairs",
        "emphasis",
        "fragments_join",
    }
    assert frozenset("\n\\`*_[]!<&") == markdown_module._INLINE_STARTS


def test_plain_heading_shortcut_equals_the_full_pipeline() -> None:
    # Every printable ASCII character inside a heading, alone and in context.
    specials = [chr(i) for i in range(32, 127)] + ["&amp;", "&#35;", "\\*", "é", "\u00a0", "\t"]
    lines = [f"## Word {ch} word {ch}{ch} end" for ch in specials]
    lines += [f"# {ch}" for ch in specials if ch not in "#"]
    lines += ["Setext *emphasis*", "===", "", "Setext plain", "---"]
    doc = "\n\n".join(lines) + "\n"
    shown = _reference_headings(doc)
    assert [(h.line, h.text) for h in parse_markdown(doc).headings] == shown
    assert {h.slug for h in parse_markdown(doc).headings} == _reference(doc)[1]


def _reference_headings(text: str) -> list[tuple[int, str]]:
    md = MarkdownIt("commonmark")
    tokens = md.parse(text)
    out = []
    for index, token in enumerate(tokens):
        if token.type == "inline" and index and tokens[index - 1].type == "heading_open":
            assert token.map is not None
            children: list[Any] = token.children or []
            shown = "".join(
                c.content if c.type in ("text", "code_inline", "text_special") else "\n"
                for c in children
                if c.type in ("text", "code_inline", "text_special", "softbreak", "hardbreak")
            )
            out.append((token.map[0] + 1, shown.strip()))
    return out


def test_parallel_parse_equals_serial_on_rich_documents() -> None:
    """Facts survive the trip between processes unchanged (packing included)."""
    body = "\n\n".join(TRICKY)
    texts = {
        f"d{i}.md": (
            f"# Title {i}\n\n## The `code` *part*\n\n{body}\n\n"
            f'<a name="n{i}"></a>\n\n```bash\necho [x](y.md)\n```\n\n    indented\n\n'
            f"## Title {i}\n"
        )
        for i in range(PARALLEL_MIN_FILES + 30)
    }
    serial = parse_many(texts, jobs=1)
    for jobs in (2, 3):
        assert parse_many(texts, jobs=jobs) == serial
    assert serial["d5.md"].anchors >= {"title-5", "title-5-1", "the-code-part", "n5"}


def test_view_reads_each_parsed_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bytes read for the cache key are the text drift scans: no second read."""
    import subprocess

    from autopack.governance import view as view_module

    (tmp_path / "a.md").write_text("# A\n\n[b](b.md)\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("# B\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    reads: list[str] = []
    from autopack.governance import markdown_files

    real = markdown_files.read_bytes

    def counting(root: Path, rel: str) -> bytes:
        reads.append(rel)
        return real(root, rel)

    monkeypatch.setattr(view_module, "read_bytes", counting)
    monkeypatch.setattr(view_module, "load_registry", lambda root, registry: None)
    monkeypatch.setattr(view_module, "read_text", lambda root, rel: pytest.fail(f"re-read {rel}"))
    view = view_module.RepoView(tmp_path)
    view.facts(["a.md", "b.md"])
    assert view.text("a.md") == "# A\n\n[b](b.md)\n"
    assert sorted(reads) == ["a.md", "b.md"]


def _many_docs() -> dict[str, str]:
    return {
        f"f{i}.md": f"# Title {i}\n\n[next](f{i + 1}.md#title-{i + 1}) and [self](#title-{i})\n"
        for i in range(PARALLEL_MIN_FILES + 10)
    }


def test_parallel_parse_with_spawned_helpers_equals_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where fork is unavailable (or threads run), helpers start clean and get the texts."""
    import multiprocessing

    monkeypatch.setattr(
        markdown_module, "_pool_context", lambda: multiprocessing.get_context("spawn")
    )
    texts = _many_docs()
    assert parse_many(texts, jobs=2) == parse_many(texts, jobs=1)


def _claims_a_chunk_then_dies(chunks: Any, counter: Any, conn: Any) -> None:
    markdown_module._claim(counter)
    conn.close()  # no facts sent: as if the process had crashed


def test_files_a_helper_never_delivered_are_parsed_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markdown_module, "_helper", _claims_a_chunk_then_dies)
    monkeypatch.setattr(markdown_module, "_pool_context", lambda: _fork_or_skip())
    texts = _many_docs()
    assert parse_many(texts, jobs=3) == parse_many(texts, jobs=1)


def _fork_or_skip() -> Any:
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs fork (the patched helper must be inherited)")
    return multiprocessing.get_context("fork")


def test_bulk_parse_leaves_the_garbage_collector_as_it_found_it() -> None:
    import gc

    texts = _many_docs()
    assert gc.get_freeze_count() == 0
    parse_many(texts, jobs=2)
    assert gc.get_freeze_count() == 0
    gc.freeze()  # a caller's own freeze (e.g. a pre-fork server) is not undone
    try:
        frozen = gc.get_freeze_count()
        parse_many(texts, jobs=1)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_the_lean_link_parser_keeps_every_rule_that_can_place_a_link() -> None:
    """The inline pass for links drops only rules that cannot create or move one.

    Emphasis and entities only restyle or decode text; the post-passes only
    pair emphasis delimiters and merge text tokens. Everything that starts a
    link, image, code span or raw HTML stays, so links match the full parse
    (pinned on tricky inline and on every doc by the tests above).
    """
    lean = markdown_module._LINKS.inline
    assert set(lean.ruler.get_active_rules()) == {
        "text",
        "newline",
        "escape",
        "backticks",
        "link",
        "image",
        "autolink",
        "html_inline",
    }
    assert lean.ruler2.get_active_rules() == []
    full = MarkdownIt("commonmark")
    assert set(full.inline.ruler.get_active_rules()) - set(lean.ruler.get_active_rules()) == {
        "emphasis",
        "entity",
    }


@pytest.mark.parametrize("text", TRICKY)
def test_lean_link_parser_equals_the_full_inline_parse(text: str) -> None:
    """Links, images, raw HTML and code spans, token for token, lean vs full."""
    kinds = {"link_open", "image", "html_inline", "code_inline", "softbreak", "hardbreak"}
    full = MarkdownIt("commonmark")
    full.normalizeLink = lambda url: url  # type: ignore[method-assign]
    env: dict[str, Any] = {}
    full.parse(text, env)  # collects reference definitions into env

    def seen(parser: MarkdownIt) -> list[tuple[str, str, str | int | float | None]]:
        out: list[tuple[str, str, str | int | float | None]] = []
        stack = parser.inline.parse(text, parser, dict(env), [])
        while stack:
            token = stack.pop(0)
            if token.type in kinds:
                out.append(
                    (token.type, token.content, token.attrGet("href") or token.attrGet("src"))
                )
            stack[:0] = token.children or []
        return out

    assert seen(markdown_module._LINKS) == seen(full)


def test_an_interrupted_bulk_parse_leaves_no_helper_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import multiprocessing
    import os

    parent = os.getpid()
    real = markdown_module._parse_packed

    def fails_here(text: str) -> Any:
        if os.getpid() == parent:
            raise KeyboardInterrupt
        return real(text)

    monkeypatch.setattr(markdown_module, "_parse_packed", fails_here)
    monkeypatch.setattr(markdown_module, "_pool_context", lambda: _fork_or_skip())
    # Enough facts that a helper's single send outgrows a pipe buffer and blocks.
    texts = {
        f"f{i}.md": "".join(f"# H{j}\n\n[l](x{j}.md)\n\n" for j in range(60)) for i in range(400)
    }
    with pytest.raises(KeyboardInterrupt):
        parse_many(texts, jobs=2)
    assert multiprocessing.active_children() == []
