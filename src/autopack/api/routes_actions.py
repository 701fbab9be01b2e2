"""The external-action ledger and approvals over HTTP (documented in the API contract)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from autopack.api.deps import RuntimeDep
from autopack.domain.canonical import MAX_NESTING_DEPTH, MAX_RECORD_ID, parse_json_strict
from autopack.services.approvals import ApprovalService
from autopack.services.executor import Executor
from autopack.services.ledger import (
    DEFAULT_LIST_LIMIT,
    DEFAULT_REQUESTER,
    MAX_LIST_LIMIT,
    LedgerService,
)
from autopack.services.providers import ProviderRegistry

router = APIRouter(prefix="/api")


def get_registry(request: Request, rt: RuntimeDep) -> ProviderRegistry:
    """One provider registry per app: adapters keep their connection pools across requests."""
    registry: ProviderRegistry | None = getattr(request.app.state, "provider_registry", None)
    if registry is None:
        registry = ProviderRegistry(rt.settings)
        request.app.state.provider_registry = registry
    return registry


RegistryDep = Annotated[ProviderRegistry, Depends(get_registry)]
# Out of range is a 422 like any other schema violation, never a driver overflow.
ApprovalId = Annotated[int, Path(ge=1, le=MAX_RECORD_ID, description="Approval id.")]


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
    requested_by: str = DEFAULT_REQUESTER


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hash: str
    approver: str


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rejecter: str
    reason: str | None = None


class Cancellation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str = "operator"
    reason: str | None = None


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str
    actor: str
    provider_object_id: str | None = None
    reason: str | None = None


class Export(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str


@router.post("/actions", status_code=201)
def propose_action(body: NewAction, rt: RuntimeDep, reg: RegistryDep) -> dict[str, Any]:
    payload = parse_json_strict(body.payload_json, max_depth=MAX_NESTING_DEPTH)
    proposal = LedgerService(rt, reg).propose(
        provider=body.provider,
        action=body.action,
        account=body.account,
        key=body.key,
        payload=payload,
        project=body.project,
        run_id=body.run_id,
        requested_by=body.requested_by,
    )
    return proposal.to_dict()


@router.get("/actions")
def list_actions(
    rt: RuntimeDep,
    reg: RegistryDep,
    status: str | None = None,
    project: str | None = None,
    run_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = DEFAULT_LIST_LIMIT,
) -> dict[str, Any]:
    records = LedgerService(rt, reg).list(status, project=project, run_id=run_id, limit=limit)
    return {"actions": [r.to_dict() for r in records]}


@router.get("/actions/verify-chain")
def verify_chain(rt: RuntimeDep, reg: RegistryDep) -> dict[str, Any]:
    return LedgerService(rt, reg).verify_chain()


@router.post("/actions/reconcile")
def reconcile(rt: RuntimeDep, reg: RegistryDep) -> dict[str, Any]:
    return Executor(rt, reg, worker="api-reconciler").reconcile()


@router.post("/actions/export")
def export_run(body: Export, rt: RuntimeDep, reg: RegistryDep) -> dict[str, Any]:
    path, document = LedgerService(rt, reg).export_run(body.run_id)
    return {"path": path, "document": document}


@router.get("/actions/{key}")
def show_action(key: str, rt: RuntimeDep, reg: RegistryDep) -> dict[str, Any]:
    return LedgerService(rt, reg).show(key)


@router.post("/actions/{key}/cancel")
def cancel_action(key: str, body: Cancellation, rt: RuntimeDep, reg: RegistryDep) -> dict[str, Any]:
    return LedgerService(rt, reg).cancel(key, actor=body.actor, reason=body.reason).to_dict()


@router.post("/actions/{key}/resolve")
def resolve_action(key: str, body: Resolution, rt: RuntimeDep, reg: RegistryDep) -> dict[str, Any]:
    return (
        LedgerService(rt, reg)
        .resolve(
            key,
            outcome=body.outcome,
            actor=body.actor,
            provider_object_id=body.provider_object_id,
            reason=body.reason,
        )
        .to_dict()
    )


@router.get("/approvals")
def list_approvals(
    rt: RuntimeDep,
    reg: RegistryDep,
    status: str = "pending",
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = DEFAULT_LIST_LIMIT,
) -> dict[str, Any]:
    items = ApprovalService(rt, reg).list(None if status == "all" else status, limit)
    return {"approvals": items}


@router.get("/approvals/{approval_id}")
def get_approval(approval_id: ApprovalId, rt: RuntimeDep, reg: RegistryDep) -> dict[str, Any]:
    return ApprovalService(rt, reg).get(approval_id)


@router.post("/approvals/{approval_id}/approve")
def approve(
    approval_id: ApprovalId, body: Decision, rt: RuntimeDep, reg: RegistryDep
) -> dict[str, Any]:
    return ApprovalService(rt, reg).approve(approval_id, hash_=body.hash, approver=body.approver)


@router.post("/approvals/{approval_id}/reject")
def reject(
    approval_id: ApprovalId, body: Rejection, rt: RuntimeDep, reg: RegistryDep
) -> dict[str, Any]:
    return ApprovalService(rt, reg).reject(approval_id, rejecter=body.rejecter, reason=body.reason)
