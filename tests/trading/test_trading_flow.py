"""Trading end to end in one process against the Alpaca fake over loopback:
reservation at claim, settlement from the broker, position limit holds, the kill
switch's broker steps, resume by approval (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime
from autopack.services.executor import Executor
from autopack.services.ledger import IntentRequest, LedgerService
from autopack.services.runtime import build_runtime
from autopack.services.trading.service import TradingService
from conftest import make_settings
from fakes_support import FakesProcess, running_fakes
from trading_support import PAPER_KEY, REF, SECRET, approve_all, order, ready_trading


@pytest.fixture
def fakes(tmp_path: Path) -> Iterator[FakesProcess]:
    with running_fakes(tmp_path, "alpaca") as running:
        running.control("POST", "/alpaca/prices", {"prices": {"AAPL": "100", "MSFT": "50"}})
        yield running
        assert running.stderr_problems() == []


@pytest.fixture
def rt(workspace: Path, database_url: str, fakes: FakesProcess) -> Iterator[Runtime]:
    runtime = build_runtime(
        make_settings(
            workspace,
            database_url,
            alpaca_paper_url=f"{fakes.url}/alpaca/paper",
            alpaca_live_url=f"{fakes.url}/alpaca/live",
        )
    )
    yield runtime
    runtime.close()


def broker_get(fakes: FakesProcess, path: str, **params: str) -> Any:
    """Read the paper broker as a client would (the fake's own answer)."""
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        response = client.get(
            f"{fakes.url}/alpaca/paper{path}",
            params=params,
            headers={"APCA-API-KEY-ID": PAPER_KEY, "APCA-API-SECRET-KEY": SECRET},
        )
    response.raise_for_status()
    return response.json()


def propose_approved(rt: Runtime, key: str, payload: dict[str, Any], account: str = "main") -> None:
    record = (
        LedgerService(rt)
        .propose(
            IntentRequest(
                provider="alpaca", action="order.submit", account=account, key=key, payload=payload
            )
        )
        .record
    )
    assert record.approval_id is not None
    ApprovalService(rt).approve(record.approval_id, hash_=record.payload_hash, approver="alice")


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
