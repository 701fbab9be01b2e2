"""Durable halts over HTTP (documented in the API contract)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from autopack.api.deps import ActorDep, RuntimeDep, acting
from autopack.api.schemas import NOT_MODIFIED, Halt, HaltDetail, HaltList, NewHalt, error_responses
from autopack.domain.error_codes import ErrorCode
from autopack.domain.principals import Permission
from autopack.services.halts import MAX_HALT_ID, HaltService

router = APIRouter(prefix="/api")

HaltId = Annotated[int, Path(ge=1, le=MAX_HALT_ID, description="Halt id.")]


@router.get(
    "/halts",
    responses={**NOT_MODIFIED, **error_responses(ErrorCode.FORBIDDEN, validated=True)},
)
def list_halts(
    rt: RuntimeDep,
    actor: ActorDep,
    include_released: Annotated[bool, Query(alias="all")] = False,
) -> HaltList:
    actor.require(Permission.READ_ALL)
    items = HaltService(rt).list(include_released=include_released)
    return HaltList(halts=[Halt(**h) for h in items])


@router.post(
    "/halts",
    status_code=201,
    responses=error_responses(
        ErrorCode.FORBIDDEN,
        ErrorCode.IDENTITY_MISMATCH,
        ErrorCode.INVALID_SCOPE,
        ErrorCode.INVALID_REASON,
        ErrorCode.INVALID_UNICODE,
        ErrorCode.INVALID_ACTOR,
        validated=True,
    ),
)
def engage_halt(body: NewHalt, rt: RuntimeDep, actor: ActorDep) -> Halt:
    who = acting(actor, body.actor, "actor")
    return Halt(**HaltService(rt).engage(body.scope, reason=body.reason, actor=who))


@router.get(
    "/halts/{halt_id}",
    responses=error_responses(ErrorCode.FORBIDDEN, ErrorCode.HALT_NOT_FOUND, validated=True),
)
def get_halt(halt_id: HaltId, rt: RuntimeDep, actor: ActorDep) -> HaltDetail:
    actor.require(Permission.READ_ALL)
    return HaltDetail(**HaltService(rt).get(halt_id))


@router.delete(
    "/halts/{halt_id}",
    responses=error_responses(
        ErrorCode.FORBIDDEN,
        ErrorCode.IDENTITY_MISMATCH,
        ErrorCode.INVALID_ACTOR,
        ErrorCode.INVALID_REASON,
        ErrorCode.INVALID_UNICODE,
        ErrorCode.HALT_NOT_FOUND,
        ErrorCode.HALT_RELEASED,
        validated=True,
    ),
)
def release_halt(
    halt_id: HaltId,
    rt: RuntimeDep,
    actor: ActorDep,
    as_actor: Annotated[
        str | None, Query(alias="actor", description="Optional: must name the caller.")
    ] = None,
    reason: str | None = None,
) -> Halt:
    who = acting(actor, as_actor, "actor")
    return Halt(**HaltService(rt).release(halt_id, actor=who, reason=reason))
