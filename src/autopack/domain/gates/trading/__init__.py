"""The trading gates: one module per rule, each reading ``GateFacts.trading``
(present only for an order the trading layer knows: ``alpaca`` ``order.submit``).

Refuse (the order leaves the queue; a person decides): an unregistered or
changed strategy, live without its three conditions, HALTED, REDUCING for an
order that adds exposure, a symbol outside the allowlist, an order above the
per-order notional, a daily loss or drawdown at its limit. Hold (it may pass
later): no limits yet, no price to check a limit, the position or the order
rate without headroom now, the broker account never read or read too long ago.
Every answer names the limit, its scope and by how much.
"""

from __future__ import annotations

from decimal import Decimal

from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import GateResult, hold


def amount(value: Decimal) -> str:
    """A decimal for people: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def price_unknown(gate: str, symbol: str, what: str) -> GateResult:
    return hold(
        gate,
        ErrorCode.TRADING_PRICE_UNKNOWN,
        f"no price of {symbol} is known to check the {what}: send a limit order, or run "
        "`autopack trading sync` once the account holds the symbol",
    )
