"""What a person does to an action by hand: cancel it before it is sent, or
resolve one the ledger could not settle. Neither ever sends anything."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from autopack.domain.approvals import ApprovalStatus, validate_person
from autopack.domain.canonical import canonical_json
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConflictError, InvalidInputError
from autopack.domain.ledger import CANCELLABLE, ActionStatus
from autopack.domain.principals import Actor, Permission, local_actor
from autopack.services.ledger.records import APPROVALS, ActionRecord, check_texts
from autopack.services.ledger.store import LedgerStore


class OperatorActions:
    def __init__(self, store: LedgerStore) -> None:
        self.store = store

    def cancel(
        self, key: str, *, actor: str | Actor = "operator", reason: str | None = None
    ) -> ActionRecord:
        """Cancel an action nothing is sending: awaiting approval, approved, retry_wait.
        A principal may cancel its own proposals; others' need an operator."""
        who = local_actor(actor)
        validate_person("actor", who.name)
        check_texts(reason=reason)
        with self.store.tx() as conn:
            row = self.store.require_row(conn, key, lock=True)
            if not who.same_person(row["requested_by"], None):
                who.require(Permission.OPERATE)
            status = ActionStatus(row["status"])
            if status not in CANCELLABLE:
                raise ConflictError(
                    f"action {key!r} is {status.value}: only "
                    + ", ".join(sorted(s.value for s in CANCELLABLE))
                    + " actions can be cancelled (nothing may be in flight)",
                    code=ErrorCode.NOT_CANCELLABLE,
                )
            now = self.store.rt.clock()
            new = self.store.move(
                conn,
                row,
                ActionStatus.CANCELLED,
                event="cancelled",
                actor=who.name,
                now=now,
                data={"reason": self.store.redacted_text(reason), **who.history()},
                values={"completed_at": now, "next_attempt_at": None},
            )
            if row["approval_id"] is not None and status is ActionStatus.AWAITING_APPROVAL:
                conn.execute(
                    update(APPROVALS)
                    .where(APPROVALS.c.id == row["approval_id"])
                    .where(APPROVALS.c.status == ApprovalStatus.PENDING.value)
                    .where(APPROVALS.c.hashes == canonical_json([row["payload_hash"]]).decode())
                    .values(
                        status=ApprovalStatus.REJECTED.value,
                        decided_by=who.name,
                        decided_at=now,
                        reason="action cancelled",
                    )
                )
            return ActionRecord.from_row(new)

    def resolve(
        self,
        key: str,
        *,
        outcome: str,
        actor: str | Actor,
        provider_object_id: str | None = None,
        reason: str | None = None,
    ) -> ActionRecord:
        """A person settles an action the ledger could not: ``needs_attention`` (or a
        still ``unknown`` one) becomes ``succeeded`` (with the object id they found at
        the provider) or ``failed`` (it did not happen). Never sends anything."""
        who = local_actor(actor)
        who.require(Permission.OPERATE)
        validate_person("actor", who.name)
        check_texts(reason=reason, provider_object_id=provider_object_id)
        targets = {"succeeded": ActionStatus.SUCCEEDED, "failed": ActionStatus.FAILED}
        target = targets.get(outcome)
        if target is None:
            raise InvalidInputError(
                "outcome must be succeeded or failed", code=ErrorCode.INVALID_OUTCOME
            )
        if target is ActionStatus.SUCCEEDED and not provider_object_id:
            raise InvalidInputError(
                "a succeeded resolution needs the provider object id",
                code=ErrorCode.OBJECT_ID_REQUIRED,
            )
        if provider_object_id is not None and (
            len(provider_object_id) > 256 or not provider_object_id.isprintable()
        ):
            raise InvalidInputError("invalid provider object id", code=ErrorCode.INVALID_OBJECT_ID)
        with self.store.tx() as conn:
            row = self.store.require_row(conn, key, lock=True)
            status = ActionStatus(row["status"])
            if status not in (ActionStatus.NEEDS_ATTENTION, ActionStatus.UNKNOWN):
                raise ConflictError(
                    f"action {key!r} is {status.value}: only needs_attention and unknown "
                    "actions are resolved by a person",
                    code=ErrorCode.NOT_RESOLVABLE,
                )
            now = self.store.rt.clock()
            values: dict[str, Any] = {"completed_at": now, "fencing": row["fencing"] + 1}
            if provider_object_id is not None:
                values["provider_object_id"] = self.store.redacted_text(provider_object_id)
            new = self.store.move(
                conn,
                row,
                target,
                event="resolved",
                actor=who.name,
                now=now,
                data={
                    "outcome": outcome,
                    "provider_object_id": provider_object_id,
                    "reason": self.store.redacted_text(reason),
                    **who.history(),
                },
                values=values,
            )
            return ActionRecord.from_row(new)
