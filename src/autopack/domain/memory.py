"""Run memory vectors: sparse hashed term weights computed by Autopack itself.

No model, no download, no corpus statistics at indexing time: a text's vector
depends only on the text, so the same corpus gives the same vectors (and the
same ranking) on every machine, and indexing one artifact never changes another
one's vector. Terms are hashed into a fixed space of ``HASH_SPACE`` dimensions
with BLAKE2b (Python's ``hash`` is salted per process); document weights are
BM25's saturated term frequency with a fixed average length. The index applies
the inverse document frequency at query time (Qdrant's IDF modifier), which
makes the scoring BM25-like over the whole indexed corpus.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from array import array
from collections import Counter
from dataclasses import dataclass
from typing import Final

HASH_SPACE: Final = 1 << 20
BM25_K1: Final = 1.2
BM25_B: Final = 0.75
# A fixed average document length (in terms): using the corpus's would make a
# vector depend on everything indexed before it.
AVERAGE_LENGTH: Final = 256
MAX_TERMS: Final = 20_000  # a longer text is cut: its tail says little more
MIN_TERM: Final = 2
MAX_TERM: Final = 40

_TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS: Final = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
    ]
)
# Point ids live in their own UUID namespace, derived from the artifact's path and hash.
POINT_NAMESPACE: Final = uuid.UUID("6f0c3c52-6d8e-5b7a-9a57-61757470616b")


@dataclass(frozen=True, slots=True)
class SparseVector:
    indices: tuple[int, ...]
    values: tuple[float, ...]


def terms(text: str) -> list[str]:
    """Lowercased alphanumeric words, stopwords and very short or long ones dropped."""
    found = (
        token
        for token in _TOKEN.findall(text.lower())
        if MIN_TERM <= len(token) <= MAX_TERM and token not in STOPWORDS
    )
    out: list[str] = []
    for token in found:
        out.append(token)
        if len(out) >= MAX_TERMS:
            break
    return out


@functools.lru_cache(maxsize=1 << 16)
def term_index(term: str) -> int:
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % HASH_SPACE


def _merge(weights: dict[int, float]) -> SparseVector:
    indices = tuple(sorted(weights))
    # As the index stores them (32 bits), so every engine holds the same numbers.
    values = array("f", [weights[i] for i in indices]).tolist()
    return SparseVector(indices, tuple(values))


def document_vector(text: str) -> SparseVector:
    """BM25 term-frequency weights of ``text`` (hash collisions add up)."""
    words = terms(text)
    counts: Counter[int] = Counter()
    for word, tf in Counter(words).items():
        counts[term_index(word)] += tf
    norm = BM25_K1 * (1 - BM25_B + BM25_B * len(words) / AVERAGE_LENGTH)
    weights = {index: tf * (BM25_K1 + 1) / (tf + norm) for index, tf in counts.items()}
    return _merge(weights)


def query_vector(text: str) -> SparseVector:
    """Each distinct query term once; the index weighs it by its IDF."""
    return _merge(dict.fromkeys((term_index(word) for word in terms(text)), 1.0))


def point_id(path: str, sha256: str) -> str:
    """The index id of one artifact version: the same file indexes to the same point."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{path}\n{sha256}"))
