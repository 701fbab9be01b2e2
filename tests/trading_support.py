"""Trading test helpers: a registered strategy and approved limits on an account,
an Alpaca paper key on the fakes, orders that name the strategy.

    from trading_support import ready_trading, order

    strategy = ready_trading(rt, limits={"max_position_qty": "10"})
    payload = order(strategy, qty="2", limit_price="100")
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import httpx

from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService
from autopack.services.executor import Executor
from autopack.services.ledger import IntentRequest, LedgerService
from autopack.services.trading.service import TradingService
from fakes_support import FakesProcess

STRATEGY = "momentum"
STRATEGY_CODE = b"def decide(bars):\n    return 'hold'\n"
STRATEGY_HASH = hashlib.sha256(STRATEGY_CODE).hexdigest()
REF = {"name": STRATEGY, "sha256": STRATEGY_HASH}
PAPER_KEY = "PKTRADINGTESTKEY0001"
LIVE_KEY = "AKTRADINGTESTKEY0001"
SECRET = "t" * 20 + "R" * 20
REQUESTER = "olivia"
APPROVERS = ("oscar", "otto")


def order(
    strategy: Mapping[str, str] = REF, *, symbol: str = "AAPL", side: str = "buy", **terms: Any
) -> dict[str, Any]:
    """An order.submit payload: a limit order when ``limit_price`` is given, else market."""
    payload: dict[str, Any] = {
        "strategy": dict(strategy),
        "symbol": symbol,
        "side": side,
        "type": "limit" if "limit_price" in terms else "market",
        "time_in_force": "day",
    }
    payload.update(terms)
    if "qty" not in payload and "notional" not in payload:
        payload["qty"] = "1"
    return payload


def approve_all(service: TradingService, result: Mapping[str, Any]) -> dict[str, Any]:
    """Approve a request by as many distinct operators as it needs."""
    if result.get("applied"):
        return dict(result)
    request = result["request"]
    done: dict[str, Any] = {}
    for approver in APPROVERS[: request["required_approvals"]]:
        done = service.approve(request["id"], request["payload_hash"], actor=approver)
    assert done["status"] == "applied", done
    return done


def ready_trading(
    rt: Runtime,
    account: str = "main",
    *,
    limits: Mapping[str, Any] | None = None,
    strategy: str = STRATEGY,
    sha256: str = STRATEGY_HASH,
    key: str | None = PAPER_KEY,
) -> dict[str, str]:
    """Register the strategy, set and approve the account's limits, store a key."""
    service = TradingService(rt)
    existing = {s["name"]: s["sha256"] for s in service.strategies()}
    if existing.get(strategy) != sha256:
        approve_all(service, service.register_strategy(strategy, sha256, actor=REQUESTER))
    approve_all(
        service,
        service.set_limits(account, dict(limits or {"max_orders_per_day": 1000}), actor=REQUESTER),
    )
    if key is not None:
        with CredentialService(rt) as credentials:
            credentials.add_api_key(
                "alpaca",
                account,
                key_id=key,
                secret=SECRET,
                environment="live" if key.startswith("AK") else "paper",
            )
    return {"name": strategy, "sha256": sha256}


def paper_broker_get(fakes_url: str, path: str, **params: str) -> Any:
    """Read the Alpaca fake's paper broker as a client would, with the paper key."""
    with httpx.Client(timeout=10.0, trust_env=False) as http:
        response = http.get(
            f"{fakes_url}/alpaca/paper{path}",
            params=params,
            headers={"APCA-API-KEY-ID": PAPER_KEY, "APCA-API-SECRET-KEY": SECRET},
        )
    response.raise_for_status()
    return response.json()


def broker_get(fakes: FakesProcess, path: str, **params: str) -> Any:
    """Read the paper broker of a running fakes process (the fake's own answer)."""
    return paper_broker_get(fakes.url, path, **params)


def send_order(rt: Runtime, key: str, payload: dict[str, Any], account: str = "main") -> None:
    """Propose, approve (as alice) and send one order now; it must succeed."""
    propose_approved(rt, key, payload, account)
    (done,) = Executor(rt, worker="w1").run_once()
    assert done.status == "succeeded", done.last_error


def propose_approved(rt: Runtime, key: str, payload: dict[str, Any], account: str = "main") -> None:
    """Propose one order and approve it (as alice)."""
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
