"""Approvals: list, approve (bound to the hash), reject, batch, and expiry sweeps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.engine import RowMapping

from autopack.domain.approvals import (
    DEFAULT_APPROVAL_TTL,
    ApprovalRefusedError,
    ApprovalStatus,
    check_approver,
    check_decidable,
    check_hash,
    subject_hash,
    validate_person,
)
from autopack.domain.canonical import canonical_json, check_unicode, parse_json_strict
from autopack.domain.errors import ConflictError, InvalidInputError, NotFoundError, parse_choice
from autopack.domain.ledger import ActionStatus, action_category
from autopack.services.ledger import (
    ACTIONS,
    APPROVALS,
    DEFAULT_LIST_LIMIT,
    MAX_LIST_LIMIT,
    LedgerCore,
    approval_dict,
)

MAX_BATCH = 100


class ApprovalService(LedgerCore):
    def _approval(self, conn: Connection, approval_id: int, *, lock: bool = False) -> RowMapping:
        query = select(APPROVALS).where(APPROVALS.c.id == approval_id)
        if lock and self.is_postgres:
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFoundError(f"no approval {approval_id}", code="approval_not_found")
        return row

    def _covered(self, conn: Connection, approval_id: int, *, lock: bool) -> Sequence[RowMapping]:
        query = (
            select(ACTIONS)
            .where(ACTIONS.c.approval_id == approval_id)
            .order_by(ACTIONS.c.idempotency_key)
        )
        if lock and self.is_postgres:
            query = query.with_for_update()
        return conn.execute(query).mappings().all()

    def get(self, approval_id: int) -> dict[str, Any]:
        with self.read() as conn:
            row = self._approval(conn, approval_id)
            body = approval_dict(row)
            body["actions"] = [
                r["idempotency_key"] for r in self._covered(conn, row["id"], lock=False)
            ]
            return body

    def list(
        self, status: str | None = "pending", limit: int = DEFAULT_LIST_LIMIT
    ) -> list[dict[str, Any]]:
        """Oldest first (the queue a person works through)."""
        query = select(APPROVALS)
        if status is not None:
            parse_choice(ApprovalStatus, status, "approval status")
            query = query.where(APPROVALS.c.status == status)
        limit = max(1, min(limit, MAX_LIST_LIMIT))
        query = query.order_by(APPROVALS.c.created_at, APPROVALS.c.id).limit(limit)
        out: list[dict[str, Any]] = []
        with self.read() as conn:
            for row in conn.execute(query).mappings().all():
                body = approval_dict(row)
                covered = self._covered(conn, row["id"], lock=False)
                body["actions"] = [
                    {
                        "key": r["idempotency_key"],
                        "provider": r["provider"],
                        "action": r["action"],
                        "account": r["account"],
                        "status": r["status"],
                        "payload_hash": r["payload_hash"],
                        "request_hash": r["request_hash"],
                    }
                    for r in covered
                ]
                out.append(body)
        return out

    def approve(self, approval_id: int, *, hash_: str, approver: str) -> dict[str, Any]:
        """Approve exactly the hash shown; single use; refused when expired or self-approved."""
        return self._decide(approval_id, hash_=hash_, person=approver, approve=True, reason=None)

    def reject(
        self, approval_id: int, *, rejecter: str, reason: str | None = None
    ) -> dict[str, Any]:
        return self._decide(approval_id, hash_=None, person=rejecter, approve=False, reason=reason)

    def _decide(
        self,
        approval_id: int,
        *,
        hash_: str | None,
        person: str,
        approve: bool,
        reason: str | None,
    ) -> dict[str, Any]:
        validate_person("approver", person)
        if reason is not None:
            check_unicode(reason, "reason")
        now = self.rt.clock()
        with self.tx() as conn:
            approval = self._approval(conn, approval_id, lock=True)
            check_decidable(approval["status"], approval["expires_at"], now)
            hashes = parse_json_strict(approval["hashes"])
            assert isinstance(hashes, list)
            if hash_ is not None:
                check_hash(hash_, approval["subject_hash"])
            if approve:
                check_approver(
                    approval["requested_by"], person, self.policies.load(approval["project"])
                )
            covered = [
                r
                for r in self._covered(conn, approval_id, lock=True)
                if r["status"] == ActionStatus.AWAITING_APPROVAL
            ]
            if not covered:
                raise ConflictError(
                    "no action is awaiting this approval (cancelled or already decided)",
                    code="nothing_to_approve",
                )
            for row in covered:
                # The binding: each action's payload hash must be one the approval names.
                if row["payload_hash"] not in hashes:
                    raise ApprovalRefusedError(
                        f"action {row['idempotency_key']!r} changed after the approval was "
                        "requested: its payload hash is not the approved one",
                        code="approval_hash_mismatch",
                    )
            new_status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
            result = conn.execute(
                update(APPROVALS)
                .where(APPROVALS.c.id == approval_id)
                .where(APPROVALS.c.status == ApprovalStatus.PENDING.value)
                .values(
                    status=new_status.value,
                    decided_by=person,
                    decided_at=now,
                    reason=self.redacted_text(reason),
                )
            )
            if result.rowcount != 1:
                raise ApprovalRefusedError(
                    "approval already decided: an approval is single use", code="approval_used"
                )
            target = ActionStatus.APPROVED if approve else ActionStatus.REJECTED
            for row in covered:
                self.move(
                    conn,
                    row,
                    target,
                    event="approved" if approve else "rejected",
                    actor=person,
                    now=now,
                    data={
                        "approval_id": approval_id,
                        "hash": row["payload_hash"],
                        "reason": self.redacted_text(reason),
                    },
                    values={} if approve else {"completed_at": now},
                )
            body = approval_dict(self._approval(conn, approval_id))
            body["actions"] = [r["idempotency_key"] for r in covered]
            return body

    def request_batch(self, keys: Sequence[str], *, requested_by: str) -> dict[str, Any]:
        """One approval covering several awaiting actions (their single approvals are
        superseded). The person approves the batch hash: the hash of the sorted
        payload hashes."""
        validate_person("requester", requested_by)
        unique = sorted(set(keys))
        if not 2 <= len(unique) <= MAX_BATCH:
            raise InvalidInputError(
                f"a batch covers 2 to {MAX_BATCH} distinct actions", code="invalid_batch"
            )
        now = self.rt.clock()
        with self.tx() as conn:
            rows = [self.require_row(conn, k, lock=True) for k in unique]
            for row in rows:
                if row["status"] != ActionStatus.AWAITING_APPROVAL:
                    raise ConflictError(
                        f"action {row['idempotency_key']!r} is {row['status']}, "
                        "not awaiting approval",
                        code="not_awaiting_approval",
                    )
            projects = {r["project"] for r in rows}
            if len(projects) != 1:
                raise InvalidInputError(
                    "a batch must stay within one project", code="invalid_batch"
                )
            hashes = sorted(r["payload_hash"] for r in rows)
            categories = {action_category(r["provider"], r["action"]).value for r in rows}
            batch_id = conn.execute(
                insert(APPROVALS).returning(APPROVALS.c.id),
                {
                    "subject_hash": subject_hash(hashes),
                    "hashes": canonical_json(hashes).decode("ascii"),
                    "status": ApprovalStatus.PENDING.value,
                    "category": categories.pop() if len(categories) == 1 else "mixed",
                    "project": projects.pop(),
                    "requested_by": requested_by,
                    "decided_by": None,
                    "reason": None,
                    "created_at": now,
                    "expires_at": now + DEFAULT_APPROVAL_TTL,
                    "decided_at": None,
                },
            ).scalar_one()
            old_ids = {r["approval_id"] for r in rows if r["approval_id"] is not None}
            for old in old_ids:
                conn.execute(
                    update(APPROVALS)
                    .where(APPROVALS.c.id == old)
                    .where(APPROVALS.c.status == ApprovalStatus.PENDING.value)
                    .values(
                        status=ApprovalStatus.SUPERSEDED.value,
                        decided_at=now,
                        reason=f"superseded by batch approval {batch_id}",
                    )
                )
            for row in rows:
                result = conn.execute(
                    update(ACTIONS)
                    .where(ACTIONS.c.idempotency_key == row["idempotency_key"])
                    .where(ACTIONS.c.status == ActionStatus.AWAITING_APPROVAL.value)
                    .where(ACTIONS.c.fencing == row["fencing"])
                    .values(approval_id=batch_id, updated_at=now)
                )
                if result.rowcount != 1:
                    raise ConflictError(
                        "an action changed while batching", code="concurrent_update"
                    )
            body = approval_dict(self._approval(conn, batch_id))
            body["actions"] = unique
            return body

    def expire_due(self, now: datetime | None = None) -> int:
        """Pending approvals past their expiry become expired, and so do their actions."""
        now = now if now is not None else self.rt.clock()
        count = 0
        with self.tx() as conn:
            due = (
                conn.execute(
                    select(APPROVALS.c.id)
                    .where(APPROVALS.c.status == ApprovalStatus.PENDING.value)
                    .where(APPROVALS.c.expires_at <= now)
                )
                .scalars()
                .all()
            )
            for approval_id in due:
                conn.execute(
                    update(APPROVALS)
                    .where(APPROVALS.c.id == approval_id)
                    .where(APPROVALS.c.status == ApprovalStatus.PENDING.value)
                    .values(status=ApprovalStatus.EXPIRED.value, decided_at=now)
                )
                for row in self._covered(conn, approval_id, lock=True):
                    if row["status"] == ActionStatus.AWAITING_APPROVAL:
                        self.move(
                            conn,
                            row,
                            ActionStatus.EXPIRED,
                            event="expired",
                            actor="system",
                            now=now,
                            data={"approval_id": approval_id},
                            values={"completed_at": now},
                        )
                        count += 1
        return count
