"""Trading over HTTP (documented in the API contract): status, limits, the kill
switch, promotions, strategies and the change requests that need approval.

The authenticated principal is the actor of every change; the trading service
checks its permission (``Actor.require``), and reads need ``read_all`` here.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Query

from autopack.api.deps import ActorDep, RuntimeDep, ServicesDep
from autopack.api.schemas import (
    NOT_MODIFIED,
    LimitsChange,
    NewTradingKill,
    NewTradingLimits,
    NewTradingPromotion,
    NewTradingReduce,
    NewTradingResume,
    NewTradingStrategy,
    PendingChange,
    StrategyChange,
    TradingApprove,
    TradingDecision,
    TradingEventList,
    TradingKill,
    TradingReject,
    TradingRequest,
    TradingRequestList,
    TradingStatus,
    TradingStatusList,
    TradingStrategyList,
    TradingSyncReport,
    error_responses,
)
from autopack.domain.canonical import check_unicode
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.domain.ledger import NAME_MAX, validate_name
from autopack.domain.principals import Actor, Permission
from autopack.services.trading.requests import MAX_REQUEST_ID
from autopack.services.trading.service import MAX_EVENTS, TradingService

router = APIRouter(prefix="/api/trading")

Account = Annotated[
    str, Path(min_length=1, max_length=NAME_MAX, description="A trading account name.")
]
SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
RequestId = Annotated[int, Path(ge=1, le=MAX_REQUEST_ID, description="Trading request id.")]


def get_trading(rt: RuntimeDep, services: ServicesDep) -> TradingService:
    # The app's provider registry: broker steps and reads reuse its HTTP clients.
    return TradingService(rt, services.registry)


TradingDep = Annotated[TradingService, Depends(get_trading)]

READ_CODES = (ErrorCode.FORBIDDEN,)
ACCOUNT_CODES = (ErrorCode.FORBIDDEN, ErrorCode.INVALID_ACCOUNT)
REASON_CODES = (ErrorCode.INVALID_REASON, ErrorCode.INVALID_UNICODE)


def _reader(actor: Actor) -> None:
    actor.require(Permission.READ_ALL)


def _known(trading: TradingService, account: str) -> None:
    """404 for an account with no trading record (a read or sync never creates one)."""
    trading.status(account)


def _check_text(limits: dict[str, Any]) -> None:
    """Names and values must be storable text before any message repeats them."""
    for name, value in limits.items():
        check_unicode(name, "limits")
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, str):
                check_unicode(item, f"limits.{name[:40]}")


# -- reads ------------------------------------------------------------------------------


@router.get("", responses={**NOT_MODIFIED, **error_responses(*READ_CODES)})
def all_accounts(trading: TradingDep, actor: ActorDep) -> TradingStatusList:
    _reader(actor)
    return TradingStatusList(
        accounts=[TradingStatus(**trading.status(a)) for a in trading.accounts()]
    )


@router.get(
    "/accounts/{account}",
    responses=error_responses(*ACCOUNT_CODES, ErrorCode.TRADING_ACCOUNT_NOT_FOUND, validated=True),
)
def account_status(account: Account, trading: TradingDep, actor: ActorDep) -> TradingStatus:
    _reader(actor)
    return TradingStatus(**trading.status(account))


@router.get(
    "/accounts/{account}/events",
    responses=error_responses(*ACCOUNT_CODES, ErrorCode.TRADING_ACCOUNT_NOT_FOUND, validated=True),
)
def account_events(
    account: Account,
    trading: TradingDep,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS, description="Newest first.")] = 50,
) -> TradingEventList:
    _reader(actor)
    _known(trading, account)
    return TradingEventList(account=account, events=trading.events(account, limit=limit))


@router.post(
    "/accounts/{account}/sync",
    responses=error_responses(*ACCOUNT_CODES, ErrorCode.TRADING_ACCOUNT_NOT_FOUND, validated=True),
)
def sync_account(account: Account, trading: TradingDep, actor: ActorDep) -> TradingSyncReport:
    # A broker read that writes what it read (and may HALT on a breach): operators.
    actor.require(Permission.OPERATE)
    _known(trading, account)
    return TradingSyncReport(**trading.sync(account))


# -- changes ----------------------------------------------------------------------------


@router.post(
    "/accounts/{account}/limits",
    responses=error_responses(
        *ACCOUNT_CODES,
        ErrorCode.INVALID_STRATEGY,
        ErrorCode.INVALID_TRADING_LIMITS,
        ErrorCode.INVALID_UNICODE,
        ErrorCode.TRADING_NO_CHANGE,
        validated=True,
    ),
)
def set_limits(
    account: Account, body: NewTradingLimits, trading: TradingDep, actor: ActorDep
) -> LimitsChange:
    actor.require(Permission.OPERATE)
    validate_name("account", account)
    _check_text(body.limits)
    return LimitsChange(
        **trading.set_limits(account, body.limits, actor=actor, strategy=body.strategy)
    )


@router.post(
    "/accounts/{account}/kill",
    responses=error_responses(*ACCOUNT_CODES, *REASON_CODES, validated=True),
)
def kill(
    account: Account, body: NewTradingKill, trading: TradingDep, actor: ActorDep
) -> TradingKill:
    return TradingKill(
        **trading.kill(account, reason=body.reason, actor=actor, flatten=body.flatten)
    )


@router.post(
    "/accounts/{account}/reduce",
    responses=error_responses(
        *ACCOUNT_CODES, *REASON_CODES, ErrorCode.TRADING_NO_CHANGE, validated=True
    ),
)
def reduce(
    account: Account, body: NewTradingReduce, trading: TradingDep, actor: ActorDep
) -> TradingStatus:
    return TradingStatus(**trading.reduce(account, reason=body.reason, actor=actor))


@router.post(
    "/accounts/{account}/resume",
    responses=error_responses(
        *ACCOUNT_CODES,
        *REASON_CODES,
        ErrorCode.INVALID_TRADING_STATE,
        ErrorCode.TRADING_NO_CHANGE,
        validated=True,
    ),
)
def resume(
    account: Account, body: NewTradingResume, trading: TradingDep, actor: ActorDep
) -> PendingChange:
    return PendingChange(**trading.resume(account, reason=body.reason, actor=actor, to=body.to))


@router.post(
    "/accounts/{account}/promotions",
    responses=error_responses(
        *ACCOUNT_CODES,
        ErrorCode.INVALID_STRATEGY,
        ErrorCode.STRATEGY_NOT_FOUND,
        ErrorCode.TRADING_LIMITS_MISSING,
        validated=True,
    ),
)
def promote(
    account: Account, body: NewTradingPromotion, trading: TradingDep, actor: ActorDep
) -> PendingChange:
    return PendingChange(
        **trading.promote(account, body.strategy, actor=actor, expires_in_days=body.expires_in_days)
    )


# -- strategies ---------------------------------------------------------------------------


@router.get("/strategies", responses=error_responses(*READ_CODES))
def strategies(trading: TradingDep, actor: ActorDep) -> TradingStrategyList:
    _reader(actor)
    return TradingStrategyList(strategies=trading.strategies())


@router.post(
    "/strategies",
    responses=error_responses(
        ErrorCode.FORBIDDEN, ErrorCode.INVALID_STRATEGY, ErrorCode.TRADING_NO_CHANGE, validated=True
    ),
)
def register_strategy(
    body: NewTradingStrategy, trading: TradingDep, actor: ActorDep
) -> StrategyChange:
    return StrategyChange(**trading.register_strategy(body.name, body.sha256, actor=actor))


# -- requests -----------------------------------------------------------------------------


@router.get("/requests", responses={**NOT_MODIFIED, **error_responses(*READ_CODES, validated=True)})
def list_requests(
    trading: TradingDep,
    actor: ActorDep,
    include_decided: Annotated[
        bool, Query(alias="all", description="true: decided requests too.")
    ] = False,
) -> TradingRequestList:
    _reader(actor)
    return TradingRequestList(requests=trading.requests(pending_only=not include_decided))


@router.get(
    "/requests/{request_id}",
    responses=error_responses(
        ErrorCode.FORBIDDEN, ErrorCode.TRADING_REQUEST_NOT_FOUND, validated=True
    ),
)
def get_request(request_id: RequestId, trading: TradingDep, actor: ActorDep) -> TradingRequest:
    _reader(actor)
    return TradingRequest(**trading.request(request_id))


@router.post(
    "/requests/{request_id}/approve",
    responses=error_responses(
        ErrorCode.FORBIDDEN,
        ErrorCode.INVALID_TRADING_HASH,
        ErrorCode.TRADING_REQUEST_NOT_FOUND,
        ErrorCode.TRADING_REQUEST_DECIDED,
        ErrorCode.TRADING_REQUEST_HASH,
        ErrorCode.SECOND_APPROVER_REQUIRED,
        validated=True,
    ),
)
def approve(
    request_id: RequestId, body: TradingApprove, trading: TradingDep, actor: ActorDep
) -> TradingDecision:
    actor.require(Permission.DECIDE)
    if not SHA256_HEX.fullmatch(body.hash):
        raise InvalidInputError(
            "an approval names the request's payload_hash: 64 lower-case hex digits",
            code=ErrorCode.INVALID_TRADING_HASH,
        )
    return TradingDecision(**trading.approve(request_id, body.hash, actor=actor))


@router.post(
    "/requests/{request_id}/reject",
    responses=error_responses(
        ErrorCode.FORBIDDEN,
        ErrorCode.TRADING_REQUEST_NOT_FOUND,
        ErrorCode.TRADING_REQUEST_DECIDED,
        *REASON_CODES,
        validated=True,
    ),
)
def reject(
    request_id: RequestId, body: TradingReject, trading: TradingDep, actor: ActorDep
) -> TradingRequest:
    return TradingRequest(**trading.reject(request_id, reason=body.reason, actor=actor))
