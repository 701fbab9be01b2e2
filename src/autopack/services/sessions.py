"""Console sessions: open one with a principal's API key, find the principal of a
session token, end it. Only token hashes are stored (``domain.sessions``).

A session lives until it expires, is ended (logout), or the principal or the key
that opened it is revoked (rotating a key revokes the old one), so taking a key
away also closes the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, insert, select, update

from autopack.db.engine import read_only
from autopack.db.models import ApiKeyRow, ConsoleSessionRow, PrincipalRow
from autopack.domain.canonical import format_utc
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import AuthenticationError, InvalidInputError
from autopack.domain.principals import Actor, Role, Via, parse_key
from autopack.domain.sessions import (
    SESSION_ENTROPY_BYTES,
    SESSION_LIFETIME,
    hash_token,
    new_session,
    well_formed,
)
from autopack.services.context import Runtime
from autopack.services.principals import PrincipalService

SESSIONS = cast(Table, ConsoleSessionRow.__table__)
KEYS = cast(Table, ApiKeyRow.__table__)
PRINCIPALS = cast(Table, PrincipalRow.__table__)


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """What the browser gets once: the plain tokens; the database keeps hashes."""

    token: str
    csrf_token: str
    actor: Actor
    expires_at: str


@dataclass(frozen=True, slots=True)
class SessionIdentity:
    """The principal behind a live session, and the hash its CSRF token must match."""

    actor: Actor
    csrf_hash: str
    expires_at: str


class SessionService:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.principals = PrincipalService(runtime)

    def open(self, api_key: str) -> OpenedSession:
        """A new session for the principal whose live key this is."""
        parsed = parse_key(api_key)
        if parsed is None:
            raise InvalidInputError(
                "that is not a principal's API key (apk_...): the bootstrap key cannot open "
                "a console session; create a principal with `autopack principals add`",
                code=ErrorCode.NOT_A_PRINCIPAL_KEY,
            )
        actor = self.principals.authenticate(api_key)
        if actor is None or actor.principal_id is None:
            raise AuthenticationError(
                "that principal key is unknown, wrong or revoked", code=ErrorCode.INVALID_API_KEY
            )
        fresh = new_session(self.rt.entropy(SESSION_ENTROPY_BYTES))
        now = self.rt.clock()
        expires = now + SESSION_LIFETIME
        with self.rt.engine.begin() as conn:
            conn.execute(
                insert(SESSIONS).values(
                    token_hash=fresh.token_hash,
                    csrf_hash=fresh.csrf_hash,
                    principal_id=actor.principal_id,
                    key_id=parsed[0],
                    created_at=now,
                    expires_at=expires,
                )
            )
        return OpenedSession(
            token=fresh.token,
            csrf_token=fresh.csrf_token,
            actor=Actor(actor.name, actor.role, Via.API, actor.principal_id),
            expires_at=format_utc(expires),
        )

    def identify(self, token: str) -> SessionIdentity | None:
        """The live session of ``token``; None when unknown, expired, ended, or its
        principal or key is revoked."""
        if not well_formed(token):
            return None
        now = self.rt.clock()
        with read_only(self.rt.engine) as conn:
            found = (
                conn.execute(
                    select(
                        SESSIONS.c.csrf_hash,
                        SESSIONS.c.expires_at,
                        PRINCIPALS.c.id,
                        PRINCIPALS.c.name,
                        PRINCIPALS.c.role,
                    )
                    .join(PRINCIPALS, PRINCIPALS.c.id == SESSIONS.c.principal_id)
                    .join(KEYS, KEYS.c.key_id == SESSIONS.c.key_id)
                    .where(
                        SESSIONS.c.token_hash == hash_token(token),
                        SESSIONS.c.ended_at.is_(None),
                        SESSIONS.c.expires_at > now,
                        PRINCIPALS.c.revoked_at.is_(None),
                        KEYS.c.revoked_at.is_(None),
                    )
                )
                .mappings()
                .first()
            )
        if found is None:
            return None
        return SessionIdentity(
            actor=Actor(found["name"], Role(found["role"]), Via.API, found["id"]),
            csrf_hash=found["csrf_hash"],
            expires_at=format_utc(found["expires_at"]),
        )

    def end(self, token: str) -> bool:
        """Log out: the session stops working at once. False when it was not live."""
        if not well_formed(token):
            return False
        with self.rt.engine.begin() as conn:
            ended = conn.execute(
                update(SESSIONS)
                .where(SESSIONS.c.token_hash == hash_token(token), SESSIONS.c.ended_at.is_(None))
                .values(ended_at=self.rt.clock())
            )
        return ended.rowcount > 0
