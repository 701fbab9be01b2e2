"""Live gate: paper by default. A live order needs all three: the live-trading
setting, a live credential for its account, and a valid promotion bound to the
strategy's hash and to limits no looser than the promoted ones."""

from __future__ import annotations

from typing import Final

from autopack.domain.canonical import format_utc
from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import GateFacts, GateResult, allow, refuse
from autopack.domain.trading.limits import RiskLimits, loosened

NAME: Final = "live"
LIVE: Final = "live"


def _looser(
    promoted: RiskLimits | None, current: RiskLimits | None, *, account: bool
) -> tuple[str, ...]:
    if current is None:
        # No set now where one was promoted: the strategy's set was removed (looser),
        # or the account has none (held by the limits gate anyway).
        return () if promoted is None else ("limits",)
    base = promoted if promoted is not None else (None if account else RiskLimits())
    return loosened(base, current)


class LiveGate:
    name = NAME

    def check(self, facts: GateFacts) -> GateResult:
        trading = facts.trading
        if trading is None or trading.order is None or trading.order.environment != LIVE:
            return allow(NAME)
        account = facts.action.account
        if not trading.live_enabled:
            return refuse(
                NAME,
                ErrorCode.TRADING_LIVE_DISABLED,
                "live trading is off: AUTOPACK_LIVE_TRADING is not true",
            )
        if trading.credential_environment != LIVE:
            return refuse(
                NAME,
                ErrorCode.TRADING_LIVE_CREDENTIAL,
                f"account {account} holds no live credential "
                f"({trading.credential_environment or 'none'} stored)",
            )
        promotion = trading.promotion
        strategy = trading.order.strategy
        if promotion is None:
            return refuse(
                NAME,
                ErrorCode.TRADING_NOT_PROMOTED,
                f"strategy {strategy.name} is not promoted to live on {account}: run "
                f"`autopack trading promote --account {account} --strategy {strategy.name}`",
            )
        if promotion.expires_at <= facts.now:
            return refuse(
                NAME,
                ErrorCode.TRADING_NOT_PROMOTED,
                f"promotion {promotion.id} expired at {format_utc(promotion.expires_at)}",
            )
        if promotion.strategy_hash != strategy.sha256:
            return refuse(
                NAME,
                ErrorCode.TRADING_NOT_PROMOTED,
                f"promotion {promotion.id} covers strategy hash {promotion.strategy_hash[:12]}, "
                f"not {strategy.sha256[:12]}",
            )
        looser = _looser(
            promotion.limits.get("account"), trading.account_limits, account=True
        ) + _looser(promotion.limits.get("strategy"), trading.strategy_limits, account=False)
        if looser:
            return refuse(
                NAME,
                ErrorCode.TRADING_NOT_PROMOTED,
                f"limits were loosened since promotion {promotion.id} "
                f"({', '.join(sorted(set(looser)))}): promote again",
            )
        return allow(NAME)
