"""Limits gate: an account without risk limits trades nothing (fail closed)."""

from __future__ import annotations

from typing import Final

from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import GateFacts, GateResult, allow, hold

NAME: Final = "risk_limits"


class LimitsSetGate:
    name = NAME

    def check(self, facts: GateFacts) -> GateResult:
        trading = facts.trading
        if trading is None or trading.account_limits is not None:
            return allow(NAME)
        account = facts.action.account
        return hold(
            NAME,
            ErrorCode.TRADING_LIMITS_MISSING,
            f"account {account} has no risk limits: set them with `autopack trading limits "
            f"set --account {account} ...` (a first set needs an approval)",
        )
