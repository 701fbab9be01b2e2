"""The facts the trading gates read for one order: pure data, gathered in the
claim's transaction by ``services.trading`` (with the account's row locked)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from autopack.domain.trading.limits import RiskLimits
from autopack.domain.trading.orders import OrderTerms
from autopack.domain.trading.states import TradingState


def add(*values: Decimal | None) -> Decimal | None:
    """The sum, or None when any part is unknown (unknown stays unknown)."""
    total = Decimal(0)
    for value in values:
        if value is None:
            return None
        total += value
    return total


@dataclass(frozen=True, slots=True)
class AccountRead:
    """The broker's account as last read (equity and last_equity are strings
    on the wire, Decimal here)."""

    equity: Decimal
    last_equity: Decimal
    high_water: Decimal
    read_at: datetime

    @property
    def daily_loss(self) -> Decimal:
        """Today's loss as a positive number (0 on a gaining day)."""
        return max(Decimal(0), self.last_equity - self.equity)

    @property
    def drawdown_pct(self) -> Decimal:
        if self.high_water <= 0:
            return Decimal(0)
        return max(Decimal(0), (self.high_water - self.equity) * 100 / self.high_water)


@dataclass(frozen=True, slots=True)
class SymbolExposure:
    """One symbol's position (from the broker) and the open reservations of
    orders sent or claimed but not yet settled, buys and sells apart (signed:
    buys positive, sells negative). Apart, because any open order may still be
    cancelled: a sell that would bring a long position down frees no headroom
    for buys until it has filled."""

    position_qty: Decimal = Decimal(0)
    position_value: Decimal = Decimal(0)
    last_price: Decimal | None = None
    reserved_buy_qty: Decimal | None = Decimal(0)
    reserved_sell_qty: Decimal | None = Decimal(0)
    reserved_buy_notional: Decimal | None = Decimal(0)
    reserved_sell_notional: Decimal | None = Decimal(0)

    def worst_qty(self, order_qty: Decimal | None) -> Decimal | None:
        """The largest absolute position this order could lead to: every open
        order on its side fills, none on the other."""
        return _worst(self.position_qty, self.reserved_buy_qty, self.reserved_sell_qty, order_qty)

    def worst_value(self, order_notional: Decimal | None) -> Decimal | None:
        return _worst(
            self.position_value,
            self.reserved_buy_notional,
            self.reserved_sell_notional,
            order_notional,
        )


def _worst(
    held: Decimal, buys: Decimal | None, sells: Decimal | None, order: Decimal | None
) -> Decimal | None:
    if buys is None or sells is None or order is None:
        return None
    long_side = held + buys + max(order, Decimal(0))
    short_side = held + sells + min(order, Decimal(0))
    return max(abs(long_side), abs(short_side))


@dataclass(frozen=True, slots=True)
class OrderCounts:
    """Orders claimed in the last minute and the last day (account or strategy)."""

    minute: int = 0
    day: int = 0


@dataclass(frozen=True, slots=True)
class LimitScope:
    """One limit set and the counts it is compared with: the account's, or one
    strategy's on it."""

    label: str  # "account A" or "strategy S on A"
    limits: RiskLimits
    counts: OrderCounts


@dataclass(frozen=True, slots=True)
class PromotionFacts:
    """The account's active promotion of the order's strategy, if any."""

    id: int
    strategy_hash: str
    limits: Mapping[str, RiskLimits | None]  # "account" / "strategy" as promoted
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TradingFacts:
    order: OrderTerms | None  # None: the payload is not an order the gates can read
    state: TradingState = TradingState.ACTIVE
    state_reason: str | None = None
    registered_hash: str | None = None  # the strategy's registered hash
    scopes: tuple[LimitScope, ...] = ()  # empty: the account has no limits
    exposure: SymbolExposure = field(default_factory=SymbolExposure)
    account: AccountRead | None = None
    max_account_age: timedelta = timedelta(seconds=60)
    live_enabled: bool = False
    credential_environment: str | None = None
    promotion: PromotionFacts | None = None
    account_limits: RiskLimits | None = None
    strategy_limits: RiskLimits | None = None
