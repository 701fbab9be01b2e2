"""Strategy gate: an order names a registered strategy, with the hash it was
approved under; a changed strategy (or an unregistered one) refuses it."""

from __future__ import annotations

from typing import Final

from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import GateFacts, GateResult, allow, refuse

NAME: Final = "strategy"


class StrategyGate:
    name = NAME

    def check(self, facts: GateFacts) -> GateResult:
        trading = facts.trading
        if trading is None:
            return allow(NAME)
        order = trading.order
        if order is None:
            return refuse(
                NAME,
                ErrorCode.TRADING_STRATEGY_UNREGISTERED,
                "the order names no strategy: every order carries "
                '"strategy": {"name": ..., "sha256": ...} of a registered strategy',
            )
        if trading.registered_hash is None:
            return refuse(
                NAME,
                ErrorCode.TRADING_STRATEGY_UNREGISTERED,
                f"strategy {order.strategy.name} is not registered: run `autopack trading "
                f"strategy register {order.strategy.name} --file PATH`",
            )
        if trading.registered_hash != order.strategy.sha256:
            return refuse(
                NAME,
                ErrorCode.TRADING_STRATEGY_CHANGED,
                f"strategy {order.strategy.name} changed since this order was approved "
                f"(approved {order.strategy.sha256[:12]}, registered "
                f"{trading.registered_hash[:12]}): propose the order again",
            )
        return allow(NAME)
