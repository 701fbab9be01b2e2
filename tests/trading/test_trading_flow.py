"""Trading end to end in one process against the Alpaca fake over loopback:
reservation at claim, settlement from the broker, position limit holds, the kill
switch's broker steps, resume by approval (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from autopack.services.context import Runtime
from autopack.services.executor import Executor
from autopack.services.ledger import LedgerService
from autopack.services.trading.records import RESERVATIONS
from autopack.services.trading.service import TradingService
from fakes_support import FakesProcess
from trading_support import REF, approve_all, broker_get, order, propose_approved, ready_trading


def test_reserve_settle_hold_kill_resume(rt: Runtime, fakes: FakesProcess) -> None:
    ready_trading(
        rt,
        limits={"max_position_qty": "5", "max_order_notional": "1000", "symbols": "AAPL,MSFT"},
    )
    trading = TradingService(rt)
    executor = Executor(rt, worker="w1")
    propose_approved(rt, "buy-1", order(qty="3", limit_price="100"))
    (done,) = executor.run_once()
    assert done.status == "succeeded", done.last_error
    reserved = trading.status("main")["exposure"]["AAPL"]
    assert reserved["reserved_qty"] == "3"

    report = trading.sync("main")
    assert report["ok"], report
    assert report["settled"] == ["buy-1"]
    exposure = trading.status("main")["exposure"]["AAPL"]
    assert (exposure["position_qty"], exposure["reserved_qty"]) == ("3", "0")

    # 3 held + 3 more > 5: held, with the limit and the excess named.
    propose_approved(rt, "buy-2", order(qty="3", limit_price="100"))
    assert executor.run_once() == []
    why = LedgerService(rt).show("buy-2")["waiting_reason"]
    assert "max_position_qty 5 of account main by 1" in why, why
    # Outside the allowlist and above the per-order notional: refused.
    propose_approved(rt, "buy-3", order(symbol="TSLA", qty="1", limit_price="10"))
    propose_approved(rt, "buy-4", order(symbol="MSFT", qty="5", limit_price="250"))
    assert executor.run_once() == []
    for key, text in (("buy-3", "not in the allowlist"), ("buy-4", "above the max_order_notional")):
        action = LedgerService(rt).get(key)
        assert action.status == "needs_attention", LedgerService(rt).show(key)["gates"]
        assert text in (action.last_error or "")

    # An open order at the broker (limit below the price) to cancel on kill.
    propose_approved(rt, "buy-5", order(qty="1", limit_price="90"))
    (placed,) = executor.run_once()
    assert placed.status == "succeeded"

    killed = trading.kill("main", reason="test kill", actor="olivia", flatten=True)
    assert killed["ok"], killed
    assert [s["action"] for s in killed["steps"]] == [
        "orders.cancel_all",
        "positions.close_all",
        "account.suspend_trading",
    ]
    assert broker_get(fakes, "/v2/account/configurations")["suspend_trade"] is True
    assert broker_get(fakes, "/v2/orders", status="open") == []
    assert trading.status("main")["state"] == "halted"
    # HALTED refuses every order at its next claim (the position hold still wins:
    # nothing about a held order changes while anything holds it).
    propose_approved(rt, "buy-6", order(symbol="MSFT", qty="1", limit_price="50"))
    assert executor.run_once() == []
    assert LedgerService(rt).get("buy-6").status == "needs_attention"
    codes = {g["code"] for g in LedgerService(rt).show("buy-2")["gates"]}
    assert {"trading_halted", "trading_position_limit"} <= codes

    asked = trading.resume("main", reason="all clear", actor="olivia")
    resumed = approve_all(trading, asked)
    assert resumed["steps"][0]["ok"], resumed
    assert trading.status("main")["state"] == "active"
    assert REF["name"] == "momentum"


def test_a_retried_order_keeps_its_one_reservation(rt: Runtime, fakes: FakesProcess) -> None:
    ready_trading(rt, limits={"max_position_qty": "5", "max_orders_per_day": 1})
    fakes.set_faults({"provider": "alpaca", "kind": "rate_limit", "method": "POST", "reset_in": 1})
    propose_approved(rt, "retry-1", order(qty="2", limit_price="100"))
    executor = Executor(rt, worker="w1")
    (first,) = executor.run_once()
    assert first.status == "retry_wait"
    later = first.next_attempt_at
    assert later is not None
    rt.clock = lambda: later + timedelta(seconds=1)
    # The retry is not a second order: the one-a-day limit and the reservation hold.
    (second,) = executor.run_once()
    assert second.status == "succeeded", second.last_error
    with rt.engine.connect() as conn:
        rows = conn.execute(
            select(RESERVATIONS.c.qty_nanos).where(RESERVATIONS.c.account == "main")
        ).all()
    assert [r[0] for r in rows] == [2 * 10**9]  # two shares, in billionths
