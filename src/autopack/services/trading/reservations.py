"""Reservations: the headroom an order holds from its claim until the broker
settles it.

``reserve`` runs in the claim's transaction, right after the gates allowed the
order with the account row locked (see ``facts``). ``settle`` runs in the
broker sync's transaction: an order the broker finished (filled, cancelled,
rejected, expired) is settled (its fills are in the position now); one still
open keeps only its unfilled part; one that never reached the broker (its
action failed, was cancelled or expired) is released.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from autopack.domain.providers import Intent
from autopack.domain.trading.exposure import TradingFacts
from autopack.providers.alpaca.client import AlpacaOrder
from autopack.providers.alpaca.wire import client_order_id
from autopack.services.trading.records import (
    ACTIONS,
    NOT_PLACED,
    OPEN,
    RELEASED,
    RESERVATIONS,
    SETTLED,
    from_cents,
    from_nanos,
    to_cents,
    to_nanos,
)


def reserve(conn: Connection, row: Mapping[str, Any], trading: TradingFacts, now: datetime) -> None:
    """Take the order's headroom (once per action: a retry keeps its reservation)."""
    order = trading.order
    if order is None:  # pragma: no cover - the strategy gate refuses such an order
        return
    key = row["idempotency_key"]
    qty, notional = order.amounts(trading.exposure.last_price)
    coid = client_order_id(Intent(row["provider"], row["action"], row["account"], key, {}))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(RESERVATIONS)
        .values(
            action_key=key,
            account=row["account"],
            strategy=order.strategy.name,
            symbol=order.symbol,
            client_order_id=coid,
            qty_nanos=to_nanos(qty),
            notional_cents=to_cents(notional),
            open_qty_nanos=to_nanos(qty),
            open_notional_cents=to_cents(notional),
            filled_qty_nanos=0,
            status=OPEN,
            created_at=now,
        )
        .on_conflict_do_nothing()  # a retry's claim keeps the first reservation
    )


def open_reservations(conn: Connection, account: str) -> list[dict[str, Any]]:
    """The account's open reservations with their action's status, oldest first."""
    rows = conn.execute(
        select(RESERVATIONS, ACTIONS.c.status.label("action_status"))
        .join(ACTIONS, ACTIONS.c.idempotency_key == RESERVATIONS.c.action_key)
        .where(RESERVATIONS.c.account == account, RESERVATIONS.c.status == OPEN)
        .order_by(RESERVATIONS.c.created_at, RESERVATIONS.c.action_key)
    ).mappings()
    return [dict(r) for r in rows]


def _close(
    conn: Connection, key: str, status: str, reason: str, now: datetime, **values: Any
) -> None:
    conn.execute(
        update(RESERVATIONS)
        .where(RESERVATIONS.c.action_key == key, RESERVATIONS.c.status == OPEN)
        .values(
            status=status,
            open_qty_nanos=0,
            open_notional_cents=0,
            settled_at=now,
            settle_reason=reason,
            **values,
        )
    )


def settle(
    conn: Connection,
    reservation: Mapping[str, Any],
    order: AlpacaOrder | None,
    action_status: str,
    now: datetime,
) -> str | None:
    """Bring one reservation up to date with what is known; the new status or None."""
    key = reservation["action_key"]
    if action_status in NOT_PLACED:
        _close(conn, key, RELEASED, f"not placed: the order action is {action_status}", now)
        return RELEASED
    if order is None:
        return None  # not sent yet, or the broker does not know it yet: keep it reserved
    filled = order.filled_qty
    if order.is_open:
        qty = from_nanos(reservation["qty_nanos"])
        notional = from_cents(reservation["notional_cents"])
        if qty is None or qty == 0:
            return None
        remaining = max(Decimal(0), abs(qty) - filled) * (1 if qty > 0 else -1)
        conn.execute(
            update(RESERVATIONS)
            .where(RESERVATIONS.c.action_key == key, RESERVATIONS.c.status == OPEN)
            .values(
                open_qty_nanos=to_nanos(remaining),
                open_notional_cents=to_cents(
                    None if notional is None else notional * remaining / qty
                ),
                filled_qty_nanos=to_nanos(filled),
            )
        )
        return None
    reason = f"{order.status} at the broker; filled {format(filled, 'f')}"
    _close(conn, key, SETTLED, reason, now, filled_qty_nanos=to_nanos(filled))
    return SETTLED


def open_totals(conn: Connection, account: str) -> dict[str, dict[str, Decimal | None]]:
    """Per symbol: the signed open quantity and notional still reserved (None
    when one of them is unknown: an order with no price known)."""
    rows = conn.execute(
        select(
            RESERVATIONS.c.symbol,
            func.sum(RESERVATIONS.c.open_qty_nanos),
            func.sum(RESERVATIONS.c.open_notional_cents),
            func.count() - func.count(RESERVATIONS.c.open_qty_nanos),
            func.count() - func.count(RESERVATIONS.c.open_notional_cents),
        )
        .join(ACTIONS, ACTIONS.c.idempotency_key == RESERVATIONS.c.action_key)
        .where(
            RESERVATIONS.c.account == account,
            RESERVATIONS.c.status == OPEN,
            ACTIONS.c.status.not_in(sorted(NOT_PLACED)),
        )
        .group_by(RESERVATIONS.c.symbol)
    ).all()
    return {
        symbol: {
            "qty": None if unknown_qty else from_nanos(int(qty or 0)),
            "notional": None if unknown_notional else from_cents(int(notional or 0)),
        }
        for symbol, qty, notional, unknown_qty, unknown_notional in rows
    }
