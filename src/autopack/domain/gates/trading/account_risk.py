"""Daily-loss and drawdown gates: read from the broker's account (equity,
last_equity, the high-water mark of equity). Fail closed: with either limit set,
an account never read, or read longer ago than the allowed age, holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from autopack.domain.canonical import format_utc
from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import GateFacts, GateResult, allow, hold, refuse
from autopack.domain.gates.trading import amount
from autopack.domain.trading.exposure import AccountRead

DAILY_LOSS: Final = "daily_loss"
DRAWDOWN: Final = "drawdown"


def fresh_account(gate: str, facts: GateFacts) -> AccountRead | GateResult:
    trading = facts.trading
    assert trading is not None
    account = facts.action.account
    read = trading.account
    if read is None:
        return hold(
            gate,
            ErrorCode.TRADING_ACCOUNT_UNKNOWN,
            f"the broker account {account} was never read: run `autopack trading sync "
            f"--account {account}` (the worker syncs it)",
        )
    age = facts.now - read.read_at
    if age > trading.max_account_age:
        return hold(
            gate,
            ErrorCode.TRADING_ACCOUNT_STALE,
            f"the broker account {account} was last read at {format_utc(read.read_at)}, "
            f"{int(age.total_seconds())} s ago (at most "
            f"{int(trading.max_account_age.total_seconds())} s): run `autopack trading sync "
            f"--account {account}`",
        )
    return read


@dataclass(frozen=True, slots=True)
class AccountRiskGate:
    """One account-wide limit measured on the broker's account."""

    name: str
    field: str
    code: ErrorCode
    measure: Callable[[AccountRead], Decimal]

    def check(self, facts: GateFacts) -> GateResult:
        trading = facts.trading
        if trading is None or trading.order is None:
            return allow(self.name)
        limited = [
            (scope, getattr(scope.limits, self.field))
            for scope in trading.scopes
            if getattr(scope.limits, self.field) is not None
        ]
        if not limited:
            return allow(self.name)
        read = fresh_account(self.name, facts)
        if not isinstance(read, AccountRead):
            return read
        measured = self.measure(read)
        for scope, limit in limited:
            if measured >= limit:
                return refuse(
                    self.name,
                    self.code,
                    f"{self.field} of {scope.label} is {amount(limit)}; the account is at "
                    f"{amount(measured)} (over by {amount(measured - limit)}): trading halts",
                )
        return allow(self.name)


def daily_loss_gate() -> AccountRiskGate:
    return AccountRiskGate(
        DAILY_LOSS, "max_daily_loss", ErrorCode.TRADING_DAILY_LOSS, lambda r: r.daily_loss
    )


def drawdown_gate() -> AccountRiskGate:
    return AccountRiskGate(
        DRAWDOWN,
        "max_drawdown_pct",
        ErrorCode.TRADING_DRAWDOWN,
        lambda r: r.drawdown_pct.quantize(Decimal("0.01")),
    )
