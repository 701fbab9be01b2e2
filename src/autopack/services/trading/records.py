"""The trading tables and the small helpers every trading module shares.

Account amounts (equity, positions) are stored as decimal strings
(``amount_text``), read back as ``Decimal`` (``amount_of``): the same digits on
SQLite and PostgreSQL. Reservations are whole units (billionths of a share,
cents), so one SQL statement sums them exactly on both.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from autopack.db.models import (
    ExternalActionRow,
    TradingAccountRow,
    TradingApprovalRow,
    TradingEventRow,
    TradingLimitsRow,
    TradingPromotionRow,
    TradingRequestRow,
    TradingReservationRow,
    TradingStrategyRow,
)
from autopack.domain.canonical import canonical_json, parse_json_strict
from autopack.domain.ledger import ActionStatus
from autopack.domain.principals import Actor
from autopack.domain.trading.limits import RiskLimits
from autopack.domain.trading.states import TradingState

ACTIONS = cast(Table, ExternalActionRow.__table__)
ACCOUNTS = cast(Table, TradingAccountRow.__table__)
STRATEGIES = cast(Table, TradingStrategyRow.__table__)
LIMITS = cast(Table, TradingLimitsRow.__table__)
REQUESTS = cast(Table, TradingRequestRow.__table__)
APPROVALS = cast(Table, TradingApprovalRow.__table__)
PROMOTIONS = cast(Table, TradingPromotionRow.__table__)
RESERVATIONS = cast(Table, TradingReservationRow.__table__)
EVENTS = cast(Table, TradingEventRow.__table__)

# The broker the trading layer trades through, and its order action.
BROKER: Final = "alpaca"
ORDER_ACTION: Final = "order.submit"
ACCOUNT_SET: Final = ""  # the strategy column of an account's own limit set

# An order action in one of these never reached the broker: its reservation holds nothing.
NOT_PLACED: Final = frozenset(
    {ActionStatus.FAILED.value, ActionStatus.CANCELLED.value, ActionStatus.EXPIRED.value}
)
OPEN: Final = "open"  # a reservation still holding headroom
SETTLED: Final = "settled"  # the broker finished the order (its fills are in the position)
RELEASED: Final = "released"  # the order never reached the broker (failed, cancelled, expired)

ACTIVE_PROMOTION: Final = "active"
MINUTE: Final = timedelta(seconds=60)
DAY: Final = timedelta(days=1)


def is_order(provider: str, action: str) -> bool:
    return provider == BROKER and action == ORDER_ACTION


NANOS_PER_SHARE: Final = Decimal(10**9)
CENTS_PER_UNIT: Final = Decimal(100)


def to_nanos(qty: Decimal | None) -> int | None:
    """A quantity as whole billionths of a share (rounded toward zero)."""
    return None if qty is None else int((qty * NANOS_PER_SHARE).to_integral_value(ROUND_DOWN))


def from_nanos(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(int(value)) / NANOS_PER_SHARE


def to_cents(amount: Decimal | None) -> int | None:
    """Money as whole cents (half away from zero, like the broker's notional)."""
    return (
        None if amount is None else int((amount * CENTS_PER_UNIT).to_integral_value(ROUND_HALF_UP))
    )


def from_cents(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(int(value)) / CENTS_PER_UNIT


def amount_text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def amount_of(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - only amount_text writes these columns
        return None


def record_event(
    conn: Connection, account: str, event: str, actor: Actor, now: datetime, data: Any
) -> int:
    return int(
        conn.execute(
            insert(EVENTS)
            .values(
                account=account,
                event=event,
                actor=actor.name,
                principal_id=actor.principal_id,
                via=actor.via.value,
                at=now,
                data=canonical_json(data).decode("utf-8"),
            )
            .returning(EVENTS.c.id)
        ).scalar_one()
    )


def ensure_account(conn: Connection, account: str, now: datetime, actor: Actor) -> None:
    """Create the account's trading row (ACTIVE) when it has none; race-safe."""
    values = {
        "account": account,
        "state": TradingState.ACTIVE.value,
        "state_by": actor.name,
        "state_at": now,
        "state_version": 1,
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(ACCOUNTS).values(**values).on_conflict_do_nothing())


def current_limits(
    conn: Connection, account: str, strategy: str = ACCOUNT_SET
) -> tuple[RiskLimits | None, int]:
    """(the set in force, its version); (None, 0) when none was ever set."""
    row = (
        conn.execute(
            select(LIMITS.c.limits, LIMITS.c.version)
            .where(LIMITS.c.account == account, LIMITS.c.strategy == strategy)
            .order_by(LIMITS.c.version.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None, 0
    data = parse_json_strict(row["limits"])
    assert isinstance(data, dict)
    limits = RiskLimits.from_mapping(data)
    # An emptied strategy set is "no strategy set" (the account's alone apply).
    if strategy != ACCOUNT_SET and limits.is_empty:
        return None, int(row["version"])
    return limits, int(row["version"])


def strategy_hash(conn: Connection, name: str) -> tuple[str | None, int]:
    row = conn.execute(
        select(STRATEGIES.c.sha256, STRATEGIES.c.version).where(STRATEGIES.c.name == name)
    ).first()
    return (None, 0) if row is None else (str(row[0]), int(row[1]))
