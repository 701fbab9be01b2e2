"""What the trading gates read for one order, gathered in the caller's
transaction by one statement: the account's row with the strategy's hash, both
limit sets in force, the order counts of the last minute and day, and the
symbol's open reservations as subqueries. When the claim asks, the account's
row is locked first (PostgreSQL: ``FOR UPDATE`` in a statement of its own;
SQLite's write transaction holds the database), so the check and the
reservation that follows are one atomic step: two workers can never both take
the last headroom."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final, cast

from sqlalchemy import Connection, Select, String, Table, and_, bindparam, case, func, select, true

from autopack.db.models import CredentialRow
from autopack.db.types import UTCDateTime
from autopack.domain.canonical import parse_json_strict
from autopack.domain.errors import AutopackError
from autopack.domain.providers import Intent
from autopack.domain.trading.exposure import (
    AccountRead,
    LimitScope,
    OrderCounts,
    PromotionFacts,
    SymbolExposure,
    TradingFacts,
)
from autopack.domain.trading.limits import RiskLimits
from autopack.domain.trading.orders import OrderTerms
from autopack.domain.trading.states import TradingState
from autopack.providers.alpaca.wire import LIVE, order_terms
from autopack.services.context import Runtime
from autopack.services.trading.records import (
    ACCOUNT_SET,
    ACCOUNTS,
    ACTIONS,
    ACTIVE_PROMOTION,
    BROKER,
    DAY,
    LIMITS,
    MINUTE,
    NOT_PLACED,
    OPEN,
    PROMOTIONS,
    RESERVATIONS,
    STRATEGIES,
    amount_of,
    from_cents,
    from_nanos,
)

CREDS = cast(Table, CredentialRow.__table__)


def read_order(row: Mapping[str, Any]) -> OrderTerms | None:
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


def _limits_text(account: Any, scope: Any) -> Any:
    """The newest limit set of (account, scope), as a scalar subquery."""
    return (
        select(LIMITS.c.limits)
        .where(LIMITS.c.account == account, LIMITS.c.strategy == scope)
        .order_by(LIMITS.c.version.desc())
        .limit(1)
        .scalar_subquery()
    )


def _limits(text: str | None, scope: str) -> RiskLimits | None:
    if text is None:
        return None
    data = parse_json_strict(text)
    assert isinstance(data, dict)
    limits = RiskLimits.from_mapping(data)
    # An emptied strategy set is "no strategy set" (the account's alone apply).
    return None if scope != ACCOUNT_SET and limits.is_empty else limits


def _order_snapshot() -> Select[Any]:
    """One statement: the account row plus everything an order check reads.
    Built once with bind parameters (building it costs more than running it):
    ``account``, ``strategy``, ``symbol``, ``exclude`` (the order's own key),
    ``day_ago`` and ``minute_ago``."""
    account = bindparam("account", type_=String())
    strategy = bindparam("strategy", type_=String())
    symbol = bindparam("symbol", type_=String())
    exclude = bindparam("exclude", type_=String())
    recent = and_(
        RESERVATIONS.c.account == account,
        RESERVATIONS.c.created_at > bindparam("day_ago", type_=UTCDateTime()),
        RESERVATIONS.c.action_key != exclude,
    )
    minute = RESERVATIONS.c.created_at > bindparam("minute_ago", type_=UTCDateTime())
    mine = RESERVATIONS.c.strategy == strategy
    counted = select(
        func.count().label("day"),
        func.coalesce(func.sum(case((minute, 1), else_=0)), 0).label("minute"),
        func.coalesce(func.sum(case((mine, 1), else_=0)), 0).label("strategy_day"),
        func.coalesce(func.sum(case((and_(mine, minute), 1), else_=0)), 0).label("strategy_minute"),
    ).where(recent)
    held = (
        select(RESERVATIONS)
        .join(ACTIONS, ACTIONS.c.idempotency_key == RESERVATIONS.c.action_key)
        .where(
            RESERVATIONS.c.account == account,
            RESERVATIONS.c.symbol == symbol,
            RESERVATIONS.c.status == OPEN,
            RESERVATIONS.c.action_key != exclude,
            ACTIONS.c.status.not_in(sorted(NOT_PLACED)),
        )
        .subquery()
    )
    buy = held.c.open_qty_nanos > 0
    sell = held.c.open_qty_nanos < 0
    reserved = select(
        func.coalesce(func.sum(case((buy, held.c.open_qty_nanos), else_=0)), 0).label("buy"),
        func.coalesce(func.sum(case((sell, held.c.open_qty_nanos), else_=0)), 0).label("sell"),
        func.coalesce(
            func.sum(case((held.c.open_notional_cents > 0, held.c.open_notional_cents), else_=0)),
            0,
        ).label("buy_notional"),
        func.coalesce(
            func.sum(case((held.c.open_notional_cents < 0, held.c.open_notional_cents), else_=0)),
            0,
        ).label("sell_notional"),
        (func.count() - func.count(held.c.open_qty_nanos)).label("qty_unknown"),
        (func.count() - func.count(held.c.open_notional_cents)).label("notional_unknown"),
    ).subquery()
    counts = counted.subquery()
    return (
        select(
            ACCOUNTS,
            select(STRATEGIES.c.sha256)
            .where(STRATEGIES.c.name == strategy)
            .scalar_subquery()
            .label("strategy_hash"),
            _limits_text(account, ACCOUNT_SET).label("account_limits"),
            _limits_text(account, strategy).label("strategy_limits"),
            counts.c.day,
            counts.c.minute,
            counts.c.strategy_day,
            counts.c.strategy_minute,
            reserved.c.buy.label("reserved_buy_nanos"),
            reserved.c.sell.label("reserved_sell_nanos"),
            reserved.c.buy_notional.label("reserved_buy_cents"),
            reserved.c.sell_notional.label("reserved_sell_cents"),
            reserved.c.qty_unknown,
            reserved.c.notional_unknown,
        )
        .select_from(ACCOUNTS)
        .join(counts, true())  # one row each: the account row gains their columns
        .join(reserved, true())
        .where(ACCOUNTS.c.account == account)
    )


ORDER_SNAPSHOT: Final = _order_snapshot()


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
        live = order is not None and order.environment == LIVE
        base = TradingFacts(
            order=order,
            max_account_age=self.max_age,
            live_enabled=self.rt.settings.live_trading,
            # Read only for a live order: the live gate alone looks at them.
            credential_environment=self._credential_environment(conn, account) if live else None,
        )
        if order is None:
            found = self.lock_account(conn, account) if lock else self._account(conn, account)
            return base if found is None else self._with_state(base, found)
        if lock and conn.dialect.name == "postgresql":
            # Lock first, in its own statement: a statement that waited for a row
            # lock re-reads only that row, not its subqueries, so the sums below
            # must come from a statement that starts after the lock is held.
            self.lock_account(conn, account)
        snapshot = (
            conn.execute(
                ORDER_SNAPSHOT,
                {
                    "account": account,
                    "strategy": order.strategy.name,
                    "symbol": order.symbol,
                    "exclude": key,
                    "day_ago": now - DAY,
                    "minute_ago": now - MINUTE,
                },
            )
            .mappings()
            .first()
        )
        if snapshot is None:
            # No trading row: no limits were ever set (held), state ACTIVE.
            registered = conn.execute(
                select(STRATEGIES.c.sha256).where(STRATEGIES.c.name == order.strategy.name)
            ).scalar()
            return replace(base, registered_hash=registered)
        account_limits = _limits(snapshot["account_limits"], ACCOUNT_SET)
        strategy_limits = _limits(snapshot["strategy_limits"], order.strategy.name)
        scopes: list[LimitScope] = []
        if account_limits is not None:
            scopes.append(
                LimitScope(
                    f"account {account}",
                    account_limits,
                    OrderCounts(int(snapshot["minute"]), int(snapshot["day"])),
                )
            )
            if strategy_limits is not None:
                scopes.append(
                    LimitScope(
                        f"strategy {order.strategy.name} on {account}",
                        strategy_limits,
                        OrderCounts(
                            int(snapshot["strategy_minute"]), int(snapshot["strategy_day"])
                        ),
                    )
                )
        held = positions_of(snapshot).get(order.symbol, {})
        qty_unknown, notional_unknown = snapshot["qty_unknown"], snapshot["notional_unknown"]
        exposure = SymbolExposure(
            position_qty=amount_of(held.get("qty")) or Decimal(0),
            position_value=amount_of(held.get("value")) or Decimal(0),
            last_price=amount_of(held.get("price")),
            reserved_buy_qty=None
            if qty_unknown
            else from_nanos(int(snapshot["reserved_buy_nanos"])),
            reserved_sell_qty=None
            if qty_unknown
            else from_nanos(int(snapshot["reserved_sell_nanos"])),
            reserved_buy_notional=None
            if notional_unknown
            else from_cents(int(snapshot["reserved_buy_cents"])),
            reserved_sell_notional=None
            if notional_unknown
            else from_cents(int(snapshot["reserved_sell_cents"])),
        )
        return replace(
            self._with_state(base, snapshot),
            registered_hash=snapshot["strategy_hash"],
            scopes=tuple(scopes),
            exposure=exposure,
            promotion=self._promotion(conn, account, order.strategy.name) if live else None,
            account_limits=account_limits,
            strategy_limits=strategy_limits,
        )

    @staticmethod
    def _account(conn: Connection, account: str) -> Mapping[Any, Any] | None:
        return (
            conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.account == account)).mappings().first()
        )

    @staticmethod
    def _with_state(base: TradingFacts, account_row: Mapping[Any, Any]) -> TradingFacts:
        return replace(
            base,
            state=TradingState(account_row["state"]),
            state_reason=account_row["state_reason"],
            account=account_read(account_row),
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
