"""Per-order notional gate: one order's value (price x quantity) at most the limit."""

from __future__ import annotations

from typing import Final

from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import GateFacts, GateResult, allow, refuse
from autopack.domain.gates.trading import amount, price_unknown

NAME: Final = "order_notional"


class OrderNotionalGate:
    name = NAME

    def check(self, facts: GateFacts) -> GateResult:
        trading = facts.trading
        if trading is None or trading.order is None:
            return allow(NAME)
        order = trading.order
        _, notional = order.amounts(trading.exposure.last_price)
        for scope in trading.scopes:
            limit = scope.limits.max_order_notional
            if limit is None:
                continue
            if notional is None:
                return price_unknown(NAME, order.symbol, f"per-order notional of {scope.label}")
            if abs(notional) > limit:
                return refuse(
                    NAME,
                    ErrorCode.TRADING_ORDER_NOTIONAL,
                    f"order notional {amount(abs(notional))} is above the max_order_notional "
                    f"{amount(limit)} of {scope.label} by {amount(abs(notional) - limit)}",
                )
        return allow(NAME)
