"""Allowlist gate: an order's symbol must be in every allowlist that applies."""

from __future__ import annotations

from typing import Final

from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import GateFacts, GateResult, allow, refuse

NAME: Final = "symbol_allowlist"


class AllowlistGate:
    name = NAME

    def check(self, facts: GateFacts) -> GateResult:
        trading = facts.trading
        if trading is None or trading.order is None:
            return allow(NAME)
        symbol = trading.order.symbol
        for scope in trading.scopes:
            allowed = scope.limits.symbols
            if allowed is not None and symbol not in allowed:
                return refuse(
                    NAME,
                    ErrorCode.TRADING_SYMBOL_NOT_ALLOWED,
                    f"{symbol} is not in the allowlist of {scope.label} "
                    f"({', '.join(sorted(allowed)[:10])}{', ...' if len(allowed) > 10 else ''})",
                )
        return allow(NAME)
