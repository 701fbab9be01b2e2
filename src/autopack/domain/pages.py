"""Keyset page cursors for the lists people page through (approvals, actions).

A cursor names the last row of a page by its sort key, (created_at, id): the
next page starts strictly after it, so rows added meanwhile never shift or
repeat a page the way an offset would. It is opaque to clients (base64url of
canonical JSON), tagged with the list it belongs to, and checked on the way in.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Final

from autopack.domain.canonical import (
    CanonicalizationError,
    canonical_json,
    format_utc,
    parse_json_strict,
)
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError

MAX_CURSOR_LENGTH: Final = 600


def encode_cursor(list_name: str, created_at: datetime, ident: str | int) -> str:
    raw = canonical_json([list_name, format_utc(created_at), ident])
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(
    list_name: str, cursor: str, ident_type: type[str] | type[int]
) -> tuple[datetime, str | int]:
    """(created_at, id) of the row a page ended with; ``invalid_cursor`` otherwise."""
    problem = InvalidInputError(
        f"invalid cursor for the {list_name} list: pass back the next_cursor a page gave",
        code=ErrorCode.INVALID_CURSOR,
    )
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise problem
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = parse_json_strict(raw)
    except (binascii.Error, ValueError, CanonicalizationError, InvalidInputError) as exc:
        raise problem from exc
    if not isinstance(value, list) or len(value) != 3 or value[0] != list_name:
        raise problem
    _, when, ident = value
    if not isinstance(when, str) or not when.endswith("Z") or type(ident) is not ident_type:
        raise problem
    try:
        created_at = datetime.fromisoformat(when[:-1]).replace(tzinfo=UTC)
    except ValueError as exc:
        raise problem from exc
    assert isinstance(ident, str | int)
    return created_at, ident
