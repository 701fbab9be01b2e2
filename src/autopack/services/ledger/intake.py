"""Intake: a requested side effect becomes a recorded intent (propose).

Validates and hashes the request, renders its dry-run request, applies the
project policy (auto-approval) and records the action with its approval and
first events in one write transaction; for the in-process guarded call it can
also claim the action on insert, when the gate pipeline allows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from autopack.domain.approvals import (
    AUTO_APPROVER,
    DEFAULT_APPROVAL_TTL,
    ApprovalStatus,
    validate_person,
)
from autopack.domain.canonical import MAX_NESTING_DEPTH, CanonicalizationError, canonical_form
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.domain.gates import ApprovalFacts, Verdict
from autopack.domain.layout import validate_identifier
from autopack.domain.ledger import (
    GENESIS_HASH,
    MAX_PAYLOAD_BYTES,
    ActionStatus,
    intent_hash,
    validate_key,
    validate_name,
)
from autopack.domain.providers import Intent
from autopack.providers.registry import action_category
from autopack.services.gates import GateService
from autopack.services.ledger.records import (
    ActionRecord,
    IdempotencyConflictError,
    IntentRequest,
    PreparedIntent,
    Proposal,
)
from autopack.services.ledger.store import LedgerStore
from autopack.services.policy import PolicyLoader
from autopack.services.providers import ProviderRegistry
from autopack.services.trading.records import is_order


def prepare_intent(request: IntentRequest, registry: ProviderRegistry) -> PreparedIntent:
    """Validate and normalise an intent with its adapter; raises before anything is
    written. Needs no database: `actions render` uses it alone."""
    provider, action, account, key = (
        request.provider,
        request.action,
        request.account,
        request.key,
    )
    payload, project, run_id = request.payload, request.project, request.run_id
    requested_by = request.requested_by
    validate_name("provider", provider)
    validate_name("action", action)
    validate_name("account", account)
    validate_key(key)
    validate_person("requester", requested_by)
    if project is not None:
        validate_identifier("project", project)
    if run_id is not None:
        validate_identifier("run_id", run_id)
    adapter = registry.get(provider)
    if action not in adapter.actions:
        raise InvalidInputError(
            f"provider {provider!r} has no action {action!r}: "
            f"use one of {', '.join(sorted(adapter.actions))}",
            code=ErrorCode.UNKNOWN_ACTION,
        )
    if not isinstance(payload, Mapping):
        raise InvalidInputError("the payload must be a JSON object", code=ErrorCode.INVALID_PAYLOAD)
    try:
        normalized, payload_bytes = canonical_form(payload, max_depth=MAX_NESTING_DEPTH)
    except CanonicalizationError as exc:
        raise InvalidInputError(f"payload refused: {exc.message}", code=exc.code) from exc
    if len(payload_bytes) > MAX_PAYLOAD_BYTES:
        raise InvalidInputError(
            f"payload is {len(payload_bytes)} bytes of canonical JSON; "
            f"the limit is {MAX_PAYLOAD_BYTES}",
            code=ErrorCode.PAYLOAD_TOO_LARGE,
        )
    assert isinstance(normalized, dict)
    intent = Intent(provider, action, account, key, normalized)
    payload_text = payload_bytes.decode("utf-8")
    return PreparedIntent(
        intent=intent,
        payload_text=payload_text,
        # == canonical_hash(intent.to_hashable()), from the canonical text.
        payload_hash=intent_hash(provider, action, account, key, payload_text),
        adapter=adapter,
        project=project,
        run_id=run_id,
        requested_by=requested_by,
        requester_principal=request.requester_principal,
        approved_by=request.approved_by,
        approval_reason=request.approval_reason,
    )


class Intake:
    """Propose: validate, hash, apply the project policy, record (idempotently)."""

    def __init__(
        self,
        store: LedgerStore,
        registry: ProviderRegistry,
        gates: GateService,
        policies: PolicyLoader | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.gates = gates
        self.policies = policies if policies is not None else PolicyLoader(store.rt.workspace)

    def propose(self, request: IntentRequest) -> Proposal:
        """Record an intent (idempotent): same key + same hash returns the existing record,
        same key + different hash raises ``idempotency_conflict`` on every path."""
        return self.propose_prepared(self.prepare(request))

    def propose_prepared(self, prepared: PreparedIntent) -> Proposal:
        with self.store.driver() as db:
            row, found = self.record_intent(db, prepared)
        if found is not None:
            return Proposal(False, prepared, found)
        assert row is not None
        return Proposal.lazy(row, prepared)

    def prepare(self, request: IntentRequest) -> PreparedIntent:
        """Validate and normalise an intent; raises before anything is written."""
        return prepare_intent(request, self.registry)

    def existing(self, db: Any, prepared: PreparedIntent) -> ActionRecord | None:
        """The recorded action for this key when the hash matches; conflict otherwise.

        Read outside any transaction on the driver connection ``db`` (or a pooled
        one when None): one consistent SELECT, no write lock."""
        row = self.store.row_autocommit(prepared.intent.idempotency_key, db)
        if row is None:
            return None
        if row["payload_hash"] != prepared.payload_hash:
            raise IdempotencyConflictError(
                f"idempotency key {prepared.intent.idempotency_key!r} is already used by "
                "a different intent (payload hash differs): use a new key",
                details={
                    "key": prepared.intent.idempotency_key,
                    "recorded_hash": row["payload_hash"],
                    "given_hash": prepared.payload_hash,
                },
            )
        return ActionRecord.from_row(row)

    def insert_new(
        self,
        db: Any,
        prepared: PreparedIntent,
        now: datetime,
        *,
        claim_if_auto: str | None = None,
        lease_seconds: float = 0.0,
    ) -> dict[str, Any] | None:
        """Insert approval, action and first events on the driver connection ``db``,
        inside the caller's write transaction. With ``claim_if_auto``, an action the
        project policy auto-approves is inserted already claimed by that owner.

        Returns the new row; None when the key is already recorded (PostgreSQL
        checks in the insert itself; on SQLite a taken key raises IntegrityError)."""
        intent = prepared.intent
        project = prepared.project
        run_id = prepared.run_id
        if run_id is not None:
            run_project = self.store.run_project(db, run_id)
            if project is not None and project != run_project:
                raise InvalidInputError(
                    f"run {run_id!r} belongs to project {run_project!r}, not {project!r}",
                    code=ErrorCode.PROJECT_MISMATCH,
                )
            project = run_project
        policy = self.policies.load(project)
        category = action_category(intent.provider, intent.action).value
        auto = policy.may_auto_approve(intent.provider, intent.action, intent.account)
        # A person's own command (the kill switch) approves what it proposes.
        decided_by = prepared.approved_by or (AUTO_APPROVER if auto else None)
        if prepared.approved_by is not None:
            validate_person("approver", prepared.approved_by)
            auto = True
        # An order is claimed only by the worker's claim, which takes its reservation.
        if auto and claim_if_auto is not None and not is_order(intent.provider, intent.action):
            # The in-process guarded call claims on insert: the same gate pipeline
            # as the worker's claim decides (a halt or a paused account holds it;
            # it is then recorded approved and waits like any other action).
            decision = self.gates.decide(
                db,
                {
                    "provider": intent.provider,
                    "action": intent.action,
                    "account": intent.account,
                    "category": category,
                    "payload_hash": prepared.payload_hash,
                    "attempt_count": 0,
                },
                now,
                ApprovalFacts(
                    ApprovalStatus.APPROVED.value,
                    (prepared.payload_hash,),
                    now + DEFAULT_APPROVAL_TTL,
                ),
            )
            claim_owner = claim_if_auto if decision.verdict is Verdict.ALLOW else None
        else:
            claim_owner = None
        request_hash = prepared.rendered.request_hash
        approval: dict[str, Any] = {
            "subject_hash": prepared.payload_hash,
            "hashes": f'["{prepared.payload_hash}"]',  # canonical JSON of [hash]
            "status": (ApprovalStatus.APPROVED if auto else ApprovalStatus.PENDING).value,
            "category": category,
            "project": project,
            "requested_by": prepared.requested_by,
            "requested_by_principal": prepared.requester_principal,
            "required_approvals": policy.required_approvals(
                category, intent.provider, intent.account
            ),
            "decided_by": decided_by,
            "reason": (
                prepared.approval_reason or "approved by the command that proposed it"
                if prepared.approved_by is not None
                else "project policy auto-approves this action"
                if auto
                else None
            ),
            "created_at": now,
            "expires_at": now + DEFAULT_APPROVAL_TTL,
            "decided_at": now if auto else None,
        }
        approval_id = self.store.reserve_approval(db, approval)
        key = intent.idempotency_key
        events: list[dict[str, Any]] = []
        prev = GENESIS_HASH

        def add(event: str, frm: str | None, to: str, fencing: int, actor: str, data: Any) -> None:
            nonlocal prev
            ev = self.store.event_values(
                key=key,
                seq=len(events) + 1,
                prev_hash=prev,
                event=event,
                from_status=frm,
                to_status=to,
                fencing=fencing,
                actor=actor,
                now=now,
                data=data,
                trusted=True,  # hashes, ids and counters only
            )
            events.append(ev)
            prev = ev["hash"]

        add(
            "proposed",
            None,
            ActionStatus.AWAITING_APPROVAL,
            0,
            prepared.requested_by,
            {
                "payload_hash": prepared.payload_hash,
                "request_hash": request_hash,
                "approval_id": approval_id,
            },
        )
        status = ActionStatus.AWAITING_APPROVAL
        fencing = 0
        values: dict[str, Any] = {}
        if auto:
            add(
                "approved",
                status,
                ActionStatus.APPROVED,
                0,
                decided_by or AUTO_APPROVER,
                {"approval_id": approval_id, "hash": prepared.payload_hash},
            )
            status = ActionStatus.APPROVED
        if claim_owner is not None:
            fencing = 1
            add("claimed", status, ActionStatus.DISPATCHING, fencing, claim_owner, {"attempt": 1})
            status = ActionStatus.DISPATCHING
            values = {
                "lease_owner": claim_owner,
                "lease_expires_at": now + timedelta(seconds=lease_seconds),
                "started_at": now,
                "attempt_count": 1,
            }
        row: dict[str, Any] = {
            "idempotency_key": key,
            "provider": intent.provider,
            "action": intent.action,
            "account": intent.account,
            "category": category,
            "project": project,
            "run_id": run_id,
            "payload": prepared.payload_text,
            "payload_hash": prepared.payload_hash,
            "request_hash": request_hash,
            "approval_id": approval_id,
            "requested_by": prepared.requested_by,
            "status": status.value,
            "created_at": now,
            "updated_at": now,
            "started_at": None,
            "completed_at": None,
            "next_attempt_at": None,
            "attempt_count": 0,
            "retry_count": 0,
            "redispatch_count": 0,
            "lease_owner": None,
            "fencing": fencing,
            "lease_expires_at": None,
            "provider_object_id": None,
            "response_summary": None,
            "last_error": None,
            "event_count": len(events),
            "last_event_hash": prev,
        }
        row.update(values)
        if not self.store.insert_intent(db, approval, row, events):
            return None
        outbox = self.store.outbox
        if outbox is not None and not auto:
            # In the intent's write transaction: the approval and its notification
            # commit together.
            outbox.approval_pending(db, {**approval, "id": approval_id}, [row], now)
        return row

    def record_intent(
        self,
        db: Any,
        prepared: PreparedIntent,
        *,
        claim_if_auto: str | None = None,
        lease_seconds: float = 0.0,
    ) -> tuple[dict[str, Any] | None, ActionRecord | None]:
        """Insert the intent, or find it: (new row, None) or (None, existing record).

        SQLite: the check is a lone SELECT outside the write transaction, so
        replays (a retrying agent) take no write lock and cost one statement; a
        proposer that slips in between the check and our insert is caught by the
        primary key. PostgreSQL: the insert itself skips a taken key, so a new key
        costs no extra round trip. Either way a key found taken is re-read and
        gives the existing record or the conflict error.
        """
        if self.store.prechecks_replays:
            found = self.existing(db, prepared)
            if found is not None:
                return None, found
        try:
            with self.store.write(db):
                row = self.insert_new(
                    db,
                    prepared,
                    self.store.rt.clock(),
                    claim_if_auto=claim_if_auto,
                    lease_seconds=lease_seconds,
                )
        except self.store.integrity_errors:
            # Lost the race to another proposer: the unique key decides.
            found = self.existing(db, prepared)
            if found is None:
                raise
            return None, found
        if row is None:
            # The insert skipped a committed row with this key; actions are never
            # deleted, so it is there to read.
            found = self.existing(db, prepared)
            assert found is not None
            return None, found
        return row, None
