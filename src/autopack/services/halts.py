"""Durable halts: engage, release, list. Read by the gate pipeline at every claim.

A halt row is the current state; ``halt_events`` (insert-only) is its history.
Releasing is a compare-and-set on ``released_at IS NULL``, so two people
releasing the same halt get one release and one ``halt_released`` conflict.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select, update

from autopack.db.engine import read_only
from autopack.db.models import HaltEventRow, HaltRow
from autopack.domain.approvals import validate_person
from autopack.domain.canonical import MAX_RECORD_ID, format_utc
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConflictError, InvalidInputError, NotFoundError
from autopack.domain.halts import parse_scope, validate_reason
from autopack.domain.principals import Actor, Permission, local_actor
from autopack.domain.redaction import Redactor
from autopack.services.context import Runtime
from autopack.services.notifications.outbox import outbox_for

HALTS = cast(Table, HaltRow.__table__)
HALT_EVENTS = cast(Table, HaltEventRow.__table__)
MAX_HALT_ID = MAX_RECORD_ID  # the id column is 32-bit on PostgreSQL


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else format_utc(moment)


def halt_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "scope": row["scope"],
        "reason": row["reason"],
        "engaged_by": row["engaged_by"],
        "engaged_at": format_utc(row["engaged_at"]),
        "released_by": row["released_by"],
        "released_at": _when(row["released_at"]),
        "release_reason": row["release_reason"],
        "engaged": row["released_at"] is None,
    }


class HaltService:
    def __init__(self, runtime: Runtime, redactor: Redactor | None = None) -> None:
        self.rt = runtime
        self._redactor = redactor

    def _redact(self, text: str) -> str:
        redactor = self._redactor if self._redactor is not None else self.rt.redactor()
        return redactor.redact_text(text)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with read_only(self.rt.engine) as conn:
            yield conn

    def _event(self, conn: Connection, halt_id: int, event: str, actor: Actor, reason: str) -> None:
        conn.execute(
            insert(HALT_EVENTS).values(
                halt_id=halt_id,
                event=event,
                actor=actor.name,
                principal_id=actor.principal_id,
                via=actor.via.value,
                at=self.rt.clock(),
                reason=reason,
            )
        )

    def engage(self, scope: str, *, reason: str, actor: str | Actor) -> dict[str, Any]:
        """Hold every approved action the scope covers until released."""
        who = local_actor(actor)
        who.require(Permission.HALT)
        parsed = parse_scope(scope)
        reason = self._redact(validate_reason(reason))
        validate_person("actor", who.name)
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            halt_id = conn.execute(
                insert(HALTS)
                .values(
                    scope=parsed.text,
                    provider=parsed.provider,
                    account=parsed.account,
                    reason=reason,
                    engaged_by=who.name,
                    engaged_at=now,
                )
                .returning(HALTS.c.id)
            ).scalar_one()
            self._event(conn, halt_id, "engaged", who, reason)
            row = conn.execute(select(HALTS).where(HALTS.c.id == halt_id)).mappings().one()
            outbox = outbox_for(self.rt)
            if outbox is not None:
                outbox.halt_engaged(conn, row, now, self._redactor)
        return halt_dict(row)

    def release(
        self, halt_id: int, *, actor: str | Actor, reason: str | None = None
    ) -> dict[str, Any]:
        """Let the held actions go (each exactly once, through the normal claim)."""
        who = local_actor(actor)
        who.require(Permission.HALT)
        validate_person("actor", who.name)
        self._check_id(halt_id)
        note = self._redact(validate_reason(reason)) if reason is not None else "released"
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            changed = conn.execute(
                update(HALTS)
                .where(HALTS.c.id == halt_id, HALTS.c.released_at.is_(None))
                .values(released_by=who.name, released_at=now, release_reason=note)
            ).rowcount
            row = conn.execute(select(HALTS).where(HALTS.c.id == halt_id)).mappings().first()
            if row is None:
                raise NotFoundError(f"no halt {halt_id}", code=ErrorCode.HALT_NOT_FOUND)
            if changed != 1:
                raise ConflictError(
                    f"halt {halt_id} was already released by {row['released_by']} "
                    f"at {_when(row['released_at'])}",
                    code=ErrorCode.HALT_RELEASED,
                )
            self._event(conn, halt_id, "released", who, note)
        return halt_dict(row)

    def get(self, halt_id: int) -> dict[str, Any]:
        self._check_id(halt_id)
        with self._read() as conn:
            row = conn.execute(select(HALTS).where(HALTS.c.id == halt_id)).mappings().first()
            if row is None:
                raise NotFoundError(f"no halt {halt_id}", code=ErrorCode.HALT_NOT_FOUND)
            events = conn.execute(
                select(HALT_EVENTS)
                .where(HALT_EVENTS.c.halt_id == halt_id)
                .order_by(HALT_EVENTS.c.id)
            ).mappings()
            history = [
                {
                    "event": e["event"],
                    "actor": e["actor"],
                    "principal_id": e["principal_id"],
                    "via": e["via"],
                    "at": format_utc(e["at"]),
                    "reason": e["reason"],
                }
                for e in events
            ]
        return {**halt_dict(row), "events": history}

    def list(self, *, include_released: bool = False) -> list[dict[str, Any]]:
        """Engaged halts (oldest first); with ``include_released`` every halt."""
        query = select(HALTS).order_by(HALTS.c.id)
        if not include_released:
            query = query.where(HALTS.c.released_at.is_(None))
        with self._read() as conn:
            return [halt_dict(r) for r in conn.execute(query).mappings()]

    @staticmethod
    def _check_id(halt_id: int) -> None:
        if not 1 <= halt_id <= MAX_HALT_ID:
            raise InvalidInputError(
                f"halt id must be between 1 and {MAX_HALT_ID}", code=ErrorCode.INVALID_HALT_ID
            )
