"""Approvals: list, approve (bound to the hash), reject, batch, and expiry sweeps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from autopack.db.models import ApprovalDecisionRow
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
from autopack.domain.canonical import (
    canonical_json,
    check_unicode,
    format_utc,
    parse_json_strict,
)
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConflictError, InvalidInputError, NotFoundError, parse_choice
from autopack.domain.ledger import ActionStatus
from autopack.domain.pages import decode_cursor, encode_cursor
from autopack.domain.principals import Actor, Permission, local_actor
from autopack.domain.redaction import Redactor
from autopack.providers.registry import action_category
from autopack.services.context import Runtime
from autopack.services.ledger import (
    ACTIONS,
    APPROVALS,
    DEFAULT_LIST_LIMIT,
    MAX_LIST_LIMIT,
    LedgerStore,
    approval_dict,
    make_store,
)
from autopack.services.policy import PolicyLoader
from autopack.services.providers import ProviderRegistry

MAX_BATCH = 100
APPROVAL_PAGES = "approvals"  # the cursor's tag
# One page of the list and the cursor of the next (None on the last).
ApprovalPage = tuple[list[dict[str, Any]], str | None]
DECISIONS = cast(Table, ApprovalDecisionRow.__table__)


class ApprovalService:
    """Approve (bound to the hash), reject, batch, list, and expire approvals."""

    def __init__(
        self,
        runtime: Runtime,
        registry: ProviderRegistry | None = None,
        redactor: Redactor | None = None,
        *,
        store: LedgerStore | None = None,
    ) -> None:
        # The registry is accepted for a uniform constructor; approvals need no adapter.
        del registry
        self.rt = runtime
        self.store = store if store is not None else make_store(runtime, redactor)
        self.policies = PolicyLoader(runtime.workspace)

    def _approval(self, conn: Connection, approval_id: int, *, lock: bool = False) -> RowMapping:
        query = select(APPROVALS).where(APPROVALS.c.id == approval_id)
        if lock:
            query = self.store.for_update(query)
        row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFoundError(f"no approval {approval_id}", code=ErrorCode.APPROVAL_NOT_FOUND)
        return row

    def _covered(self, conn: Connection, approval_id: int, *, lock: bool) -> Sequence[RowMapping]:
        query = (
            select(ACTIONS)
            .where(ACTIONS.c.approval_id == approval_id)
            .order_by(ACTIONS.c.idempotency_key)
        )
        if lock:
            query = self.store.for_update(query)
        return conn.execute(query).mappings().all()

    def _decisions(self, conn: Connection, approval_id: int) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(DECISIONS).where(DECISIONS.c.approval_id == approval_id).order_by(DECISIONS.c.id)
        ).mappings()
        return [
            {
                "decision": r["decision"],
                "person": r["person"],
                "principal_id": r["principal_id"],
                "via": r["via"],
                "at": format_utc(r["at"]),
                "reason": r["reason"],
            }
            for r in rows
        ]

    def _body(self, conn: Connection, approval_id: int, keys: list[str]) -> dict[str, Any]:
        body = approval_dict(self._approval(conn, approval_id))
        body["actions"] = keys
        body["decisions"] = self._decisions(conn, approval_id)
        return body

    def get(self, approval_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            row = self._approval(conn, approval_id)
            keys = [r["idempotency_key"] for r in self._covered(conn, row["id"], lock=False)]
            return self._body(conn, row["id"], keys)

    def list(
        self, status: str | None = "pending", limit: int = DEFAULT_LIST_LIMIT
    ) -> list[dict[str, Any]]:
        """Oldest first (the queue a person works through): the first page."""
        return self.page(status, limit)[0]

    def page(
        self,
        status: str | None = "pending",
        limit: int = DEFAULT_LIST_LIMIT,
        cursor: str | None = None,
    ) -> ApprovalPage:
        """One page, oldest first, each approval with the actions it covers, and the
        cursor of the next page (None on the last). Two statements whatever the page
        size: the approvals, then every covered action of the page at once."""
        query = select(APPROVALS)
        if status is not None:
            parse_choice(ApprovalStatus, status, "approval status")
            query = query.where(APPROVALS.c.status == status)
        if cursor is not None:
            after, after_id = decode_cursor(APPROVAL_PAGES, cursor, int)
            query = query.where(
                or_(
                    APPROVALS.c.created_at > after,
                    and_(APPROVALS.c.created_at == after, APPROVALS.c.id > after_id),
                )
            )
        limit = max(1, min(limit, MAX_LIST_LIMIT))
        query = query.order_by(APPROVALS.c.created_at, APPROVALS.c.id).limit(limit + 1)
        with self.store.read() as conn:
            rows = conn.execute(query).mappings().all()
            more = len(rows) > limit
            rows = rows[:limit]
            covered: dict[int, list[dict[str, Any]]] = {int(r["id"]): [] for r in rows}
            if rows:
                actions = conn.execute(
                    select(
                        ACTIONS.c.approval_id,
                        ACTIONS.c.idempotency_key,
                        ACTIONS.c.provider,
                        ACTIONS.c.action,
                        ACTIONS.c.account,
                        ACTIONS.c.status,
                        ACTIONS.c.payload_hash,
                        ACTIONS.c.request_hash,
                    )
                    .where(ACTIONS.c.approval_id.in_(sorted(covered)))
                    .order_by(ACTIONS.c.approval_id, ACTIONS.c.idempotency_key)
                ).mappings()
                for r in actions:
                    covered[int(r["approval_id"])].append(
                        {
                            "key": r["idempotency_key"],
                            "provider": r["provider"],
                            "action": r["action"],
                            "account": r["account"],
                            "status": r["status"],
                            "payload_hash": r["payload_hash"],
                            "request_hash": r["request_hash"],
                        }
                    )
        out: list[dict[str, Any]] = []
        for row in rows:
            body = approval_dict(row)
            body["actions"] = covered[int(row["id"])]
            out.append(body)
        last = rows[-1] if rows and more else None
        next_cursor = (
            None if last is None else encode_cursor(APPROVAL_PAGES, last["created_at"], last["id"])
        )
        return out, next_cursor

    def approve(self, approval_id: int, *, hash_: str, approver: str | Actor) -> dict[str, Any]:
        """Approve exactly the hash shown; single use; refused when expired or self-approved.
        Under a two-person rule the first approval is recorded and the approval stays
        pending until a second, distinct person approves the same hash."""
        return self._decide(approval_id, hash_=hash_, who=local_actor(approver), reason=None)

    def reject(
        self, approval_id: int, *, rejecter: str | Actor, reason: str | None = None
    ) -> dict[str, Any]:
        """Reject: the covered actions become rejected and are never sent."""
        return self._decide(approval_id, hash_=None, who=local_actor(rejecter), reason=reason)

    def _decide(
        self, approval_id: int, *, hash_: str | None, who: Actor, reason: str | None
    ) -> dict[str, Any]:
        """``hash_`` given: approve; None: reject."""
        approve = hash_ is not None
        who.require(Permission.DECIDE)
        validate_person("approver", who.name)
        if reason is not None:
            check_unicode(reason, "reason")
        now = self.rt.clock()
        reason_text = self.store.redacted_text(reason)  # one redaction for every row
        with self.store.tx() as conn:
            approval = self._approval(conn, approval_id, lock=True)
            policy = self.policies.load(approval["project"])
            check_decidable(approval["status"], approval["expires_at"], now)
            hashes = parse_json_strict(approval["hashes"])
            assert isinstance(hashes, list)
            if hash_ is not None:
                check_hash(hash_, approval["subject_hash"])
                check_approver(
                    approval["requested_by"],
                    approval["requested_by_principal"],
                    who,
                    policy,
                )
            covered = [
                r
                for r in self._covered(conn, approval_id, lock=True)
                if r["status"] == ActionStatus.AWAITING_APPROVAL
            ]
            if not covered:
                raise ConflictError(
                    "no action is awaiting this approval (cancelled or already decided)",
                    code=ErrorCode.NOTHING_TO_APPROVE,
                )
            if hash_ is not None and not policy.allow_self_approval:
                for row in covered:
                    # A batch may be requested by someone else: no one approves an
                    # action they proposed themselves.
                    if who.same_person(row["requested_by"], None):
                        raise ApprovalRefusedError(
                            f"{who.name} proposed {row['idempotency_key']!r} and cannot "
                            "approve it (the project policy does not allow self-approval)",
                            code=ErrorCode.SELF_APPROVAL_REFUSED,
                        )
            for row in covered:
                # The binding: each action's payload hash must be one the approval names.
                if row["payload_hash"] not in hashes:
                    raise ApprovalRefusedError(
                        f"action {row['idempotency_key']!r} changed after the approval was "
                        "requested: its payload hash is not the approved one",
                        code=ErrorCode.APPROVAL_HASH_MISMATCH,
                    )
            earlier = [d for d in self._decisions(conn, approval_id) if d["decision"] == "approve"]
            if approve and any(who.same_person(d["person"], d["principal_id"]) for d in earlier):
                raise ApprovalRefusedError(
                    "you already approved this; the two-person rule needs a second, "
                    "different person",
                    code=ErrorCode.SECOND_APPROVER_REQUIRED,
                )
            conn.execute(
                insert(DECISIONS).values(
                    approval_id=approval_id,
                    decision="approve" if approve else "reject",
                    person=who.name,
                    principal_id=who.principal_id,
                    via=who.via.value,
                    at=now,
                    reason=reason_text,
                )
            )
            keys = [r["idempotency_key"] for r in covered]
            if approve and len(earlier) + 1 < int(approval["required_approvals"]):
                # One of two: recorded, still pending; nothing can be sent yet.
                return self._body(conn, approval_id, keys)
            new_status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
            result = conn.execute(
                update(APPROVALS)
                .where(APPROVALS.c.id == approval_id)
                .where(APPROVALS.c.status == ApprovalStatus.PENDING.value)
                .values(
                    status=new_status.value,
                    decided_by=who.name,
                    decided_at=now,
                    reason=reason_text,
                )
            )
            if result.rowcount != 1:
                raise ApprovalRefusedError(
                    "approval already decided: an approval is single use",
                    code=ErrorCode.APPROVAL_USED,
                )
            target = ActionStatus.APPROVED if approve else ActionStatus.REJECTED
            for row in covered:
                self.store.move(
                    conn,
                    row,
                    target,
                    event="approved" if approve else "rejected",
                    actor=who.name,
                    now=now,
                    data={
                        "approval_id": approval_id,
                        "hash": row["payload_hash"],
                        "reason": reason_text,
                        **who.history(),
                    },
                    values={} if approve else {"completed_at": now},
                )
            return self._body(conn, approval_id, keys)

    def request_batch(self, keys: Sequence[str], *, requested_by: str | Actor) -> dict[str, Any]:
        """One approval covering several awaiting actions (their single approvals are
        superseded). The person approves the batch hash: the hash of the sorted
        payload hashes. It needs as many approvers as the strictest action in it."""
        who = local_actor(requested_by)
        who.require(Permission.DECIDE)
        validate_person("requester", who.name)
        unique = sorted(set(keys))
        if not 2 <= len(unique) <= MAX_BATCH:
            raise InvalidInputError(
                f"a batch covers 2 to {MAX_BATCH} distinct actions", code=ErrorCode.INVALID_BATCH
            )
        now = self.rt.clock()
        with self.store.tx() as conn:
            # Lock the current approvals before the actions, in the order a decision
            # locks them (approval, then its actions): the other order could deadlock
            # on PostgreSQL against a concurrent approve or reject.
            current = {self.store.require_row(conn, k)["approval_id"] for k in unique}
            conn.execute(
                self.store.for_update(
                    select(APPROVALS.c.id)
                    .where(APPROVALS.c.id.in_(sorted(i for i in current if i is not None)))
                    .order_by(APPROVALS.c.id)
                )
            )
            rows = [self.store.require_row(conn, k, lock=True) for k in unique]
            for row in rows:
                if row["status"] != ActionStatus.AWAITING_APPROVAL:
                    raise ConflictError(
                        f"action {row['idempotency_key']!r} is {row['status']}, "
                        "not awaiting approval",
                        code=ErrorCode.NOT_AWAITING_APPROVAL,
                    )
            projects = {r["project"] for r in rows}
            if len(projects) != 1:
                raise InvalidInputError(
                    "a batch must stay within one project", code=ErrorCode.INVALID_BATCH
                )
            hashes = sorted(r["payload_hash"] for r in rows)
            categories = {action_category(r["provider"], r["action"]).value for r in rows}
            old_ids = {r["approval_id"] for r in rows if r["approval_id"] is not None}
            required = conn.execute(
                select(func.max(APPROVALS.c.required_approvals)).where(APPROVALS.c.id.in_(old_ids))
            ).scalar_one()
            batch_id = conn.execute(
                insert(APPROVALS).returning(APPROVALS.c.id),
                {
                    "subject_hash": subject_hash(hashes),
                    "hashes": canonical_json(hashes).decode("ascii"),
                    "status": ApprovalStatus.PENDING.value,
                    "category": categories.pop() if len(categories) == 1 else "mixed",
                    "project": projects.pop(),
                    "requested_by": who.name,
                    "requested_by_principal": who.principal_id,
                    "required_approvals": max(1, int(required or 1)),
                    "decided_by": None,
                    "reason": None,
                    "created_at": now,
                    "expires_at": now + DEFAULT_APPROVAL_TTL,
                    "decided_at": None,
                },
            ).scalar_one()
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
            outbox = self.store.outbox
            if outbox is not None:
                batch = conn.execute(select(APPROVALS).where(APPROVALS.c.id == batch_id))
                outbox.approval_pending(conn, batch.mappings().one(), rows, now)
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
                        "an action changed while batching", code=ErrorCode.CONCURRENT_UPDATE
                    )
            return self._body(conn, batch_id, unique)

    def expire_due(self, now: datetime | None = None) -> int:
        """Pending approvals past their expiry become expired, and so do their actions."""
        now = now if now is not None else self.rt.clock()
        count = 0
        with self.store.tx() as conn:
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
                        self.store.move(
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
