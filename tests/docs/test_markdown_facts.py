"""The Markdown facts every check relies on: GitHub slugs, links, code, and the fast parse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from docs_support import REPO, living_docs, registry
from markdown_it import MarkdownIt

from autopack.domain.errors import InvalidInputError
from autopack.governance.markdown import (
    PARALLEL_MIN_FILES,
    Slugger,
    collect_facts,
    github_slug_base,
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


@pytest.mark.parametrize("rel", [*living_docs(), *[spec.path for spec in registry().docs.ledgers]])
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
