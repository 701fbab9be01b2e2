"""Durable halts over HTTP (documented in the API contract)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict

from autopack.api.deps import RuntimeDep
from autopack.services.halts import MAX_HALT_ID, HaltService

router = APIRouter(prefix="/api")

HaltId = Annotated[int, Path(ge=1, le=MAX_HALT_ID, description="Halt id.")]


class NewHalt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: str
    reason: str
    actor: str


class Halt(BaseModel):
    id: int
    scope: str
    reason: str
    engaged_by: str
    engaged_at: str
    released_by: str | None
    released_at: str | None
    release_reason: str | None
    engaged: bool


class HaltEvent(BaseModel):
    event: str
    actor: str
    principal_id: int | None
    via: str
    at: str
    reason: str


class HaltDetail(Halt):
    events: list[HaltEvent]


class HaltList(BaseModel):
    halts: list[Halt]


@router.get("/halts")
def list_halts(
    rt: RuntimeDep,
    include_released: Annotated[bool, Query(alias="all")] = False,
) -> HaltList:
    items = HaltService(rt).list(include_released=include_released)
    return HaltList(halts=[Halt(**h) for h in items])


@router.post("/halts", status_code=201)
def engage_halt(body: NewHalt, rt: RuntimeDep) -> Halt:
    return Halt(**HaltService(rt).engage(body.scope, reason=body.reason, actor=body.actor))


@router.get("/halts/{halt_id}")
def get_halt(halt_id: HaltId, rt: RuntimeDep) -> HaltDetail:
    return HaltDetail(**HaltService(rt).get(halt_id))


@router.delete("/halts/{halt_id}")
def release_halt(
    halt_id: HaltId,
    rt: RuntimeDep,
    actor: Annotated[str, Query(description="Who releases the halt.")],
    reason: str | None = None,
) -> Halt:
    return Halt(**HaltService(rt).release(halt_id, actor=actor, reason=reason))
