"""What an order asks, in the numbers the risk limits compare.

Quantities are signed (buy positive, sell negative). A quantity or notional
the order does not give is derived from the best price known (the order's own
limit or stop price, else the broker's last price of the symbol); when no price
is known it stays None and any limit that needs it holds the order (fail
closed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Final

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError

STRATEGY_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
SHA256: Final = re.compile(r"[0-9a-f]{64}")
QTY_QUANTUM: Final = Decimal("0.000000001")
MONEY_QUANTUM: Final = Decimal("0.01")


def validate_strategy_name(name: str) -> str:
    if not isinstance(name, str) or not STRATEGY_NAME.fullmatch(name):
        raise InvalidInputError(
            "a strategy name is 1-64 lower-case letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
            code=ErrorCode.INVALID_STRATEGY,
        )
    return name


def validate_sha256(value: str) -> str:
    if not isinstance(value, str) or not SHA256.fullmatch(value):
        raise InvalidInputError(
            "a strategy hash is 64 lower-case hexadecimal characters (SHA-256)",
            code=ErrorCode.INVALID_STRATEGY,
        )
    return value


@dataclass(frozen=True, slots=True)
class StrategyRef:
    """The strategy an order names: its name and the hash it was approved under."""

    name: str
    sha256: str


@dataclass(frozen=True, slots=True)
class OrderTerms:
    """An order's terms as the trading gates see them."""

    strategy: StrategyRef
    environment: str  # paper | live
    symbol: str
    side: str  # buy | sell
    qty: Decimal | None  # unsigned, as asked
    notional: Decimal | None  # unsigned, as asked
    price: Decimal | None  # the order's own limit/stop price, if any

    @property
    def sign(self) -> int:
        return 1 if self.side == "buy" else -1

    def amounts(self, last_price: Decimal | None) -> tuple[Decimal | None, Decimal | None]:
        """(signed quantity, signed notional), each None when it cannot be known."""
        price = self.price if self.price is not None else last_price
        qty, notional = self.qty, self.notional
        if qty is None and notional is not None and price is not None and price > 0:
            qty = (notional / price).quantize(QTY_QUANTUM, rounding=ROUND_DOWN)
        if notional is None and qty is not None and price is not None:
            notional = (qty * price).quantize(MONEY_QUANTUM)
        return (
            None if qty is None else qty * self.sign,
            None if notional is None else notional * self.sign,
        )
