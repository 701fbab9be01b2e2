"""Position gate: whatever open orders of the symbol fill (every one on one
side, none on the other: any of them may be cancelled), the position stays
within the quantity and notional limits, long and short alike. Holds: headroom
returns when orders settle."""

from __future__ import annotations

from typing import Final

from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import GateFacts, GateResult, allow, hold
from autopack.domain.gates.trading import amount, price_unknown

NAME: Final = "position_limit"


class PositionGate:
    name = NAME

    def check(self, facts: GateFacts) -> GateResult:
        trading = facts.trading
        if trading is None or trading.order is None:
            return allow(NAME)
        order = trading.order
        exposure = trading.exposure
        qty, notional = order.amounts(exposure.last_price)
        after_qty = exposure.worst_qty(qty)
        after_value = exposure.worst_value(notional)
        for scope in trading.scopes:
            checks = (
                ("max_position_qty", scope.limits.max_position_qty, after_qty, "quantity"),
                (
                    "max_position_notional",
                    scope.limits.max_position_notional,
                    after_value,
                    "notional",
                ),
            )
            for field, limit, after, what in checks:
                if limit is None:
                    continue
                if after is None:
                    return price_unknown(NAME, order.symbol, f"{field} of {scope.label}")
                if abs(after) > limit:
                    return hold(
                        NAME,
                        ErrorCode.TRADING_POSITION_LIMIT,
                        f"{order.symbol} position {what} could reach {amount(abs(after))} "
                        f"(position, open orders and this one), above the {field} "
                        f"{amount(limit)} of {scope.label} by {amount(abs(after) - limit)}",
                    )
        return allow(NAME)
