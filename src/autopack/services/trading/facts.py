"""What the trading gates read for one order, gathered in the caller's
transaction. The claim passes ``lock=True``: the account's row is locked first
(PostgreSQL ``FOR UPDATE``; SQLite's write transaction holds the database), so
the check and the reservation that follows are one atomic step and two workers
can never both take the last headroom."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Connection, Table, select

from autopack.db.models import CredentialRow
from autopack.domain.canonical import parse_json_strict
from autopack.domain.errors import AutopackError
from autopack.domain.ledger import ActionStatus
from autopack.domain.providers import Intent
from autopack.domain.trading.exposure import (
    AccountRead,
    LimitScope,
    OrderCounts,
    PromotionFacts,
    SymbolExposure,
    TradingFacts,
    add,
)
from autopack.domain.trading.limits import RiskLimits
from autopack.domain.trading.orders import OrderTerms
from autopack.domain.trading.states import TradingState
from autopack.providers.alpaca.wire import LIVE, order_terms
from autopack.services.context import Runtime
from autopack.services.trading.records import (
    ACCOUNTS,
    ACTIONS,
    ACTIVE_PROMOTION,
    BROKER,
    OPEN,
    PROMOTIONS,
    RESERVATIONS,
    amount_of,
    both_limits,
    order_counts,
    strategy_hash,
)

CREDS = cast(Table, CredentialRow.__table__)
# An action in one of these never reached the broker: its reservation holds nothing.
NOT_PLACED = frozenset(
    {ActionStatus.FAILED.value, ActionStatus.CANCELLED.value, ActionStatus.EXPIRED.value}
)


def read_order(row: Mapping[Any, Any]) -> OrderTerms | None:
    """The stored order's terms; None when the payload is not an order they read."""
    try:
        payload = json.loads(row["payload"])
        return order_terms(
            Intent(row["provider"], row["action"], row["account"], row["idempotency_key"], payload)
        )
    except (AutopackError, ValueError, TypeError, KeyError):
        return None


def positions_of(account_row: Mapping[Any, Any] | None) -> dict[str, Any]:
    if account_row is None or account_row["positions"] is None:
        return {}
    data = parse_json_strict(account_row["positions"])
    return data if isinstance(data, dict) else {}


def account_read(account_row: Mapping[Any, Any] | None) -> AccountRead | None:
    if account_row is None or account_row["read_at"] is None:
        return None
    equity = amount_of(account_row["equity"])
    last = amount_of(account_row["last_equity"])
    high = amount_of(account_row["high_water"])
    if equity is None or last is None:
        return None
    return AccountRead(
        equity=equity,
        last_equity=last,
        high_water=high if high is not None else equity,
        read_at=account_row["read_at"],
    )


def open_reserved(
    conn: Connection, account: str, symbol: str, exclude: str
) -> tuple[Decimal | None, Decimal | None]:
    """Signed (qty, notional) still reserved for ``symbol`` by other orders."""
    rows = conn.execute(
        select(RESERVATIONS.c.open_qty, RESERVATIONS.c.open_notional)
        .join(ACTIONS, ACTIONS.c.idempotency_key == RESERVATIONS.c.action_key)
        .where(
            RESERVATIONS.c.account == account,
            RESERVATIONS.c.symbol == symbol,
            RESERVATIONS.c.status == OPEN,
            RESERVATIONS.c.action_key != exclude,
            ACTIONS.c.status.not_in(sorted(NOT_PLACED)),
        )
    ).all()
    qty = add(*(amount_of(r[0]) for r in rows))
    notional = add(*(amount_of(r[1]) for r in rows))
    return qty, notional


class TradingFactsReader:
    """Reads ``TradingFacts`` for an order in the caller's transaction."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    @property
    def max_age(self) -> timedelta:
        return timedelta(seconds=self.rt.settings.trading_account_max_age_seconds)

    def lock_account(self, conn: Connection, account: str) -> Mapping[Any, Any] | None:
        query = select(ACCOUNTS).where(ACCOUNTS.c.account == account)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        return conn.execute(query).mappings().first()

    def facts(
        self, conn: Connection, row: Mapping[Any, Any], now: datetime, *, lock: bool = False
    ) -> TradingFacts:
        account, key = row["account"], row["idempotency_key"]
        order = read_order(row) if "payload" in row else None
        account_row = (
            self.lock_account(conn, account)
            if lock
            else conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.account == account))
            .mappings()
            .first()
        )
        live = order is not None and order.environment == LIVE
        base = TradingFacts(
            order=order,
            max_account_age=self.max_age,
            live_enabled=self.rt.settings.live_trading,
            # Read only for a live order: the live gate alone looks at them.
            credential_environment=self._credential_environment(conn, account) if live else None,
        )
        if account_row is not None:
            base = replace(
                base,
                state=TradingState(account_row["state"]),
                state_reason=account_row["state_reason"],
                account=account_read(account_row),
            )
        if order is None:
            return base
        registered, _ = strategy_hash(conn, order.strategy.name)
        account_limits, strategy_limits = both_limits(conn, account, order.strategy.name)
        scopes: list[LimitScope] = []
        if account_limits is not None:
            mine, theirs = order_counts(conn, account, order.strategy.name, now, exclude=key)
            scopes.append(LimitScope(f"account {account}", account_limits, OrderCounts(*mine)))
            if strategy_limits is not None:
                scopes.append(
                    LimitScope(
                        f"strategy {order.strategy.name} on {account}",
                        strategy_limits,
                        OrderCounts(*theirs),
                    )
                )
        held = positions_of(account_row).get(order.symbol, {})
        reserved_qty, reserved_notional = open_reserved(conn, account, order.symbol, key)
        exposure = SymbolExposure(
            position_qty=amount_of(held.get("qty")) or Decimal(0),
            position_value=amount_of(held.get("value")) or Decimal(0),
            last_price=amount_of(held.get("price")),
            reserved_qty=reserved_qty,
            reserved_notional=reserved_notional,
        )
        return replace(
            base,
            registered_hash=registered,
            scopes=tuple(scopes),
            exposure=exposure,
            promotion=self._promotion(conn, account, order.strategy.name) if live else None,
            account_limits=account_limits,
            strategy_limits=strategy_limits,
        )

    @staticmethod
    def _credential_environment(conn: Connection, account: str) -> str | None:
        found = conn.execute(
            select(CREDS.c.environment).where(
                CREDS.c.provider == BROKER, CREDS.c.account == account
            )
        ).first()
        return None if found is None else str(found[0])

    @staticmethod
    def _promotion(conn: Connection, account: str, strategy: str) -> PromotionFacts | None:
        row = (
            conn.execute(
                select(PROMOTIONS)
                .where(
                    PROMOTIONS.c.account == account,
                    PROMOTIONS.c.strategy == strategy,
                    PROMOTIONS.c.status == ACTIVE_PROMOTION,
                )
                .order_by(PROMOTIONS.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        limits = parse_json_strict(row["limits"])
        assert isinstance(limits, dict)
        return PromotionFacts(
            id=int(row["id"]),
            strategy_hash=row["strategy_hash"],
            limits={
                name: None
                if value is None
                else RiskLimits.from_mapping(cast(dict[str, Any], value))
                for name, value in limits.items()
            },
            expires_at=row["expires_at"],
        )
