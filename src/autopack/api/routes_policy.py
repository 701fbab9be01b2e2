"""The provider policy monitor over HTTP (documented in the API contract)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from autopack.api.deps import ActorDep, RuntimeDep, acting
from autopack.api.schemas import (
    NewPolicyAck,
    PolicyAck,
    PolicyAckItem,
    PolicyChange,
    PolicyDiff,
    PolicyPage,
    PolicyStatusList,
    ProviderPolicy,
    error_responses,
)
from autopack.domain.error_codes import ErrorCode
from autopack.domain.principals import Permission
from autopack.services.policy_monitor import PolicyMonitor

router = APIRouter(prefix="/api")

Provider = Annotated[
    str, Path(min_length=1, max_length=64, description="A provider under the policy monitor.")
]


@router.get("/policy", responses=error_responses(ErrorCode.FORBIDDEN))
def policy_status(rt: RuntimeDep, actor: ActorDep) -> PolicyStatusList:
    actor.require(Permission.READ_ALL)
    found = PolicyMonitor(rt).status()
    return PolicyStatusList(
        providers=[
            ProviderPolicy(
                provider=p["provider"],
                standing=p["standing"],
                freshness_days=p["freshness_days"],
                pages=[PolicyPage(**page) for page in p["pages"]],
            )
            for p in found
        ]
    )


@router.get(
    "/policy/{provider}/diff",
    responses=error_responses(ErrorCode.FORBIDDEN, ErrorCode.POLICY_NOT_WATCHED, validated=True),
)
def policy_diff(provider: Provider, rt: RuntimeDep, actor: ActorDep) -> PolicyDiff:
    actor.require(Permission.READ_ALL)
    changes = PolicyMonitor(rt).pending(provider)
    return PolicyDiff(provider=provider, changes=[PolicyChange(**c) for c in changes])


@router.post(
    "/policy/{provider}/ack",
    responses=error_responses(
        ErrorCode.FORBIDDEN,
        ErrorCode.IDENTITY_MISMATCH,
        ErrorCode.INVALID_ACTOR,
        ErrorCode.POLICY_NOT_WATCHED,
        ErrorCode.INVALID_POLICY_HASH,
        ErrorCode.POLICY_ACK_MISMATCH,
        validated=True,
    ),
)
def policy_ack(
    provider: Provider, body: NewPolicyAck, rt: RuntimeDep, actor: ActorDep
) -> PolicyAck:
    who = acting(actor, body.actor, "actor")
    done = PolicyMonitor(rt).ack(
        provider, from_hash=body.from_hash, to_hash=body.to_hash, actor=who
    )
    return PolicyAck(provider=provider, acknowledged=[PolicyAckItem(**item) for item in done])
