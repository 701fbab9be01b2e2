"""Order-rate gate: at most N orders in any 60 seconds and in any 24 hours
(counted when claimed, whatever became of them). Holds until the window moves."""

from __future__ import annotations

from typing import Final

from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import GateFacts, GateResult, allow, hold

NAME: Final = "order_rate"


class OrderRateGate:
    name = NAME

    def check(self, facts: GateFacts) -> GateResult:
        trading = facts.trading
        if trading is None or trading.order is None:
            return allow(NAME)
        for scope in trading.scopes:
            for field, limit, used, window in (
                (
                    "max_orders_per_minute",
                    scope.limits.max_orders_per_minute,
                    scope.counts.minute,
                    "60 seconds",
                ),
                (
                    "max_orders_per_day",
                    scope.limits.max_orders_per_day,
                    scope.counts.day,
                    "24 hours",
                ),
            ):
                if limit is not None and used >= limit:
                    return hold(
                        NAME,
                        ErrorCode.TRADING_ORDER_RATE,
                        f"{used} orders in the last {window} on {scope.label}: the "
                        f"{field} {limit} is used up (waits for the window)",
                    )
        return allow(NAME)
