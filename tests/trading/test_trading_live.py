"""Paper by default: a live order needs the live-trading setting, a live key and a
promotion bound to the strategy's hash and limits no looser than promoted. A
strategy change or a loosened limit voids the promotion; tightening keeps it.
Refused orders are never sent (the fake's own record). SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from autopack.domain.errors import ConflictError
from autopack.services.context import Runtime
from autopack.services.executor import Executor
from autopack.services.ledger import LedgerService
from autopack.services.trading.service import TradingService
from fakes_support import FakesProcess
from trading_support import (
    LIVE_KEY,
    REF,
    REQUESTER,
    STRATEGY,
    approve_all,
    order,
    propose_approved,
    ready_trading,
)

NEW_HASH = "b" * 64


def attempt(rt: Runtime, key: str, **terms: str) -> tuple[str, str | None]:
    """Propose, approve and try one live order; (status, the refusing gate's code)."""
    strategy = terms.pop("strategy_hash", REF["sha256"])
    propose_approved(
        rt,
        key,
        order(
            {"name": STRATEGY, "sha256": strategy}, environment="live", qty="1", limit_price="100"
        ),
    )
    Executor(rt, worker="w").run_once()
    shown = LedgerService(rt).show(key)
    codes = [g["code"] for g in shown["gates"]]
    events = [e for e in shown["events"] if e["event"] == "refused"]
    code = events[-1]["data"]["code"] if events else (codes[0] if codes else None)
    return shown["action"]["status"], code


def live_orders(fakes: FakesProcess) -> list[str]:
    return [o["client_order_id"] for o in fakes.effects("alpaca") if o.get("environment") == "live"]


def test_live_is_refused_without_each_condition(
    rt_factory: Callable[..., Runtime], fakes: FakesProcess
) -> None:
    off = rt_factory()
    # A paper key stored: live trading off refuses first, then the key.
    ready_trading(off)
    assert attempt(off, "live-1") == ("needs_attention", "trading_live_disabled")
    on = rt_factory(live_trading=True)
    assert attempt(on, "live-2") == ("needs_attention", "trading_live_credential")


def test_promotion_gates_live_and_is_voided_by_change(
    rt_factory: Callable[..., Runtime], fakes: FakesProcess
) -> None:
    rt = rt_factory(live_trading=True)
    ready_trading(
        rt, key=LIVE_KEY, limits={"max_order_notional": "1000", "max_orders_per_day": 100}
    )
    trading = TradingService(rt)
    assert attempt(rt, "live-1") == ("needs_attention", "trading_not_promoted")

    asked = trading.promote("main", STRATEGY, actor=REQUESTER)
    request = asked["request"]
    assert request["required_approvals"] == 2
    with pytest.raises(ConflictError) as own:
        trading.approve(request["id"], request["payload_hash"], actor=REQUESTER)
    assert own.value.code == "second_approver_required"
    first = trading.approve(request["id"], request["payload_hash"], actor="oscar")
    assert first["status"] == "pending"
    with pytest.raises(ConflictError) as twice:
        trading.approve(request["id"], request["payload_hash"], actor="oscar")
    assert twice.value.code == "second_approver_required"
    assert (
        trading.approve(request["id"], request["payload_hash"], actor="otto")["status"] == "applied"
    )

    assert attempt(rt, "live-2") == ("succeeded", None)
    assert len(live_orders(fakes)) == 1

    # Tightening keeps the promotion; loosening voids it.
    assert trading.set_limits("main", {"max_order_notional": "900"}, actor=REQUESTER)["applied"]
    assert attempt(rt, "live-3") == ("succeeded", None)
    approve_all(
        trading, trading.set_limits("main", {"max_order_notional": "5000"}, actor=REQUESTER)
    )
    assert trading.status("main")["promotions"] == []
    assert attempt(rt, "live-4") == ("needs_attention", "trading_not_promoted")

    # Promoted again, then the strategy changes: voided, and the old hash is refused.
    approve_all(trading, trading.promote("main", STRATEGY, actor=REQUESTER))
    assert attempt(rt, "live-5") == ("succeeded", None)
    approve_all(trading, trading.register_strategy(STRATEGY, NEW_HASH, actor=REQUESTER))
    assert trading.status("main")["promotions"] == []
    assert attempt(rt, "live-6") == ("needs_attention", "trading_strategy_changed")
    assert attempt(rt, "live-7", strategy_hash=NEW_HASH) == (
        "needs_attention",
        "trading_not_promoted",
    )
    assert len(live_orders(fakes)) == 3


def test_a_promotion_request_is_voided_when_its_ground_moved(
    rt_factory: Callable[..., Runtime], fakes: FakesProcess
) -> None:
    rt = rt_factory(live_trading=True)
    ready_trading(rt, key=LIVE_KEY)
    trading = TradingService(rt)
    request = trading.promote("main", STRATEGY, actor=REQUESTER)["request"]
    trading.set_limits("main", {"max_orders_per_day": 10}, actor=REQUESTER)  # tightened
    trading.approve(request["id"], request["payload_hash"], actor="oscar")
    done = trading.approve(request["id"], request["payload_hash"], actor="otto")
    assert done["status"] == "voided"
    assert "limits changed" in done["voided_because"]
    assert trading.status("main")["promotions"] == []
