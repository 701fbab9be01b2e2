"""Reading repository files as text: cheap helpers every check uses, no parser imported."""

from __future__ import annotations

from pathlib import Path

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError

MARKDOWN_SUFFIXES = (".md", ".markdown")


def is_markdown(rel: str) -> bool:
    return rel.lower().endswith(MARKDOWN_SUFFIXES)


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
