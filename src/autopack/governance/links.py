"""Offline link checker: relative links, images and #anchors in every Markdown file.

Anchors follow GitHub's heading slugs (duplicates get -1, -2, ...) plus explicit
HTML ``id``/``name`` attributes. Links with a scheme (https:, mailto:) are
counted and skipped: this check never touches the network. Code is skipped
because the CommonMark parser never reports links inside it.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

from autopack.governance.findings import Finding, Report, glob_match, ratchet_order, ratchet_unused
from autopack.governance.markdown_files import is_markdown
from autopack.governance.view import RepoView

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# The HTML spec scrolls "#top" to the top of any page, with or without an element.
_BUILTIN_FRAGMENTS = frozenset({"top"})


def _resolve(source: str, target: str) -> str | None:
    """Repository-relative POSIX path for ``target`` seen from ``source``; None if outside."""
    if target.startswith("/"):
        joined = target.lstrip("/")
    else:
        joined = posixpath.join(posixpath.dirname(source), target)
    normalized = posixpath.normpath(joined) if joined else "."
    if normalized == ".." or normalized.startswith("../"):
        return None
    return normalized


def check_links(view: RepoView) -> Report:
    loaded = view.loaded
    spec = view.registry.links
    report = Report("links")
    if spec is None:
        report.skipped = f"no links section in {loaded.path}"
        return report
    report.findings += ratchet_order(loaded.path, loaded.text, "links.include", spec.include)
    report.findings += ratchet_order(loaded.path, loaded.text, "links.exclude", spec.exclude)
    report.findings += ratchet_order(loaded.path, loaded.text, "links.ignore", spec.ignore)
    used_includes: set[str] = set()
    used_excludes: set[str] = set()
    sources: list[str] = []
    for path in view.markdown_files():
        included = [glob for glob in spec.include if glob_match(glob, path)]
        used_includes.update(included)
        if not included:
            continue
        hits = [glob for glob in spec.exclude if glob_match(glob, path)]
        used_excludes.update(hits)
        if not hits:
            sources.append(path)
    # Anchor targets outside the scanned set (excluded files) are parsed on demand.
    facts = view.facts(sources)
    texts: dict[str, list[str]] = {}
    ignore = set(spec.ignore)
    used_ignores: set[str] = set()
    local = external = 0
    for source in sources:
        for link in facts[source].links:
            href = link.href.strip()
            if not href or href.startswith("//") or _SCHEME.match(href):
                external += 1
                continue
            local += 1
            problem = _problem(view, source, href)
            if problem is None:
                continue
            key = f"{source} -> {href}"
            if key in ignore:
                used_ignores.add(key)
                continue
            rule, message, fix = problem
            if source not in texts:
                texts[source] = view.text(source).splitlines()
            lines = texts[source]
            row = lines[link.line - 1] if 0 < link.line <= len(lines) else ""
            column = row.find(link.href) + 1 or 1
            report.findings.append(
                Finding(source, link.line, rule, message, fix, column=column, matched=link.href)
            )
    if "include" in spec.model_fields_set:
        report.findings += ratchet_unused(
            loaded.path,
            loaded.text,
            "links.include",
            [g for g in spec.include if g not in used_includes],
        )
    report.findings += ratchet_unused(
        loaded.path,
        loaded.text,
        "links.exclude",
        [g for g in spec.exclude if g not in used_excludes],
    )
    report.findings += ratchet_unused(
        loaded.path, loaded.text, "links.ignore", [k for k in spec.ignore if k not in used_ignores]
    )
    report.stats = {"files": len(sources), "links": local, "external_skipped": external}
    return report


def _problem(view: RepoView, source: str, href: str) -> tuple[str, str, str] | None:
    path_part, _, fragment = href.partition("#")
    path_part = unquote(path_part.split("?", 1)[0])
    if path_part:
        target = _resolve(source, path_part)
        if target is None:
            return ("LINK-OUTSIDE", f"link {href!r} leaves the repository", "link inside the repo")
        if target != "." and not view.exists(target) and target not in view.directories:
            return (
                "LINK-FILE",
                f"link {href!r}: {target} does not exist",
                "fix the path or restore the file",
            )
    else:
        target = source
    if not fragment or not is_markdown(target) or not view.exists(target):
        return None
    anchor = unquote(fragment)
    anchors = view.facts_of(target).anchors
    if anchor in anchors or anchor.lower() in _BUILTIN_FRAGMENTS:
        return None
    hint = (
        f"use #{anchor.lower()} (anchors are lower-case)"
        if anchor.lower() in anchors
        else f"use one of the headings of {target}"
    )
    return ("LINK-ANCHOR", f"link {href!r}: no heading or id #{anchor} in {target}", hint)
