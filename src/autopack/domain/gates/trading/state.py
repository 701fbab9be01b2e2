"""Trading-state gate: HALTED refuses every order; REDUCING refuses an order
that does not reduce the symbol's position towards zero (counting the open
orders on its side, so it never crosses zero even if they all fill)."""

from __future__ import annotations

from typing import Final

from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import GateFacts, GateResult, allow, refuse
from autopack.domain.gates.trading import amount, price_unknown
from autopack.domain.trading.exposure import add
from autopack.domain.trading.states import TradingState

NAME: Final = "trading_state"


class TradingStateGate:
    name = NAME

    def check(self, facts: GateFacts) -> GateResult:
        trading = facts.trading
        if trading is None or trading.state is TradingState.ACTIVE:
            return allow(NAME)
        account = facts.action.account
        why = f" ({trading.state_reason})" if trading.state_reason else ""
        if trading.state is TradingState.HALTED:
            return refuse(
                NAME,
                ErrorCode.TRADING_HALTED,
                f"trading on {account} is HALTED{why}: `autopack trading resume --account "
                f"{account}` needs an approval",
            )
        order = trading.order
        if order is None:
            return allow(NAME)  # the strategy gate refuses it
        exposure = trading.exposure
        qty, _ = order.amounts(exposure.last_price)
        if qty is None:
            return price_unknown(NAME, order.symbol, "REDUCING state")
        held = exposure.position_qty
        # Reduces even if every open order on its side fills: never past zero.
        if qty < 0:
            after = add(held, exposure.reserved_sell_qty, qty)
            reduces = held > 0 and after is not None and after >= 0
        else:
            after = add(held, exposure.reserved_buy_qty, qty)
            reduces = held < 0 and after is not None and after <= 0
        if reduces:
            return allow(NAME)
        return refuse(
            NAME,
            ErrorCode.TRADING_REDUCING,
            f"trading on {account} is REDUCING{why}: a {order.side} of {amount(abs(qty))} "
            f"{order.symbol} does not reduce the position of {amount(held)} towards zero",
        )
