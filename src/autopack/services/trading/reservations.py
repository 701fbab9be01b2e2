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

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from autopack.domain.providers import Intent
from autopack.domain.trading.exposure import TradingFacts
from autopack.domain.trading.orders import MONEY_QUANTUM, QTY_QUANTUM
from autopack.providers.alpaca.client import AlpacaOrder
from autopack.providers.alpaca.wire import client_order_id
from autopack.services.trading.facts import NOT_PLACED
from autopack.services.trading.records import (
    ACTIONS,
    OPEN,
    RELEASED,
    RESERVATIONS,
    SETTLED,
    amount_of,
    amount_text,
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
            qty=amount_text(qty),
            notional=amount_text(notional),
            open_qty=amount_text(qty),
            open_notional=amount_text(notional),
            filled_qty="0",
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
            open_qty="0",
            open_notional="0",
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
        qty = amount_of(reservation["qty"])
        notional = amount_of(reservation["notional"])
        if qty is None or qty == 0:
            return None
        remaining = (abs(qty) - filled).quantize(QTY_QUANTUM) * (1 if qty > 0 else -1)
        share = remaining / qty
        conn.execute(
            update(RESERVATIONS)
            .where(RESERVATIONS.c.action_key == key, RESERVATIONS.c.status == OPEN)
            .values(
                open_qty=amount_text(remaining),
                open_notional=amount_text(
                    None if notional is None else (notional * share).quantize(MONEY_QUANTUM)
                ),
                filled_qty=amount_text(filled),
            )
        )
        return None
    reason = f"{order.status} at the broker; filled {format(filled, 'f')}"
    _close(conn, key, SETTLED, reason, now, filled_qty=amount_text(filled))
    return SETTLED


def open_totals(conn: Connection, account: str) -> dict[str, dict[str, Decimal | None]]:
    """Per symbol: the signed open quantity and notional still reserved."""
    totals: dict[str, dict[str, Decimal | None]] = {}
    for r in open_reservations(conn, account):
        if r["action_status"] in NOT_PLACED:
            continue
        entry = totals.setdefault(r["symbol"], {"qty": Decimal(0), "notional": Decimal(0)})
        for field, column in (("qty", "open_qty"), ("notional", "open_notional")):
            value, part = entry[field], amount_of(r[column])
            entry[field] = None if value is None or part is None else value + part
    return totals
