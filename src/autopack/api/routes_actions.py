"""The external-action ledger and approvals over HTTP (documented in the API contract)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from autopack.api.deps import ActorDep, ApprovalsDep, LedgerDep, ReconcilerDep, acting
from autopack.api.schemas import (
    NOT_MODIFIED,
    ActionBody,
    ActionDetail,
    ActionList,
    ApprovalList,
    ApprovalWithKeys,
    ChainReport,
    ExportBody,
    ProposalBody,
    ReconcileReport,
    error_responses,
)
from autopack.domain.canonical import MAX_NESTING_DEPTH, MAX_RECORD_ID, parse_json_strict
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import NotFoundError
from autopack.domain.principals import Permission
from autopack.services.ledger import (
    DEFAULT_LIST_LIMIT,
    MAX_LIST_LIMIT,
    IntentRequest,
)

router = APIRouter(prefix="/api")


class NewAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str
    action: str
    key: str
    payload_json: str = Field(
        description="The payload as JSON text: parsed strictly (no floats, no duplicate keys)."
    )
    account: str = "default"
    project: str | None = None
    run_id: str | None = None
    # Optional: the authenticated principal is the requester; naming another is refused.
    requested_by: str | None = None


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hash: str
    approver: str | None = None


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rejecter: str | None = None
    reason: str | None = None


class Cancellation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str | None = None
    reason: str | None = None


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str
    actor: str | None = None
    provider_object_id: str | None = None
    reason: str | None = None


class Export(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str


# Codes a payload can be refused with: strict JSON, then the provider's render.
PAYLOAD_CODES = (
    ErrorCode.INVALID_JSON,
    ErrorCode.FLOAT_NOT_ALLOWED,
    ErrorCode.DUPLICATE_KEY,
    ErrorCode.INVALID_PAYLOAD,
    ErrorCode.PAYLOAD_TOO_LARGE,
    ErrorCode.INVALID_SANDBOX_INTENT,
    ErrorCode.RESERVED_FIELD,
    ErrorCode.WRONG_PROVIDER,
    ErrorCode.NESTING_TOO_DEEP,
    ErrorCode.INTEGER_TOO_LARGE,
    ErrorCode.INVALID_UNICODE,
    ErrorCode.INVALID_PROVIDER_PAYLOAD,
    ErrorCode.INVALID_MEDIA_REF,
    # A publish or list action's payload is a publish packet, checked whole.
    ErrorCode.PACKET_REQUIRED,
    ErrorCode.INVALID_PACKET,
    ErrorCode.MISSING_DISCLOSURE,
    ErrorCode.TEXT_OVER_LIMIT,
    ErrorCode.MEDIA_TYPE_MISMATCH,
)

# Out of range is a 422 like any other schema violation, never a driver overflow.
ApprovalId = Annotated[int, Path(ge=1, le=MAX_RECORD_ID, description="Approval id.")]


@router.post(
    "/actions",
    status_code=201,
    response_model=ProposalBody,
    responses=error_responses(
        ErrorCode.IDENTITY_MISMATCH,
        ErrorCode.UNKNOWN_PROVIDER,
        ErrorCode.PROVIDER_NOT_AVAILABLE,
        ErrorCode.UNKNOWN_ACTION,
        *PAYLOAD_CODES,
        ErrorCode.INVALID_IDEMPOTENCY_KEY,
        ErrorCode.INVALID_IDENTIFIER,
        ErrorCode.INVALID_PROVIDER,
        ErrorCode.INVALID_ACTION,
        ErrorCode.INVALID_ACCOUNT,
        ErrorCode.INVALID_REQUESTER,
        ErrorCode.INVALID_POLICY,
        ErrorCode.PROJECT_MISMATCH,
        ErrorCode.RUN_NOT_FOUND,
        ErrorCode.IDEMPOTENCY_CONFLICT,
        validated=True,
    ),
)
def propose_action(body: NewAction, ledger: LedgerDep, actor: ActorDep) -> dict[str, Any]:
    who = acting(actor, body.requested_by, "requested_by")  # every role may propose
    payload = parse_json_strict(body.payload_json, max_depth=MAX_NESTING_DEPTH)
    proposal = ledger.propose(
        IntentRequest(
            provider=body.provider,
            action=body.action,
            account=body.account,
            key=body.key,
            payload=payload,
            project=body.project,
            run_id=body.run_id,
            requested_by=who.name,
            requester_principal=who.principal_id,
        )
    )
    return proposal.to_dict()


@router.get(
    "/actions",
    response_model=ActionList,
    responses={
        **NOT_MODIFIED,
        **error_responses(
            ErrorCode.INVALID_STATUS,
            ErrorCode.INVALID_IDENTIFIER,
            ErrorCode.INVALID_CURSOR,
            validated=True,
        ),
    },
)
def list_actions(
    ledger: LedgerDep,
    actor: ActorDep,
    status: str | None = None,
    project: str | None = None,
    run_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = DEFAULT_LIST_LIMIT,
    cursor: str | None = None,
) -> dict[str, Any]:
    # An agent reads its own actions; operators and admins read all.
    mine = None if actor.can(Permission.READ_ALL) else actor.name
    records, next_cursor = ledger.page(
        status, project=project, run_id=run_id, limit=limit, requested_by=mine, cursor=cursor
    )
    return {"actions": [r.to_dict() for r in records], "next_cursor": next_cursor}


@router.get(
    "/actions/verify-chain",
    response_model=ChainReport,
    responses=error_responses(ErrorCode.FORBIDDEN, ErrorCode.CHAIN_BROKEN),
)
def verify_chain(ledger: LedgerDep, actor: ActorDep) -> dict[str, Any]:
    actor.require(Permission.READ_ALL)
    return ledger.verify_chain()


@router.post(
    "/actions/reconcile",
    response_model=ReconcileReport,
    responses=error_responses(
        ErrorCode.FORBIDDEN,
    ),
)
def reconcile(reconciler: ReconcilerDep, actor: ActorDep) -> dict[str, Any]:
    actor.require(Permission.OPERATE)
    return reconciler.reconcile()


@router.post(
    "/actions/export",
    response_model=ExportBody,
    responses=error_responses(
        ErrorCode.FORBIDDEN, ErrorCode.INVALID_IDENTIFIER, ErrorCode.RUN_NOT_FOUND, validated=True
    ),
)
def export_run(body: Export, ledger: LedgerDep, actor: ActorDep) -> dict[str, Any]:
    actor.require(Permission.OPERATE)
    path, document = ledger.export_run(body.run_id)
    return {"path": path, "document": document}


@router.get(
    "/actions/{key}",
    response_model=ActionDetail,
    responses=error_responses(ErrorCode.INVALID_IDEMPOTENCY_KEY, ErrorCode.ACTION_NOT_FOUND),
)
def show_action(key: str, ledger: LedgerDep, actor: ActorDep) -> dict[str, Any]:
    detail = ledger.show(key)
    if detail["action"]["requested_by"] != actor.name and not actor.can(Permission.READ_ALL):
        # An agent reads only its own actions; others' look like unknown keys, so it
        # cannot probe which keys exist.
        raise NotFoundError(f"no action with key {key!r}", code=ErrorCode.ACTION_NOT_FOUND)
    return detail


@router.post(
    "/actions/{key}/cancel",
    response_model=ActionBody,
    responses=error_responses(
        ErrorCode.FORBIDDEN,
        ErrorCode.IDENTITY_MISMATCH,
        ErrorCode.INVALID_UNICODE,
        ErrorCode.INVALID_IDEMPOTENCY_KEY,
        ErrorCode.INVALID_ACTOR,
        ErrorCode.ACTION_NOT_FOUND,
        ErrorCode.NOT_CANCELLABLE,
        validated=True,
    ),
)
def cancel_action(
    key: str, body: Cancellation, ledger: LedgerDep, actor: ActorDep
) -> dict[str, Any]:
    who = acting(actor, body.actor, "actor")
    return ledger.cancel(key, actor=who, reason=body.reason).to_dict()


@router.post(
    "/actions/{key}/resolve",
    response_model=ActionBody,
    responses=error_responses(
        ErrorCode.FORBIDDEN,
        ErrorCode.IDENTITY_MISMATCH,
        ErrorCode.INVALID_UNICODE,
        ErrorCode.INVALID_IDEMPOTENCY_KEY,
        ErrorCode.INVALID_OUTCOME,
        ErrorCode.OBJECT_ID_REQUIRED,
        ErrorCode.INVALID_OBJECT_ID,
        ErrorCode.INVALID_ACTOR,
        ErrorCode.ACTION_NOT_FOUND,
        ErrorCode.NOT_RESOLVABLE,
        validated=True,
    ),
)
def resolve_action(
    key: str, body: Resolution, ledger: LedgerDep, actor: ActorDep
) -> dict[str, Any]:
    return ledger.resolve(
        key,
        outcome=body.outcome,
        actor=acting(actor, body.actor, "actor"),
        provider_object_id=body.provider_object_id,
        reason=body.reason,
    ).to_dict()


@router.get(
    "/approvals",
    response_model=ApprovalList,
    responses={
        **NOT_MODIFIED,
        **error_responses(
            ErrorCode.FORBIDDEN, ErrorCode.INVALID_STATUS, ErrorCode.INVALID_CURSOR, validated=True
        ),
    },
)
def list_approvals(
    approvals: ApprovalsDep,
    actor: ActorDep,
    status: str = "pending",
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = DEFAULT_LIST_LIMIT,
    cursor: str | None = None,
) -> dict[str, Any]:
    actor.require(Permission.READ_ALL)
    items, next_cursor = approvals.page(None if status == "all" else status, limit, cursor)
    return {"approvals": items, "next_cursor": next_cursor}


@router.get(
    "/approvals/{approval_id}",
    response_model=ApprovalWithKeys,
    responses=error_responses(ErrorCode.FORBIDDEN, ErrorCode.APPROVAL_NOT_FOUND, validated=True),
)
def get_approval(
    approval_id: ApprovalId, approvals: ApprovalsDep, actor: ActorDep
) -> dict[str, Any]:
    actor.require(Permission.READ_ALL)
    return approvals.get(approval_id)


# What deciding an approval can be refused with (nothing changes).
DECISION_REFUSALS = (
    ErrorCode.APPROVAL_USED,
    ErrorCode.APPROVAL_EXPIRED,
    ErrorCode.NOTHING_TO_APPROVE,
)


@router.post(
    "/approvals/{approval_id}/approve",
    response_model=ApprovalWithKeys,
    responses=error_responses(
        ErrorCode.FORBIDDEN,
        ErrorCode.IDENTITY_MISMATCH,
        ErrorCode.SECOND_APPROVER_REQUIRED,
        ErrorCode.INVALID_APPROVER,
        ErrorCode.INVALID_POLICY,
        ErrorCode.APPROVAL_NOT_FOUND,
        ErrorCode.APPROVAL_HASH_MISMATCH,
        *DECISION_REFUSALS,
        ErrorCode.SELF_APPROVAL_REFUSED,
        ErrorCode.APPROVER_RESERVED,
        validated=True,
    ),
)
def approve(
    approval_id: ApprovalId, body: Decision, approvals: ApprovalsDep, actor: ActorDep
) -> dict[str, Any]:
    who = acting(actor, body.approver, "approver")
    return approvals.approve(approval_id, hash_=body.hash, approver=who)


@router.post(
    "/approvals/{approval_id}/reject",
    response_model=ApprovalWithKeys,
    responses=error_responses(
        ErrorCode.FORBIDDEN,
        ErrorCode.IDENTITY_MISMATCH,
        ErrorCode.INVALID_UNICODE,
        ErrorCode.INVALID_APPROVER,
        ErrorCode.APPROVAL_NOT_FOUND,
        *DECISION_REFUSALS,
        validated=True,
    ),
)
def reject(
    approval_id: ApprovalId, body: Rejection, approvals: ApprovalsDep, actor: ActorDep
) -> dict[str, Any]:
    who = acting(actor, body.rejecter, "rejecter")
    return approvals.reject(approval_id, rejecter=who, reason=body.reason)
