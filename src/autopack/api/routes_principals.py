"""Principals and their API keys over HTTP (admin only; documented in the API contract)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from autopack.api.deps import ActorDep, RuntimeDep, requires
from autopack.api.schemas import (
    NewPrincipal,
    Principal,
    PrincipalList,
    PrincipalWithKey,
    error_responses,
)
from autopack.domain.error_codes import ErrorCode
from autopack.domain.principals import Permission
from autopack.services.principals import PrincipalService

# Principals are for admins only: one check for the whole router.
router = APIRouter(prefix="/api", dependencies=[Depends(requires(Permission.PRINCIPALS))])

PrincipalName = Annotated[str, Path(max_length=64, description="Principal name.")]


@router.get(
    "/principals", response_model=PrincipalList, responses=error_responses(ErrorCode.FORBIDDEN)
)
def list_principals(rt: RuntimeDep) -> dict[str, Any]:
    return {"principals": PrincipalService(rt).list()}


@router.post(
    "/principals",
    status_code=201,
    response_model=PrincipalWithKey,
    responses=error_responses(
        ErrorCode.FORBIDDEN,
        ErrorCode.INVALID_PRINCIPAL_NAME,
        ErrorCode.INVALID_ROLE,
        ErrorCode.PRINCIPAL_EXISTS,
        validated=True,
    ),
)
def add_principal(body: NewPrincipal, rt: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    """The key is in this answer only: it is stored as a hash."""
    return PrincipalService(rt).add(body.name, role=body.role, actor=actor)


@router.delete(
    "/principals/{name}",
    response_model=Principal,
    responses=error_responses(
        ErrorCode.FORBIDDEN,
        ErrorCode.INVALID_PRINCIPAL_NAME,
        ErrorCode.PRINCIPAL_NOT_FOUND,
        ErrorCode.PRINCIPAL_REVOKED,
        ErrorCode.LAST_ADMIN,
        validated=True,
    ),
)
def revoke_principal(name: PrincipalName, rt: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    return PrincipalService(rt).revoke(name, actor=actor)


@router.post(
    "/principals/{name}/rotate-key",
    response_model=PrincipalWithKey,
    responses=error_responses(
        ErrorCode.FORBIDDEN,
        ErrorCode.INVALID_PRINCIPAL_NAME,
        ErrorCode.PRINCIPAL_NOT_FOUND,
        ErrorCode.PRINCIPAL_REVOKED,
        validated=True,
    ),
)
def rotate_principal_key(name: PrincipalName, rt: RuntimeDep, actor: ActorDep) -> dict[str, Any]:
    """A new key (in this answer only); the principal's old keys stop working at once."""
    return PrincipalService(rt).rotate_key(name, actor=actor)
