"""Provider policy pages as stable text: the versioned normaliser, snapshot hashes,
diffs and each watched page's standing. Pure: HTML in, text and verdicts out.

The normaliser turns a policy page into the text a person reads, so that the
snapshot hash changes when the rules change and not when the page is merely
rendered again. It parses with a real HTML parser (Beautiful Soup over the
standard library's tree builder), then drops:

- scripts, styles, templates, embedded frames and objects, forms' hidden parts;
- navigation (``<nav>``, ``role=navigation|banner|search``), elements hidden
  from readers (``hidden``, ``aria-hidden=true``) and cookie/consent banners;
- comments, doctypes and processing instructions (build ids, render stamps);
- render timestamps in the text (ISO 8601 date-times, clock times) and
  invisible characters (zero-width spaces, soft hyphens, control characters).

Attributes never reach the text, so their order (and tracking parameters in
links) cannot change a hash. Block elements become lines; whitespace is
collapsed; text is NFC. A change to any of these rules is a new
``NORMALISER_VERSION``: the version is hashed into every snapshot, so text made
by two versions never compares equal by accident.
"""

from __future__ import annotations

import difflib
import enum
import re
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.element import NavigableString, PageElement, Tag

from autopack.domain.canonical import canonical_hash
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError

NORMALISER_VERSION: Final = "policy-text/1"
DEFAULT_FRESHNESS: Final = timedelta(days=7)
HASH_PATTERN: Final = re.compile(r"[0-9a-f]{64}")
MAX_URL_LENGTH: Final = 2000

# Removed with everything inside them.
DROPPED_TAGS: Final = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "object",
        "embed",
        "svg",
        "math",
        "canvas",
        "link",
        "meta",
        "head",
        "nav",
        "button",
        "select",
        "input",
        "textarea",
    }
)
DROPPED_ROLES: Final = frozenset({"navigation", "banner", "search"})
# id/class words of consent and cookie banners (they differ by visitor and region).
BANNER_WORDS: Final = re.compile(r"cookie|consent|gdpr-banner", re.IGNORECASE)
# Each of these starts and ends a line of text.
BLOCK_TAGS: Final = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "br",
        "caption",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "html",
        "legend",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
HEADINGS: Final = {f"h{level}": "#" * level + " " for level in range(1, 7)}
# Render stamps: a date with a time of day (ISO 8601 or with a space), or a
# clock time with seconds. A plain date ("effective 2024-01-05") is kept: it is
# part of the rules.
TIMESTAMP: Final = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
    r"(?:\s?(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}))?\b"
    r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:\s?(?:Z|UTC|GMT|[AaPp]\.?[Mm]\.?))?\b"
)
# Zero-width and formatting characters, soft hyphen, BOM: invisible, so never a change.
INVISIBLE: Final = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Control characters and lone surrogates (not text; UTF-8 cannot store the latter).
UNPRINTABLE: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
SPACES: Final = re.compile(r"\s+")


def _is_hidden(tag: Tag) -> bool:
    if tag.name in DROPPED_TAGS:
        return True
    attrs = tag.attrs
    if "hidden" in attrs or str(attrs.get("aria-hidden", "")).strip().lower() == "true":
        return True
    if str(attrs.get("role", "")).strip().lower() in DROPPED_ROLES:
        return True
    if tag.name == "a":
        return False
    marks = attrs.get("id", ""), attrs.get("class", "")
    words = " ".join(" ".join(m) if isinstance(m, list) else str(m) for m in marks)
    return bool(BANNER_WORDS.search(words))


def _clean_line(text: str) -> str:
    text = UNPRINTABLE.sub(" ", INVISIBLE.sub("", text))
    text = unicodedata.normalize("NFC", text)
    text = TIMESTAMP.sub(" ", text)
    return SPACES.sub(" ", text).strip()


def normalise_html(html: str) -> str:
    """The stable text of a policy page (see the module docstring). Never raises on
    any input text; the same input always gives the same output."""
    with warnings.catch_warnings():
        # Advice for interactive users ("this looks like XML / a file name"); a policy
        # page is parsed as HTML whatever it looks like.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(UNPRINTABLE.sub(" ", html), "html.parser")
    lines: list[str] = []
    current: list[str] = []
    # An explicit stack, never recursion, and no edits to the tree: a page nested
    # thousands of levels deep costs time linear in its size.
    stack: list[tuple[PageElement, bool]] = [(soup, False)]
    while stack:
        node, leaving = stack.pop()
        if isinstance(node, Tag):
            block = node.name in BLOCK_TAGS
            if leaving:
                lines.append("".join(current))
                current = []
                continue
            if node is not soup and _is_hidden(node):
                continue
            if block:
                lines.append("".join(current))
                current = [HEADINGS.get(node.name, ""), "- " if node.name == "li" else ""]
                stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
        elif type(node) is NavigableString:
            # Exactly a text node: comments, doctypes, CDATA and processing
            # instructions are subclasses and are dropped.
            current.append(str(node))
    lines.append("".join(current))
    cleaned = (_clean_line(line) for line in lines)
    kept = [line for line in cleaned if line.strip("#- ")]
    return "\n".join(kept) + "\n" if kept else ""


def snapshot_hash(text: str, normaliser_version: str = NORMALISER_VERSION) -> str:
    """The content address of a snapshot: its text and the normaliser that made it."""
    return canonical_hash({"normaliser": normaliser_version, "text": text})


def unified_diff(old_text: str, new_text: str, old_label: str, new_label: str) -> str:
    """A unified diff of two snapshots' text (empty when equal)."""
    return "".join(
        difflib.unified_diff(
            old_text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=old_label,
            tofile=new_label,
        )
    )


def validate_page_url(url: str) -> str:
    """An absolute http(s) URL with a host and no user info: the only pages the
    monitor fetches."""
    url = url.strip()
    parts = urlsplit(url) if len(url) <= MAX_URL_LENGTH and url.isprintable() else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None  # a public page needs no credentials in its URL
    ):
        raise InvalidInputError(
            f"policy page URL must be an absolute http(s) URL of at most "
            f"{MAX_URL_LENGTH} characters, got {url[:80]!r}",
            code=ErrorCode.INVALID_POLICY_URL,
        )
    return url


def validate_hash(value: str, what: str) -> str:
    value = value.strip().lower()
    if not HASH_PATTERN.fullmatch(value):
        raise InvalidInputError(
            f"{what} must be a snapshot hash (64 hex digits), got {value[:80]!r}",
            code=ErrorCode.INVALID_POLICY_HASH,
        )
    return value


class PageStanding(enum.StrEnum):
    """Where one watched page stands, worst first."""

    MISSING = "missing"  # never fetched successfully
    STALE = "stale"  # last successful check older than the freshness window
    UNACKNOWLEDGED = "unacknowledged"  # changed since the acknowledged snapshot
    CURRENT = "current"  # fresh and acknowledged


@dataclass(frozen=True, slots=True)
class PageState:
    """One watched page as the gate sees it."""

    url: str
    current_hash: str | None
    acknowledged_hash: str | None
    verified_at: datetime | None

    def standing(self, now: datetime, freshness: timedelta) -> PageStanding:
        if self.current_hash is None or self.verified_at is None:
            return PageStanding.MISSING
        if now - self.verified_at > freshness:
            return PageStanding.STALE
        if self.current_hash != self.acknowledged_hash:
            return PageStanding.UNACKNOWLEDGED
        return PageStanding.CURRENT


def worst(standings: Iterable[PageStanding]) -> PageStanding:
    order = list(PageStanding)
    return min(standings, key=order.index, default=PageStanding.CURRENT)


__all__ = [
    "DEFAULT_FRESHNESS",
    "NORMALISER_VERSION",
    "PageStanding",
    "PageState",
    "normalise_html",
    "snapshot_hash",
    "unified_diff",
    "validate_hash",
    "validate_page_url",
    "worst",
]
