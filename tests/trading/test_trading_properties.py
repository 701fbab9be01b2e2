"""Property: random sequences of orders, fills (price moves), cancels at the
broker, syncs and limit changes never let the broker's exposure pass a limit
(the largest position its open orders could still lead to, whichever fill),
and after every sync the open reservations equal the open orders at the broker.
Real parts: the Alpaca fake over loopback, the real claim, SQLite and PostgreSQL.

Each example trades its own account and symbols (the fake's book is shared by
the examples of one run), with its own key, so examples do not see each other.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService
from autopack.services.executor import Executor
from autopack.services.trading.records import OPEN, RESERVATIONS, from_nanos
from autopack.services.trading.service import TradingService
from fakes_support import FakesProcess
from trading_support import REF, REQUESTER, SECRET, approve_all, order, propose_approved

pytestmark = pytest.mark.slow

EXAMPLES = itertools.count()
PRICE = Decimal(100)

ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("order"),
            st.integers(0, 1),
            st.sampled_from(["buy", "sell"]),
            st.integers(1, 4),
            st.integers(-3, 3),
        ),
        st.tuples(st.just("price"), st.integers(0, 1), st.integers(95, 105)),
        st.tuples(st.just("cancel"), st.integers(0, 5)),
        st.tuples(st.just("sync")),
        st.tuples(st.just("limit"), st.integers(2, 12)),
    ),
    min_size=4,
    max_size=14,
)


class Broker:
    """The fake's answers for one example's key (the broker's truth)."""

    def __init__(self, fakes: FakesProcess, key_id: str) -> None:
        self.base = f"{fakes.url}/alpaca/paper"
        self.headers = {"APCA-API-KEY-ID": key_id, "APCA-API-SECRET-KEY": SECRET}

    def call(self, method: str, path: str, **params: str) -> Any:
        with httpx.Client(timeout=10.0, trust_env=False) as client:
            response = client.request(
                method, f"{self.base}{path}", params=params, headers=self.headers
            )
        response.raise_for_status()
        return None if response.status_code == 204 else response.json()

    def open_orders(self, symbols: list[str]) -> list[dict[str, Any]]:
        found = self.call("GET", "/v2/orders", status="open", limit="500")
        return [o for o in found if o["symbol"] in symbols]

    def exposure(self, symbols: list[str]) -> dict[str, Decimal]:
        """Per symbol: the largest absolute position the open orders could still
        lead to (all buys fill and no sell, or all sells and no buy)."""
        held = dict.fromkeys(symbols, Decimal(0))
        buys = dict.fromkeys(symbols, Decimal(0))
        sells = dict.fromkeys(symbols, Decimal(0))
        for position in self.call("GET", "/v2/positions"):
            if position["symbol"] in held:
                held[position["symbol"]] += Decimal(position["qty"])
        for o in self.open_orders(symbols):
            left = Decimal(o["qty"]) - Decimal(o["filled_qty"] or "0")
            if o["side"] == "buy":
                buys[o["symbol"]] += left
            else:
                sells[o["symbol"]] -= left
        return {s: max(abs(held[s] + buys[s]), abs(held[s] + sells[s])) for s in symbols}


def reserved(rt: Runtime, account: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    with rt.engine.connect() as conn:
        for symbol, qty in conn.execute(
            select(RESERVATIONS.c.symbol, RESERVATIONS.c.open_qty_nanos).where(
                RESERVATIONS.c.account == account, RESERVATIONS.c.status == OPEN
            )
        ):
            out[symbol] = out.get(symbol, Decimal(0)) + (from_nanos(qty) or Decimal(0))
    return out


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(
    # An open sell frees no headroom for buys: it may be cancelled (found by this test).
    steps=[("order", 0, "buy", 3, 0), ("order", 0, "sell", 2, 3), ("order", 0, "buy", 4, 0)]
)
@given(steps=ops)
def test_limits_hold_and_reservations_equal_open_exposure(
    rt: Runtime, fakes: FakesProcess, steps: list[tuple[Any, ...]]
) -> None:
    n = next(EXAMPLES)
    account, key_id = f"acct-{n}", f"PKPROPERTY{n:010d}"
    symbols = [f"P{n}A", f"P{n}B"]
    fakes.control("POST", "/alpaca/prices", {"prices": dict.fromkeys(symbols, str(PRICE))})
    trading = TradingService(rt)
    if not trading.strategies():
        trading.register_strategy(REF["name"], REF["sha256"], actor=REQUESTER)
    limit = 6
    approve_all(
        trading,
        trading.set_limits(
            account, {"max_position_qty": str(limit), "max_orders_per_day": 1000}, actor=REQUESTER
        ),
    )
    with CredentialService(rt) as credentials:
        credentials.add_api_key(
            "alpaca", account, key_id=key_id, secret=SECRET, environment="paper"
        )
    broker = Broker(fakes, key_id)
    executor = Executor(rt, worker=f"prop-{n}")
    prices = dict.fromkeys(symbols, PRICE)
    highest = limit
    for i, step in enumerate(steps):
        kind = step[0]
        if kind == "order":
            _, which, side, qty, offset = step
            symbol = symbols[which]
            propose_approved(
                rt,
                f"p{n}-{i}",
                order(
                    symbol=symbol, side=side, qty=str(qty), limit_price=str(prices[symbol] + offset)
                ),
                account=account,
            )
            executor.run_once()
        elif kind == "price":
            _, which, price = step
            prices[symbols[which]] = Decimal(price)
            fakes.control("POST", "/alpaca/prices", {"prices": {symbols[which]: str(price)}})
        elif kind == "cancel":
            still = broker.open_orders(symbols)
            if still:
                broker.call("DELETE", f"/v2/orders/{still[step[1] % len(still)]['id']}")
        elif kind == "sync":
            assert trading.sync(account)["ok"] is True
            assert_reservations_match(rt, account, broker, symbols)
        elif step[1] != limit:
            limit = step[1]
            approve_all(
                trading,
                trading.set_limits(account, {"max_position_qty": str(limit)}, actor=REQUESTER),
            )
            highest = max(highest, limit)
        for symbol, exposure in broker.exposure(symbols).items():
            assert abs(exposure) <= highest, (symbol, exposure, highest, steps[: i + 1])
    assert trading.sync(account)["ok"] is True
    assert_reservations_match(rt, account, broker, symbols)


def assert_reservations_match(
    rt: Runtime, account: str, broker: Broker, symbols: list[str]
) -> None:
    """After a sync: what is reserved per symbol is what is open at the broker."""
    open_at_broker = broker_open(broker, symbols)
    mine = reserved(rt, account)
    for symbol in symbols:
        assert mine.get(symbol, Decimal(0)) == open_at_broker.get(symbol, Decimal(0)), (
            symbol,
            mine,
            open_at_broker,
        )


def broker_open(broker: Broker, symbols: list[str]) -> dict[str, Decimal]:
    """Per symbol: the open orders' unfilled quantity, signed."""
    out: dict[str, Decimal] = {}
    for o in broker.open_orders(symbols):
        left = Decimal(o["qty"]) - Decimal(o["filled_qty"] or "0")
        out[o["symbol"]] = out.get(o["symbol"], Decimal(0)) + (
            left if o["side"] == "buy" else -left
        )
    return out
