"""Ledger reads: one action, a listing, and ``show`` (everything about one action,
including what the gate pipeline answers for it right now)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, or_, select
from sqlalchemy.engine import RowMapping

from autopack.domain.errors import parse_choice
from autopack.domain.gates import Verdict
from autopack.domain.layout import validate_identifier
from autopack.domain.ledger import CLAIMABLE, ActionStatus
from autopack.domain.pages import decode_cursor, encode_cursor
from autopack.services.gates import GateService
from autopack.services.ledger.records import (
    ACTIONS,
    APPROVALS,
    DEFAULT_LIST_LIMIT,
    EVENTS,
    MAX_LIST_LIMIT,
    ActionRecord,
    approval_dict,
    event_dict,
)
from autopack.services.ledger.store import LedgerStore

ACTION_PAGES = "actions"  # the cursor's tag
# One page of the list and the cursor of the next (None on the last).
ActionPage = tuple[list[ActionRecord], str | None]


def action_events(conn: Connection, key: str) -> Sequence[RowMapping]:
    """One action's events, oldest first."""
    return (
        conn.execute(select(EVENTS).where(EVENTS.c.idempotency_key == key).order_by(EVENTS.c.seq))
        .mappings()
        .all()
    )


class LedgerReads:
    def __init__(self, store: LedgerStore, gates: GateService) -> None:
        self.store = store
        self.gates = gates

    def get(self, key: str) -> ActionRecord:
        with self.store.read() as conn:
            return ActionRecord.from_row(self.store.require_row(conn, key))

    def list(
        self,
        status: str | None = None,
        *,
        project: str | None = None,
        run_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        requested_by: str | None = None,
    ) -> list[ActionRecord]:
        """Newest first: the first page."""
        return self.page(
            status, project=project, run_id=run_id, limit=limit, requested_by=requested_by
        )[0]

    def page(
        self,
        status: str | None = None,
        *,
        project: str | None = None,
        run_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        requested_by: str | None = None,
        cursor: str | None = None,
    ) -> ActionPage:
        """One page, newest first, and the cursor of the next one (None on the last):
        one statement whatever the page size."""
        query = select(ACTIONS)
        if status is not None:
            parse_choice(ActionStatus, status, "status")
            query = query.where(ACTIONS.c.status == status)
        if project is not None:
            query = query.where(ACTIONS.c.project == validate_identifier("project", project))
        if run_id is not None:
            query = query.where(ACTIONS.c.run_id == validate_identifier("run_id", run_id))
        if requested_by is not None:
            query = query.where(ACTIONS.c.requested_by == requested_by)
        if cursor is not None:
            before, after_key = decode_cursor(ACTION_PAGES, cursor, str)
            query = query.where(
                or_(
                    ACTIONS.c.created_at < before,
                    and_(ACTIONS.c.created_at == before, ACTIONS.c.idempotency_key > after_key),
                )
            )
        limit = max(1, min(limit, MAX_LIST_LIMIT))
        query = query.order_by(ACTIONS.c.created_at.desc(), ACTIONS.c.idempotency_key).limit(
            limit + 1
        )
        with self.store.read() as conn:
            rows = conn.execute(query).mappings().all()
        more = len(rows) > limit
        records = [ActionRecord.from_row(r) for r in rows[:limit]]
        last = rows[limit - 1] if more else None
        next_cursor = (
            None
            if last is None
            else encode_cursor(ACTION_PAGES, last["created_at"], last["idempotency_key"])
        )
        return records, next_cursor

    def show(self, key: str) -> dict[str, Any]:
        """Everything about one action: what, when, approval, attempts, object id, history."""
        with self.store.read() as conn:
            row = self.store.require_row(conn, key)
            record = ActionRecord.from_row(row)
            approval = None
            if record.approval_id is not None:
                arow = (
                    conn.execute(select(APPROVALS).where(APPROVALS.c.id == record.approval_id))
                    .mappings()
                    .first()
                )
                approval = None if arow is None else approval_dict(arow)
            events = [event_dict(e) for e in action_events(conn, record.key)]
            # What the gate pipeline would answer for a claimable action right now
            # (the same gates the claim runs), so an operator sees why it waits.
            decision = (
                self.gates.decide_stored(conn, row, self.store.rt.clock())
                if ActionStatus(record.status) in CLAIMABLE
                else None
            )
        return {
            "action": record.to_dict(),
            "approval": approval,
            "events": events,
            "waiting_reason": (
                decision.reason
                if decision is not None and decision.verdict is Verdict.HOLD
                else None
            ),
            "gates": [] if decision is None else [r.to_dict() for r in decision.results],
        }
