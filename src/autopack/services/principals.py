"""Principals and their API keys: add, list, revoke, rotate, authenticate.

A key is shown once, when it is made, and stored only as the SHA-256 of its
secret (``domain.principals``). Revoking a principal revokes its keys; rotating
makes a new key and revokes the old ones in the same transaction. Every change
is kept in the insert-only ``principal_events`` with who made it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from autopack.db.engine import read_only
from autopack.db.models import ApiKeyRow, PrincipalEventRow, PrincipalRow
from autopack.domain.canonical import canonical_json, format_utc
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConflictError, NotFoundError
from autopack.domain.principals import (
    KEY_ENTROPY_BYTES,
    Actor,
    Permission,
    Role,
    Via,
    local_actor,
    new_key,
    parse_key,
    parse_role,
    secret_matches,
    validate_new_principal_name,
    validate_principal_name,
)
from autopack.services.context import Runtime

PRINCIPALS = cast(Table, PrincipalRow.__table__)
KEYS = cast(Table, ApiKeyRow.__table__)
EVENTS = cast(Table, PrincipalEventRow.__table__)
# A key's last-used time is written at most this often (not on every request).
LAST_USED_RESOLUTION: Final = timedelta(minutes=1)


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else format_utc(moment)


class PrincipalService:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    # -- changes --------------------------------------------------------------------

    def _event(
        self, conn: Connection, principal_id: int, event: str, actor: Actor, data: dict[str, Any]
    ) -> None:
        conn.execute(
            insert(EVENTS).values(
                principal_id=principal_id,
                event=event,
                actor=actor.name,
                actor_principal_id=actor.principal_id,
                via=actor.via.value,
                at=self.rt.clock(),
                data=canonical_json(data).decode("ascii"),
            )
        )

    def _new_key(self, conn: Connection, principal_id: int, actor: Actor) -> str:
        key = new_key(self.rt.entropy(KEY_ENTROPY_BYTES))
        conn.execute(
            insert(KEYS).values(
                key_id=key.key_id,
                principal_id=principal_id,
                secret_hash=key.secret_hash,
                created_at=self.rt.clock(),
            )
        )
        self._event(conn, principal_id, "key_created", actor, {"key_id": key.key_id})
        return key.token

    def _require(self, conn: Connection, name: str) -> Any:
        row = (
            conn.execute(
                select(PRINCIPALS).where(PRINCIPALS.c.name == validate_principal_name(name))
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFoundError(f"no principal {name!r}", code=ErrorCode.PRINCIPAL_NOT_FOUND)
        return row

    def add(self, name: str, *, role: str, actor: str | Actor) -> dict[str, Any]:
        """A new principal with its first key; the key is in the answer, and only there."""
        who = local_actor(actor)
        who.require(Permission.PRINCIPALS)
        validate_new_principal_name(name)
        parsed = parse_role(role)
        with self.rt.engine.begin() as conn:
            taken = conn.execute(select(PRINCIPALS.c.id).where(PRINCIPALS.c.name == name)).first()
            if taken is not None:
                raise ConflictError(f"principal {name!r} exists", code=ErrorCode.PRINCIPAL_EXISTS)
            try:
                principal_id = conn.execute(
                    insert(PRINCIPALS)
                    .values(
                        name=name,
                        role=parsed.value,
                        created_at=self.rt.clock(),
                        created_by=who.name,
                    )
                    .returning(PRINCIPALS.c.id)
                ).scalar_one()
            except IntegrityError as exc:  # a concurrent add took the name (PostgreSQL)
                raise ConflictError(
                    f"principal {name!r} exists", code=ErrorCode.PRINCIPAL_EXISTS
                ) from exc
            self._event(conn, principal_id, "created", who, {"role": parsed.value})
            token = self._new_key(conn, principal_id, who)
            body = self._describe(conn, self._require(conn, name))
        return {**body, "api_key": token}

    def revoke(self, name: str, *, actor: str | Actor) -> dict[str, Any]:
        """Revoke the principal and every key it has; its keys get 401 from now on."""
        who = local_actor(actor)
        who.require(Permission.PRINCIPALS)
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            row = self._require(conn, name)
            if row["revoked_at"] is not None:
                raise ConflictError(
                    f"principal {name!r} is already revoked", code=ErrorCode.PRINCIPAL_REVOKED
                )
            if row["role"] == Role.ADMIN.value and self._live_admins(conn) == 1:
                # Without a bootstrap key nobody could manage principals any more.
                raise ConflictError(
                    f"{name!r} is the last admin: add another admin first",
                    code=ErrorCode.LAST_ADMIN,
                )
            conn.execute(
                update(PRINCIPALS).where(PRINCIPALS.c.id == row["id"]).values(revoked_at=now)
            )
            conn.execute(
                update(KEYS)
                .where(KEYS.c.principal_id == row["id"], KEYS.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            self._event(conn, row["id"], "revoked", who, {})
            return self._describe(conn, self._require(conn, name))

    def rotate_key(self, name: str, *, actor: str | Actor) -> dict[str, Any]:
        """A new key for the principal; its old keys stop working at once."""
        who = local_actor(actor)
        who.require(Permission.PRINCIPALS)
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            row = self._require(conn, name)
            if row["revoked_at"] is not None:
                raise ConflictError(
                    f"principal {name!r} is revoked", code=ErrorCode.PRINCIPAL_REVOKED
                )
            old = (
                conn.execute(
                    select(KEYS.c.key_id).where(
                        KEYS.c.principal_id == row["id"], KEYS.c.revoked_at.is_(None)
                    )
                )
                .scalars()
                .all()
            )
            conn.execute(
                update(KEYS)
                .where(KEYS.c.principal_id == row["id"], KEYS.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            for key_id in old:
                self._event(conn, row["id"], "key_revoked", who, {"key_id": key_id})
            token = self._new_key(conn, row["id"], who)
            body = self._describe(conn, row)
        return {**body, "api_key": token}

    # -- reads ----------------------------------------------------------------------

    def _describe(self, conn: Connection, row: Any) -> dict[str, Any]:
        keys = conn.execute(
            select(KEYS).where(KEYS.c.principal_id == row["id"]).order_by(KEYS.c.id)
        ).mappings()
        return {
            "id": row["id"],
            "name": row["name"],
            "role": row["role"],
            "created_at": format_utc(row["created_at"]),
            "created_by": row["created_by"],
            "revoked_at": _when(row["revoked_at"]),
            "keys": [
                {
                    "key_id": k["key_id"],
                    "created_at": format_utc(k["created_at"]),
                    "last_used_at": _when(k["last_used_at"]),
                    "revoked_at": _when(k["revoked_at"]),
                }
                for k in keys
            ],
        }

    def events(self, name: str) -> list[dict[str, Any]]:
        with read_only(self.rt.engine) as conn:
            row = self._require(conn, name)
            found = conn.execute(
                select(EVENTS).where(EVENTS.c.principal_id == row["id"]).order_by(EVENTS.c.id)
            ).mappings()
            return [
                {
                    "event": e["event"],
                    "actor": e["actor"],
                    "actor_principal_id": e["actor_principal_id"],
                    "via": e["via"],
                    "at": format_utc(e["at"]),
                    "data": e["data"],
                }
                for e in found
            ]

    def list(self) -> list[dict[str, Any]]:
        with read_only(self.rt.engine) as conn:
            rows = conn.execute(select(PRINCIPALS).order_by(PRINCIPALS.c.id)).mappings().all()
            return [self._describe(conn, r) for r in rows]

    @staticmethod
    def _live_admins(conn: Connection) -> int:
        return int(
            conn.execute(
                select(func.count())
                .select_from(PRINCIPALS)
                .where(PRINCIPALS.c.role == Role.ADMIN.value, PRINCIPALS.c.revoked_at.is_(None))
            ).scalar_one()
        )

    def has_admin(self) -> bool:
        """Whether an admin principal that is not revoked exists."""
        with read_only(self.rt.engine) as conn:
            return self._live_admins(conn) > 0

    # -- authentication ---------------------------------------------------------------

    def authenticate(self, token: str) -> Actor | None:
        """The principal a presented key belongs to; None for any key that is not a
        live key of a live principal (malformed, unknown, wrong secret, revoked)."""
        parsed = parse_key(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        now = self.rt.clock()
        with read_only(self.rt.engine) as conn:
            found = (
                conn.execute(
                    select(
                        KEYS.c.secret_hash,
                        KEYS.c.revoked_at,
                        KEYS.c.last_used_at,
                        PRINCIPALS.c.id,
                        PRINCIPALS.c.name,
                        PRINCIPALS.c.role,
                        PRINCIPALS.c.revoked_at.label("principal_revoked_at"),
                    )
                    .join(PRINCIPALS, PRINCIPALS.c.id == KEYS.c.principal_id)
                    .where(KEYS.c.key_id == key_id)
                )
                .mappings()
                .first()
            )
        if (
            found is None
            or not secret_matches(secret, found["secret_hash"])
            or found["revoked_at"] is not None
            or found["principal_revoked_at"] is not None
        ):
            return None
        last = found["last_used_at"]
        if last is None or now - last >= LAST_USED_RESOLUTION:
            with self.rt.engine.begin() as conn:
                conn.execute(update(KEYS).where(KEYS.c.key_id == key_id).values(last_used_at=now))
        return Actor(
            name=found["name"], role=Role(found["role"]), via=Via.API, principal_id=found["id"]
        )
