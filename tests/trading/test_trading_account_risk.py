"""Daily loss and drawdown read the broker's account: fail closed when it was
never read, when the read fails, or when the last read is too old; a breach
found by the sync halts the account; the gate refuses a breach it sees itself.
SQLite and PostgreSQL, against the Alpaca fake over loopback."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from autopack.services.context import Runtime, utc_now
from autopack.services.executor import Executor
from autopack.services.ledger import LedgerService
from autopack.services.trading.service import TradingService
from fakes_support import FakesProcess
from trading_support import REQUESTER, order, propose_approved, ready_trading

ACCOUNT_READ = {"provider": "alpaca", "method": "GET", "path_contains": "/v2/account"}


def try_order(rt: Runtime, key: str) -> tuple[str, list[str]]:
    """Propose and approve ``key`` the first time; then let a worker try it."""
    if key not in {a.key for a in LedgerService(rt).list()}:
        propose_approved(rt, key, order(qty="1", limit_price="100"))
    Executor(rt, worker="w").run_once()
    shown = LedgerService(rt).show(key)
    codes = [g["code"] for g in shown["gates"]]
    codes += [e["data"]["code"] for e in shown["events"] if e["event"] == "refused"]
    return shown["action"]["status"], codes


def test_daily_loss_fails_closed_when_unread_failed_or_stale(
    rt: Runtime, fakes: FakesProcess
) -> None:
    ready_trading(rt, limits={"max_daily_loss": "500"})
    trading = TradingService(rt)
    assert try_order(rt, "o-1") == ("approved", ["trading_account_unknown"])

    fakes.set_faults({**ACCOUNT_READ, "kind": "status", "status": 500, "body": {"code": 1}})
    failed = trading.sync("main")
    assert failed["ok"] is False
    assert "500" in failed["error"]
    assert trading.status("main")["broker"]["read_error"]
    assert try_order(rt, "o-1") == ("approved", ["trading_account_unknown"])

    assert trading.sync("main")["ok"] is True
    assert try_order(rt, "o-1") == ("succeeded", [])

    # Two minutes later the read is older than the allowed 60 s: held again,
    # and a failing read does not make it fresh.
    later = utc_now() + timedelta(minutes=2)
    rt.clock = lambda: later
    status, codes = try_order(rt, "o-2")
    assert (status, codes) == ("approved", ["trading_account_stale"])
    fakes.set_faults({**ACCOUNT_READ, "kind": "status", "status": 503, "body": {"code": 1}})
    assert trading.sync("main")["ok"] is False
    assert try_order(rt, "o-2") == ("approved", ["trading_account_stale"])
    assert trading.sync("main")["ok"] is True
    assert try_order(rt, "o-2") == ("succeeded", [])


def test_a_daily_loss_breach_halts_the_account(rt: Runtime, fakes: FakesProcess) -> None:
    ready_trading(rt, limits={"max_daily_loss": "500"})
    trading = TradingService(rt)
    equity = Decimal(trading.sync("main")["equity"])
    fakes.control(
        "POST", "/alpaca/account", {"environment": "paper", "last_equity": str(equity + 600)}
    )
    report = trading.sync("main")
    assert report["halted"] is not None
    assert "daily loss 600" in report["halted"]
    status = trading.status("main")
    assert (status["state"], status["state_by"]) == ("halted", "autopack:risk")
    events = trading.events("main")
    assert events[0]["event"] == "auto_halted"
    assert try_order(rt, "o-1") == ("needs_attention", ["trading_halted"])
    assert "max_daily_loss" in (LedgerService(rt).get("o-1").last_error or "")


def test_the_gate_refuses_a_breach_before_the_sync_halts(rt: Runtime, fakes: FakesProcess) -> None:
    ready_trading(rt, limits={"max_daily_loss": "5000"})
    trading = TradingService(rt)
    equity = Decimal(trading.sync("main")["equity"])
    fakes.control(
        "POST", "/alpaca/account", {"environment": "paper", "last_equity": str(equity + 600)}
    )
    assert trading.sync("main")["halted"] is None  # 600 < 5000
    assert trading.set_limits("main", {"max_daily_loss": "300"}, actor=REQUESTER)["applied"]
    status, codes = try_order(rt, "o-1")
    assert (status, codes) == ("needs_attention", ["trading_daily_loss"])
    assert "over by 300" in (LedgerService(rt).get("o-1").last_error or "")


def test_a_drawdown_from_the_high_water_mark_halts(rt: Runtime, fakes: FakesProcess) -> None:
    ready_trading(rt, limits={"max_drawdown_pct": "1", "max_orders_per_day": 100})
    trading = TradingService(rt)
    trading.sync("main")
    # Buy 100 shares at 100, then the price falls 20%: equity falls by 2,000 of 100,000.
    propose_approved(rt, "big", order(qty="100", limit_price="100"))
    (done,) = Executor(rt, worker="w").run_once()
    assert done.status == "succeeded"
    assert trading.sync("main")["halted"] is None
    fakes.control("POST", "/alpaca/prices", {"prices": {"AAPL": "80"}})
    report = trading.sync("main")
    assert report["halted"] is not None
    assert "drawdown 2.00%" in report["halted"]
    assert trading.status("main")["state"] == "halted"
