"""Console sessions, pure: token format, lifetime, cookie names and the CSRF rule.

The operator console never keeps an API key in the browser: it exchanges the key
once for a server-side session. The browser holds two random tokens in cookies:
the session token (HttpOnly, so scripts cannot read it) and a CSRF token that
the page's script reads and echoes in the ``X-CSRF-Token`` header of every
write (double-submit). Only the SHA-256 of each token is stored, so a database
copy opens no session.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from autopack.domain.canonical import sha256_hex

SESSION_COOKIE: Final = "autopack_session"
CSRF_COOKIE: Final = "autopack_csrf"
CSRF_HEADER: Final = "X-CSRF-Token"
SESSION_LIFETIME: Final = timedelta(hours=12)
TOKEN_BYTES: Final = 32
SESSION_ENTROPY_BYTES: Final = 2 * TOKEN_BYTES
# Methods that change nothing: a cookie-authenticated request needs no CSRF token.
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_TOKEN_LENGTH: Final = 43  # base64url of 32 bytes, unpadded


@dataclass(frozen=True, slots=True)
class NewSession:
    """Fresh tokens: the plain ones go to the browser once; only hashes are stored."""

    token: str
    csrf_token: str
    token_hash: str
    csrf_hash: str


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def hash_token(token: str) -> str:
    return sha256_hex(token.encode("ascii"))


def new_session(entropy: bytes) -> NewSession:
    """Session and CSRF tokens from ``SESSION_ENTROPY_BYTES`` random bytes."""
    if len(entropy) != SESSION_ENTROPY_BYTES:
        raise ValueError("wrong amount of entropy for a session")
    token = _encode(entropy[:TOKEN_BYTES])
    csrf = _encode(entropy[TOKEN_BYTES:])
    return NewSession(token, csrf, hash_token(token), hash_token(csrf))


def well_formed(token: str) -> bool:
    """Whether ``token`` could be one of ours (checked before any database read)."""
    return len(token) == _TOKEN_LENGTH and all(c.isalnum() or c in "-_" for c in token)


def csrf_ok(header: str | None, cookie: str | None, stored_hash: str) -> bool:
    """Double-submit: the header equals the cookie, and both are this session's token."""
    if not header or not cookie or not well_formed(header):
        return False
    return secrets.compare_digest(header, cookie) and secrets.compare_digest(
        hash_token(header), stored_hash
    )
