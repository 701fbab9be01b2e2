"""Concurrency with real processes: 8 workers race for the last headroom and
never pass a limit; a kill during a burst of orders stops every claim after its
commit, cancels what is open at the broker and suspends trading there.
SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from sqlalchemy import select

from autopack.services.context import Runtime
from autopack.services.ledger import LedgerService
from autopack.services.trading.records import RESERVATIONS
from autopack.services.trading.service import TradingService
from fakes_support import FakesProcess
from trading_support import broker_get, order, propose_approved, ready_trading

pytestmark = pytest.mark.slow

WORKERS = 8
ORDERS = 24
LIMIT = 10


def worker_env(rt: Runtime, fakes: FakesProcess) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_") or k.endswith("PG_URL")
    }
    env.update(
        AUTOPACK_WORKSPACE=str(rt.settings.workspace),
        AUTOPACK_DATABASE_URL=rt.settings.effective_database_url,
        AUTOPACK_ALPACA_PAPER_URL=f"{fakes.url}/alpaca/paper",
        AUTOPACK_ALPACA_LIVE_URL=f"{fakes.url}/alpaca/live",
        AUTOPACK_SECRET_KEY=rt.settings.secret_key.get_secret_value()
        if rt.settings.secret_key is not None
        else "",
    )
    return {k: v for k, v in env.items() if v != ""}


def start_workers(rt: Runtime, fakes: FakesProcess, *args: str) -> list[subprocess.Popen[str]]:
    env = worker_env(rt, fakes)
    return [
        subprocess.Popen(
            [sys.executable, "-m", "autopack", "worker", "--lease-seconds", "30", *args],
            env=env,
            cwd=rt.settings.workspace,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(WORKERS)
    ]


def finish(workers: list[subprocess.Popen[str]], *, stop: bool) -> None:
    for proc in workers:
        if stop:
            proc.send_signal(signal.SIGTERM)
    for proc in workers:
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, (proc.returncode, out, err)
        assert "Traceback" not in err
        assert "Logging error" not in err


def paper_orders(fakes: FakesProcess) -> list[dict[str, object]]:
    return [o for o in fakes.effects("alpaca") if o.get("environment") == "paper"]


def test_eight_workers_never_pass_the_last_headroom(rt: Runtime, fakes: FakesProcess) -> None:
    ready_trading(rt, limits={"max_position_qty": str(LIMIT), "max_orders_per_day": 1000})
    for n in range(ORDERS):
        propose_approved(rt, f"race-{n:02d}", order(qty="1", limit_price="100"))
    finish(start_workers(rt, fakes, "--once"), stop=False)

    placed = paper_orders(fakes)
    assert len(placed) == LIMIT
    assert sum(Decimal(str(o["qty"])) for o in placed) == LIMIT
    statuses = [a.status for a in LedgerService(rt).list(limit=100)]
    assert statuses.count("succeeded") == LIMIT
    assert statuses.count("approved") == ORDERS - LIMIT  # held: no headroom left
    # (Each worker's pass ends with the trading sync: the fills are settled.)
    trading = TradingService(rt)
    assert trading.sync("main")["ok"] is True
    exposure = trading.status("main")["exposure"]["AAPL"]
    assert (exposure["position_qty"], exposure["reserved_qty"]) == (str(LIMIT), "0")


def test_a_kill_during_a_burst_stops_every_later_claim(rt: Runtime, fakes: FakesProcess) -> None:
    ready_trading(rt, limits={"max_orders_per_day": 1000})
    # Limit orders below the price stay open at the broker; each takes a while.
    fakes.set_faults(
        {"provider": "alpaca", "kind": "delay", "seconds": 0.05, "method": "POST", "times": 1000}
    )
    for n in range(ORDERS * 2):
        propose_approved(rt, f"burst-{n:02d}", order(qty="1", limit_price="90"))
    workers = start_workers(rt, fakes, "--poll-seconds", "0.1")
    deadline = time.monotonic() + 60
    while len(paper_orders(fakes)) < 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    killed = TradingService(rt).kill("main", reason="burst kill", actor="olivia")
    time.sleep(1.0)  # the workers keep claiming: every claim now meets HALTED
    finish(workers, stop=True)

    assert killed["ok"], (killed["in_flight"], killed["steps"])
    with rt.engine.connect() as conn:
        reserved = conn.execute(
            select(RESERVATIONS.c.client_order_id).where(RESERVATIONS.c.account == "main")
        ).scalars()
        reserved_ids = set(reserved)
    # No order was claimed after the kill's commit, and nothing unclaimed was sent.
    assert len(reserved_ids) == killed["orders_claimed"]
    sent = {o["client_order_id"] for o in paper_orders(fakes)}
    assert sent <= reserved_ids
    assert 0 < len(sent) < ORDERS * 2
    actions = LedgerService(rt).list(limit=200)
    assert {a.status for a in actions if a.key.startswith("burst-")} <= {
        "succeeded",
        "needs_attention",
    }
    refused = [a for a in actions if a.key.startswith("burst-") and a.status == "needs_attention"]
    assert refused
    assert all("HALTED" in (a.last_error or "") for a in refused)
    # At the broker: nothing left open, and trading suspended.
    assert broker_get(fakes, "/v2/orders", status="open") == []
    assert broker_get(fakes, "/v2/account/configurations")["suspend_trade"] is True
