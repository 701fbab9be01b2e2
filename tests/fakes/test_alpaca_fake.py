"""The Alpaca fake over real HTTP (its own process, 127.0.0.1): paths, key
headers per host, status codes, Alpaca's error shapes, rate-limit headers, the
fill model, 207 answers, its own faults and durability across a SIGKILL.
Its answers also parse into alpaca-py's response models."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakes_support import FakesProcess, running_fakes

with warnings.catch_warnings():
    # alpaca-py's package import pulls in websockets.legacy, which warns on import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from alpaca.trading.models import AccountConfiguration, Order, Position, TradeAccount

PAPER_KEYS = {"APCA-API-KEY-ID": "PKFAKEPAPERKEY000001", "APCA-API-SECRET-KEY": "s" * 40}
LIVE_KEYS = {"APCA-API-KEY-ID": "AKFAKELIVEKEY0000001", "APCA-API-SECRET-KEY": "t" * 40}


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakesProcess]:
    with running_fakes(tmp_path_factory.mktemp("alpaca-fake"), "alpaca") as process:
        yield process


@pytest.fixture
def fresh(fakes: FakesProcess) -> Iterator[FakesProcess]:
    fakes.reset()
    yield fakes
    assert fakes.stderr_problems() == []


class Broker:
    def __init__(self, fakes: FakesProcess, env: str = "paper") -> None:
        self.base = f"{fakes.url}/alpaca/{env}"
        self.headers = PAPER_KEYS if env == "paper" else LIVE_KEYS
        self.client = httpx.Client(timeout=10.0, trust_env=False)

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", self.headers)
        return self.client.request(
            method, self.base + path, json=body, headers=headers, params=kw or None
        )

    def order(self, coid: str, **fields: Any) -> httpx.Response:
        body = {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day"}
        body.update(qty="2", client_order_id=coid)
        body.update(fields)
        return self.call("POST", "/v2/orders", {k: v for k, v in body.items() if v is not None})


def prices(fakes: FakesProcess, **symbols: str) -> None:
    fakes.control("POST", "/alpaca/prices", {"prices": symbols})


def _sdk(model: type[Any], data: dict[str, Any]) -> Any:
    return model(**data)


def test_keys_are_checked_per_host(fresh: FakesProcess) -> None:
    paper, live = Broker(fresh, "paper"), Broker(fresh, "live")
    assert paper.call("GET", "/v2/account").status_code == 200
    assert live.call("GET", "/v2/account").status_code == 200
    for broker, wrong in ((paper, LIVE_KEYS), (live, PAPER_KEYS)):
        r = broker.call("GET", "/v2/account", headers=wrong)
        assert r.status_code == 401
        assert r.json() == {"code": 40110000, "message": "request is not authorized"}
    r = paper.call("GET", "/v2/account", headers={"APCA-API-KEY-ID": PAPER_KEYS["APCA-API-KEY-ID"]})
    assert (r.status_code, r.json()["code"]) == (401, 40110000)
    r = paper.call("GET", "/v2/account", headers={})
    assert r.status_code == 401
    assert paper.call("GET", "/v2/nowhere").json()["code"] == 40410000
    # Paper and live are separate accounts.
    assert paper.order("c-paper").status_code == 200
    assert live.call("GET", "/v2/orders", status="all").json() == []


def test_order_validation_answers_with_alpaca_error_shapes(fresh: FakesProcess) -> None:
    b = Broker(fresh)
    cases: list[tuple[dict[str, Any], int, int, str]] = [
        ({"symbol": None}, 422, 40010001, "symbol is required"),
        ({"qty": "0"}, 422, 40010001, "qty must be > 0"),
        ({"qty": "2", "notional": "5"}, 400, 40010000, "mutually exclusive"),
        ({"qty": None}, 422, 40010001, "qty or notional is required"),
        ({"qty": None, "notional": "10", "time_in_force": "gtc"}, 422, 40010001, "day"),
        ({"qty": None, "notional": "0.5"}, 422, 40310000, "cost basis"),
        ({"type": "limit"}, 422, 40010001, "limit_price is required"),
        ({"type": "stop_limit", "limit_price": "1"}, 422, 40010001, "stop_price is required"),
        ({"side": "short"}, 422, 40010001, "invalid side"),
        ({"client_order_id": "x" * 129}, 422, 40010001, "128"),
    ]
    for n, (fields, status, code, text) in enumerate(cases):
        r = b.order(f"bad-{n}", **fields)
        assert r.status_code == status, (fields, r.text)
        assert r.json()["code"] == code
        assert text in r.json()["message"]
        assert set(r.json()) == {"code", "message"}
    r = b.client.post(b.base + "/v2/orders", content=b"not json", headers=b.headers)
    assert (r.status_code, r.json()["code"]) == (400, 40010000)
    assert fresh.effects("alpaca") == []  # nothing refused was created


def test_duplicate_client_order_id_and_lookup(fresh: FakesProcess) -> None:
    b = Broker(fresh)
    first = b.order("dup-1")
    assert first.status_code == 200
    again = b.order("dup-1", qty="5")
    assert again.status_code == 422
    assert again.json() == {"code": 40010001, "message": "client_order_id must be unique"}
    found = b.call("GET", "/v2/orders:by_client_order_id", client_order_id="dup-1")
    assert found.status_code == 200
    assert found.json()["id"] == first.json()["id"]
    missing = b.call("GET", "/v2/orders:by_client_order_id", client_order_id="nope")
    assert (missing.status_code, missing.json()["code"]) == (404, 40410000)
    # Still unique after the first order was canceled (Alpaca's rule).
    assert b.call("DELETE", f"/v2/orders/{first.json()['id']}").status_code in (204, 422)
    assert b.order("dup-1").status_code == 422
    assert [e["client_order_id"] for e in fresh.effects("alpaca")] == ["dup-1"]


def test_fill_model_positions_and_equity(fresh: FakesProcess) -> None:
    b = Broker(fresh)
    resting = b.order("m-1").json()
    assert resting["status"] == "accepted"  # no price yet: it waits
    prices(fresh, AAPL="100")
    filled = b.call("GET", f"/v2/orders/{resting['id']}").json()
    assert (filled["status"], filled["filled_qty"], filled["filled_avg_price"]) == (
        "filled",
        "2",
        "100",
    )
    limit = b.order("l-1", type="limit", limit_price="90", time_in_force="gtc", qty="1").json()
    assert limit["status"] == "accepted"
    notional = b.order("n-1", qty=None, notional="50").json()
    assert (notional["status"], notional["filled_qty"]) == ("filled", "0.5")
    prices(fresh, AAPL="89.5")  # crosses the limit
    assert b.call("GET", f"/v2/orders/{limit['id']}").json()["status"] == "filled"
    (position,) = b.call("GET", "/v2/positions").json()
    assert position["symbol"] == "AAPL"
    assert Decimal(position["qty"]) == Decimal("3.5")
    # 2 @ 100 + 0.5 @ 100 + 1 @ 89.5 = 339.5 spent; 3.5 held at 89.5 = 313.25
    assert Decimal(position["avg_entry_price"]) == Decimal("339.5") / Decimal("3.5")
    account = b.call("GET", "/v2/account").json()
    assert Decimal(account["cash"]) == Decimal("100000") - Decimal("339.5")
    assert Decimal(account["equity"]) == Decimal(account["cash"]) + Decimal("313.25")
    fresh.control("POST", "/alpaca/account", {"environment": "paper", "last_equity": "100500"})
    account = b.call("GET", "/v2/account").json()
    assert Decimal(account["equity"]) - Decimal(account["last_equity"]) < -500
    sell = b.order("s-1", side="sell", qty="3.5").json()
    assert sell["status"] == "filled"
    assert b.call("GET", "/v2/positions").json() == []
    # Every answer parses into alpaca-py's own response models.
    for order in b.call("GET", "/v2/orders", status="all").json():
        _sdk(Order, order)
    _sdk(TradeAccount, b.call("GET", "/v2/account").json())
    b.order("p-1")
    _sdk(Position, b.call("GET", "/v2/positions/AAPL").json())
    _sdk(AccountConfiguration, b.call("GET", "/v2/account/configurations").json())


def test_buying_power_shorting_and_suspend_trade(fresh: FakesProcess) -> None:
    b = Broker(fresh)
    prices(fresh, AAPL="100")
    r = b.order("big", qty="2000")
    assert (r.status_code, r.json()) == (
        403,
        {"code": 40310000, "message": "insufficient buying power"},
    )
    patched = b.call("PATCH", "/v2/account/configurations", {"no_shorting": True})
    assert patched.status_code == 200
    assert patched.json()["suspend_trade"] is False
    assert b.order("short", side="sell").status_code == 403
    r = b.call("PATCH", "/v2/account/configurations", {"suspend_trade": True})
    assert r.json()["suspend_trade"] is True
    assert r.json()["no_shorting"] is True  # a partial PATCH keeps the other fields
    r = b.order("while-suspended")
    assert (r.status_code, r.json()["code"]) == (403, 40310000)
    assert b.call("GET", "/v2/account").json()["trade_suspended_by_user"] is True
    r = b.call("PATCH", "/v2/account/configurations", {"suspend_trade": "yes"})
    assert r.status_code == 422
    r = b.call("PATCH", "/v2/account/configurations", {"bogus": True})
    assert r.status_code == 422
    assert fresh.effects("alpaca") == []


def test_cancel_one_cancel_all_and_close_all(fresh: FakesProcess) -> None:
    b = Broker(fresh)
    ids = [
        b.order(f"o-{n}", type="limit", limit_price="10", time_in_force="gtc").json()["id"]
        for n in range(3)
    ]
    assert b.call("DELETE", f"/v2/orders/{ids[0]}").status_code == 204
    again = b.call("DELETE", f"/v2/orders/{ids[0]}")
    assert again.status_code == 422
    assert again.json() == {"code": 42210000, "message": 'order is already in "canceled" state'}
    assert b.call("DELETE", "/v2/orders/00000000-0000-0000-0000-000000000000").status_code == 404
    r = b.call("DELETE", "/v2/orders")
    assert r.status_code == 207
    assert sorted((e["id"], e["status"]) for e in r.json()) == sorted((i, 200) for i in ids[1:])
    assert all(e["body"]["status"] == "canceled" for e in r.json())
    assert b.call("GET", "/v2/orders").json() == []  # default status=open
    prices(fresh, AAPL="10", MSFT="20")
    b.order("buy-aapl")
    b.order("buy-msft", symbol="MSFT", qty="1")
    b.order("short-tsla", symbol="TSLA", side="sell", qty="1")  # no price: open
    r = b.call("DELETE", "/v2/positions", cancel_orders="true")
    assert r.status_code == 207
    assert sorted((e["symbol"], e["status"], e["body"]["side"]) for e in r.json()) == [
        ("AAPL", 200, "sell"),
        ("MSFT", 200, "sell"),
    ]
    assert b.call("GET", "/v2/positions").json() == []
    statuses = {
        o["client_order_id"]: o["status"] for o in b.call("GET", "/v2/orders", status="all").json()
    }
    assert statuses["short-tsla"] == "canceled"


def test_own_faults(fresh: FakesProcess) -> None:
    b = Broker(fresh)
    fresh.set_faults({"provider": "alpaca", "kind": "rate_limit", "reset_in": 7})
    r = b.order("rl-1")
    assert r.status_code == 429
    assert r.json() == {"code": 42910000, "message": "rate limit exceeded"}
    assert r.headers["X-Ratelimit-Remaining"] == "0"
    assert 5 <= int(r.headers["X-Ratelimit-Reset"]) - time.time() <= 9
    assert fresh.effects("alpaca") == []
    fresh.set_faults({"provider": "alpaca", "kind": "duplicate_client_order_id"})
    r = b.order("dup-fault")
    assert (r.status_code, r.json()["code"]) == (422, 40010001)
    assert [e["client_order_id"] for e in fresh.effects("alpaca")] == ["dup-fault"]
    for n in range(2):
        b.order(f"open-{n}", type="limit", limit_price="1", time_in_force="gtc")
    fresh.set_faults({"provider": "alpaca", "kind": "partial_cancel"})
    entries = b.call("DELETE", "/v2/orders").json()
    assert sorted(e["status"] for e in entries) == [200, 200, 500]  # dup-fault is open too
    failed = next(e for e in entries if e["status"] == 500)
    assert failed["body"]["code"] == 50010000
    assert [o["id"] for o in b.call("GET", "/v2/orders").json()] == [failed["id"]]
    prices(fresh, AAPL="5", MSFT="5")
    b.order("pos-a")
    b.order("pos-m", symbol="MSFT")
    fresh.set_faults({"provider": "alpaca", "kind": "partial_close"})
    entries = b.call("DELETE", "/v2/positions", cancel_orders="true").json()
    assert sorted(e["status"] for e in entries) == [200, 500]
    assert len(b.call("GET", "/v2/positions").json()) == 1


def test_rate_limit_window_and_headers(fresh: FakesProcess) -> None:
    b = Broker(fresh)
    fresh.control("POST", "/alpaca/rate_limit", {"per_minute": 3})
    try:
        answers = [b.call("GET", "/v2/account") for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert [r.headers["X-Ratelimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
        assert {r.headers["X-Ratelimit-Limit"] for r in answers} == {"3"}
        reset = int(answers[0].headers["X-Ratelimit-Reset"])
        assert 0 < reset - time.time() <= 61
        # Another key has its own window.
        other = {"APCA-API-KEY-ID": "PKANOTHERPAPERKEY001", "APCA-API-SECRET-KEY": "u" * 40}
        assert b.call("GET", "/v2/account", headers=other).status_code == 200
    finally:
        fresh.control("POST", "/alpaca/rate_limit", {"per_minute": 200})


def test_control_refuses_bad_bodies(fresh: FakesProcess) -> None:
    for path, body in (
        ("/alpaca/prices", {"prices": {"aapl": "1"}}),
        ("/alpaca/prices", {"prices": {"AAPL": "-1"}}),
        ("/alpaca/account", {"environment": "prod"}),
        ("/alpaca/rate_limit", {"per_minute": 0}),
    ):
        with pytest.raises(httpx.HTTPStatusError) as info:
            fresh.control("POST", path, body)
        assert info.value.response.status_code == 400
    with pytest.raises(httpx.HTTPStatusError):
        fresh.control("POST", "/alpaca/nothing", {})


def test_effects_survive_a_sigkill(tmp_path: Path) -> None:
    with running_fakes(tmp_path, "alpaca") as fakes:
        b = Broker(fakes)
        prices(fakes, AAPL="10")
        order = b.order("durable-1").json()
        b.call("PATCH", "/v2/account/configurations", {"suspend_trade": True})
        fakes.kill()
        fakes.restart()
        assert [e["id"] for e in fakes.effects("alpaca")] == [order["id"]]
        assert Broker(fakes).call("GET", "/v2/positions/AAPL").json()["qty"] == "2"
        assert Broker(fakes).order("after-restart").status_code == 403  # still suspended
        assert fakes.stderr_problems() == []
