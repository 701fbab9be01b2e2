"""The broker sync: read one account (its Autopack orders, positions, equity),
then in one transaction store the read, settle reservations, raise the
high-water mark, and HALT the account when its daily loss or drawdown reached
a limit.

Orders are read before positions: an order that fills between the two reads is
then counted twice (reserved and held) until the next sync, never zero times.
A read that fails records the error and leaves the last good read in place, so
its age grows and the gates that need it hold (fail closed).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Protocol

from sqlalchemy import Connection, or_, select, update

from autopack.domain.canonical import canonical_json, format_utc
from autopack.domain.errors import AutopackError
from autopack.domain.principals import Actor, Role, Via
from autopack.domain.trading.exposure import AccountRead
from autopack.domain.trading.states import TradingState
from autopack.providers.alpaca.client import (
    AlpacaAccount,
    AlpacaOrder,
    AlpacaPosition,
    AlpacaReadError,
)
from autopack.services.context import Runtime
from autopack.services.providers import ProviderRegistry
from autopack.services.trading import changes
from autopack.services.trading.facts import TradingFactsReader, account_read
from autopack.services.trading.records import (
    ACCOUNTS,
    BROKER,
    SETTLED,
    amount_of,
    amount_text,
    current_limits,
    ensure_account,
)
from autopack.services.trading.reservations import open_reservations, settle

RISK_ACTOR: Final = Actor(name="autopack:risk", role=Role.ADMIN, via=Via.SYSTEM)
MAX_ERROR_CHARS: Final = 500


class BrokerReader(Protocol):
    def list_open_orders(self) -> list[AlpacaOrder]: ...
    def get_order_by_client_order_id(self, client_order_id: str) -> AlpacaOrder | None: ...
    def list_positions(self) -> list[AlpacaPosition]: ...
    def get_account(self) -> AlpacaAccount: ...


def position_entry(position: AlpacaPosition) -> dict[str, str | None]:
    value = position.market_value
    price = (
        Decimal(str(position.raw.get("current_price")))
        if position.raw.get("current_price")
        else None
    )
    if price is None and value is not None and position.qty != 0:
        price = abs(value / position.qty)
    signed_value = None if value is None else abs(value) * (1 if position.qty >= 0 else -1)
    return {
        "qty": amount_text(position.qty),
        "value": amount_text(signed_value),
        "price": amount_text(price),
    }


def breach(conn: Connection, account: str, read: AccountRead) -> str | None:
    """Why the account must halt (daily loss or drawdown at a limit), else None."""
    account_limits, _ = current_limits(conn, account)
    if account_limits is None:
        return None
    loss_limit = account_limits.max_daily_loss
    if loss_limit is not None and read.daily_loss >= loss_limit:
        return (
            f"daily loss {format(read.daily_loss, 'f')} reached max_daily_loss "
            f"{format(loss_limit, 'f')}"
        )
    drawdown_limit = account_limits.max_drawdown_pct
    drawdown = read.drawdown_pct.quantize(Decimal("0.01"))
    if drawdown_limit is not None and drawdown >= drawdown_limit:
        return (
            f"drawdown {format(drawdown, 'f')}% from the high-water mark "
            f"{format(read.high_water, 'f')} reached max_drawdown_pct {format(drawdown_limit, 'f')}"
        )
    return None


class TradingSync:
    def __init__(self, runtime: Runtime, registry: ProviderRegistry | None = None) -> None:
        self.rt = runtime
        self._registry = registry

    @property
    def registry(self) -> ProviderRegistry:
        if self._registry is None:
            self._registry = ProviderRegistry.for_runtime(self.rt)
        return self._registry

    def accounts(self) -> list[str]:
        with self.rt.engine.connect() as conn:
            return [
                str(a)
                for a in conn.execute(
                    select(ACCOUNTS.c.account).order_by(ACCOUNTS.c.account)
                ).scalars()
            ]

    def take_turn(self, account: str) -> bool:
        """Claim this interval's sync of ``account``; False when another process has it."""
        now = self.rt.clock()
        interval = timedelta(seconds=self.rt.settings.trading_sync_seconds)
        with self.rt.engine.begin() as conn:
            taken = conn.execute(
                update(ACCOUNTS)
                .where(
                    ACCOUNTS.c.account == account,
                    or_(
                        ACCOUNTS.c.sync_started_at.is_(None),
                        ACCOUNTS.c.sync_started_at <= now - interval,
                    ),
                )
                .values(sync_started_at=now)
            ).rowcount
        return bool(taken == 1)

    def reader(self, account: str) -> BrokerReader:
        adapter: Any = self.registry.get(BROKER)
        reader: BrokerReader = adapter.reader(account)
        return reader

    def sync(self, account: str) -> dict[str, Any]:
        """Read and store one account; the report says what changed or what failed."""
        now = self.rt.clock()
        with self.rt.engine.connect() as conn:
            reservations = open_reservations(conn, account)
        try:
            reader = self.reader(account)
            orders: dict[str, AlpacaOrder | None] = {}
            sent = [r for r in reservations if r["action_status"] == "succeeded"]
            # One read lists every open order; only those no longer open (filled,
            # cancelled since the last sync) are asked for one by one.
            still_open = {o.client_order_id: o for o in reader.list_open_orders()} if sent else {}
            for r in sent:
                coid = r["client_order_id"]
                found = still_open.get(coid)
                orders[r["action_key"]] = (
                    found if found is not None else reader.get_order_by_client_order_id(coid)
                )
            positions = reader.list_positions()
            broker_account = reader.get_account()
        except (AlpacaReadError, AutopackError) as exc:
            message = str(getattr(exc, "message", exc))[:MAX_ERROR_CHARS]
            self._failed(account, message)
            return {"account": account, "ok": False, "error": message}
        return self._store(account, reservations, orders, positions, broker_account, now)

    def _failed(self, account: str, message: str) -> None:
        now = self.rt.clock()
        redacted = self.rt.redactor().redact_text(message)
        with self.rt.engine.begin() as conn:
            ensure_account(conn, account, now, RISK_ACTOR)
            conn.execute(
                update(ACCOUNTS)
                .where(ACCOUNTS.c.account == account)
                .values(read_error=redacted, read_error_at=now)
            )

    def _store(
        self,
        account: str,
        reservations: list[dict[str, Any]],
        orders: Mapping[str, AlpacaOrder | None],
        positions: list[AlpacaPosition],
        broker_account: AlpacaAccount,
        read_at: datetime,
    ) -> dict[str, Any]:
        settled: list[str] = []
        released: list[str] = []
        halted: str | None = None
        with self.rt.engine.begin() as conn:
            ensure_account(conn, account, read_at, RISK_ACTOR)
            row = TradingFactsReader(self.rt).lock_account(conn, account)
            assert row is not None
            previous_high = amount_of(row["high_water"])
            equity = broker_account.equity
            high = equity if previous_high is None else max(previous_high, equity)
            conn.execute(
                update(ACCOUNTS)
                .where(ACCOUNTS.c.account == account)
                .values(
                    equity=amount_text(equity),
                    last_equity=amount_text(broker_account.last_equity),
                    high_water=amount_text(high),
                    read_at=read_at,
                    positions=canonical_json(
                        {p.symbol: position_entry(p) for p in positions}
                    ).decode("utf-8"),
                    read_error=None,
                    read_error_at=None,
                )
            )
            # Re-read each reservation's action status under the lock: a claim or an
            # outcome may have landed since the reads began.
            current = {r["action_key"]: r for r in open_reservations(conn, account)}
            for reservation in reservations:
                fresh = current.get(reservation["action_key"])
                if fresh is None:
                    continue
                outcome = settle(
                    conn,
                    fresh,
                    orders.get(reservation["action_key"])
                    if fresh["action_status"] == "succeeded"
                    else None,
                    fresh["action_status"],
                    read_at,
                )
                if outcome == SETTLED:
                    settled.append(reservation["action_key"])
                elif outcome is not None:
                    released.append(reservation["action_key"])
            read = account_read(
                {
                    **row,
                    "equity": amount_text(equity),
                    "last_equity": amount_text(broker_account.last_equity),
                    "high_water": amount_text(high),
                    "read_at": read_at,
                }
            )
            if read is not None and row["state"] != TradingState.HALTED.value:
                halted = breach(conn, account, read)
                if halted is not None:
                    changes.set_state(
                        conn,
                        account,
                        TradingState.HALTED,
                        halted,
                        RISK_ACTOR,
                        read_at,
                        event="auto_halted",
                    )
        return {
            "account": account,
            "ok": True,
            "read_at": format_utc(read_at),
            "equity": amount_text(equity),
            "last_equity": amount_text(broker_account.last_equity),
            "high_water": amount_text(high),
            "positions": len(positions),
            "settled": settled,
            "released": released,
            "halted": halted,
        }


class TradingSyncDuty:
    """The worker's trading duty: sync each trading account once per
    ``trading_sync_seconds`` across all workers (a compare-and-set on the
    account's row decides whose turn it is, so more workers do not mean more
    broker reads); a failed read is recorded and tried again next interval."""

    def __init__(self, sync: TradingSync) -> None:
        self.sync = sync

    def __call__(self, stop: threading.Event) -> list[dict[str, Any]]:
        reports = []
        for account in self.sync.accounts():
            if stop.is_set():
                break
            if self.sync.take_turn(account):
                reports.append(self.sync.sync(account))
        return reports
