"""The Alpaca adapter against the Alpaca fake over real HTTP (127.0.0.1): each
action's success, every fault and its classification, the environment and key
checks that refuse before sending, lookups, rate limits and the read client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from autopack.domain.errors import UnavailableError
from autopack.domain.providers import InMemoryProgress, Intent, LookupStatus, Outcome
from autopack.providers.alpaca.adapter import AlpacaAdapter
from autopack.providers.alpaca.client import AlpacaReadError
from autopack.providers.alpaca.wire import HOSTS, client_order_id
from autopack.providers.unit import ApiKeyCredential
from fakes_support import FakesProcess, running_fakes
from trading_support import REF

PAPER_KEY = ApiKeyCredential("PKADAPTERTESTKEY0001", "p" * 40, HOSTS["paper"])
LIVE_KEY = ApiKeyCredential("AKADAPTERTESTKEY0001", "l" * 40, HOSTS["live"])
ORDER = {
    "symbol": "AAPL",
    "side": "buy",
    "type": "market",
    "time_in_force": "day",
    "qty": "2",
    "strategy": REF,
}


class Keys:
    """The accessor an adapter gets: account -> stored key pair (or an error)."""

    def __init__(self, pairs: dict[str, ApiKeyCredential | Exception]) -> None:
        self.pairs = pairs

    def access_token(self, account: str) -> str:
        raise AssertionError("Alpaca uses key pairs")

    def api_key(self, account: str) -> ApiKeyCredential:
        pair = self.pairs[account]
        if isinstance(pair, Exception):
            raise pair
        return pair


class Counting(httpx.BaseTransport):
    """The real HTTP transport, counting what is sent (to prove "nothing sent")."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path}")
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakesProcess]:
    with running_fakes(tmp_path_factory.mktemp("alpaca-adapter"), "alpaca") as process:
        yield process


@pytest.fixture
def fresh(fakes: FakesProcess) -> Iterator[FakesProcess]:
    fakes.reset()
    fakes.clear_faults()
    yield fakes
    assert fakes.stderr_problems() == []


NOW = datetime(2026, 1, 2, tzinfo=UTC)


def make_adapter(
    fakes: FakesProcess,
    pairs: dict[str, ApiKeyCredential | Exception] | None = None,
    transport: httpx.BaseTransport | None = None,
    *,
    url: str | None = None,
    clock: Any = None,
) -> AlpacaAdapter:
    base = url or fakes.url
    return AlpacaAdapter(
        paper_url=f"{base}/alpaca/paper",
        live_url=f"{base}/alpaca/live",
        credentials=Keys(pairs if pairs is not None else {"main": PAPER_KEY, "live": LIVE_KEY}),
        clock=clock or (lambda: datetime.now(UTC)),
        transport=transport,
        timeout=3.0,
    )


def run(adapter: AlpacaAdapter, intent: Intent) -> Any:
    return adapter.dispatch(intent, adapter.render(intent), InMemoryProgress())


def submit(key: str = "k1", account: str = "main", **fields: Any) -> Intent:
    return Intent("alpaca", "order.submit", account, key, {**ORDER, **fields})


def orders(fakes: FakesProcess) -> list[dict[str, Any]]:
    return fakes.effects("alpaca")


def test_submit_succeeds_with_the_order_id_and_the_stored_keys(fresh: FakesProcess) -> None:
    fresh.control("POST", "/alpaca/prices", {"prices": {"AAPL": "50"}})
    with make_adapter(fresh) as adapter:
        result = run(adapter, submit())
    (order,) = orders(fresh)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.provider_object_id == order["id"]
    assert result.summary["client_order_id"] == client_order_id(submit())
    assert result.summary["response"]["status"] == "filled"
    assert (order["environment"], order["key_id"], order["qty"]) == ("paper", PAPER_KEY.key_id, "2")


def test_a_resend_is_refused_as_duplicate_and_adopted(fresh: FakesProcess) -> None:
    with make_adapter(fresh) as adapter:
        first = run(adapter, submit())
        again = run(adapter, submit())
    assert first.outcome is again.outcome is Outcome.SUCCEEDED
    assert again.provider_object_id == first.provider_object_id
    assert again.status_code == 422
    assert again.summary["adopted"] is True
    assert again.summary["code"] == 40010001
    assert len(orders(fresh)) == 1


def test_the_duplicate_fault_is_adopted(fresh: FakesProcess) -> None:
    fresh.set_faults({"provider": "alpaca", "kind": "duplicate_client_order_id"})
    with make_adapter(fresh) as adapter:
        result = run(adapter, submit())
    (order,) = orders(fresh)
    assert (result.outcome, result.provider_object_id) == (Outcome.SUCCEEDED, order["id"])
    assert result.summary["adopted"] is True


def test_a_422_40010001_without_our_order_is_a_validation_refusal(fresh: FakesProcess) -> None:
    body = {"code": 40010001, "message": "qty must be > 0"}
    fresh.set_faults({"provider": "alpaca", "kind": "status", "status": 422, "body": body})
    transport = Counting()
    with make_adapter(fresh, transport=transport) as adapter:
        result = run(adapter, submit())
    assert result.outcome is Outcome.PERMANENT
    assert result.summary["code"] == 40010001
    assert result.summary["adopted"] is False
    assert "qty must be > 0" in (result.error or "")
    assert transport.sent == [
        "POST /alpaca/paper/v2/orders",
        "GET /alpaca/paper/v2/orders:by_client_order_id",
    ]
    assert orders(fresh) == []


def test_a_lost_answer_is_looked_up_and_adopted_at_once(fresh: FakesProcess) -> None:
    fresh.set_faults(
        {"provider": "alpaca", "kind": "lost_response", "method": "POST"},
    )
    with make_adapter(fresh) as adapter:
        result = run(adapter, submit())
    (order,) = orders(fresh)
    assert (result.outcome, result.provider_object_id) == (Outcome.SUCCEEDED, order["id"])
    assert result.summary["adopted"] is True


def test_a_5xx_after_commit_is_adopted_and_a_5xx_before_stays_in_doubt(
    fresh: FakesProcess,
) -> None:
    fresh.set_faults({"provider": "alpaca", "kind": "status_after_commit", "status": 500})
    with make_adapter(fresh) as adapter:
        committed = run(adapter, submit("k1"))
        fresh.set_faults({"provider": "alpaca", "kind": "status", "status": 503, "method": "POST"})
        refused = run(adapter, submit("k2"))
    assert committed.outcome is Outcome.SUCCEEDED
    assert committed.provider_object_id == orders(fresh)[0]["id"]
    assert refused.outcome is Outcome.MAYBE_EFFECT  # may still be processed: reconcile
    assert refused.summary["lookup"] == "not_found"
    assert len(orders(fresh)) == 1


def test_429_is_no_effect_with_the_wait_from_the_reset_header(fresh: FakesProcess) -> None:
    fresh.set_faults({"provider": "alpaca", "kind": "rate_limit", "reset_in": 30})
    with make_adapter(fresh) as adapter:
        result = run(adapter, submit())
    assert result.outcome is Outcome.NO_EFFECT
    assert result.summary["code"] == 42910000
    assert result.retry_after_seconds is not None
    assert 27 <= result.retry_after_seconds <= 31
    assert orders(fresh) == []


def test_a_refused_order_is_permanent_with_alpacas_code(fresh: FakesProcess) -> None:
    fresh.control("POST", "/alpaca/prices", {"prices": {"AAPL": "100"}})
    with make_adapter(fresh) as adapter:
        result = run(adapter, submit(qty="5000"))
    assert result.outcome is Outcome.PERMANENT
    assert result.status_code == 403
    assert result.summary["code"] == 40310000
    assert "insufficient buying power" in (result.error or "")


@pytest.mark.parametrize(
    ("account", "environment", "pairs", "why"),
    [
        (
            "main",
            "live",
            {"main": ApiKeyCredential("PKPAPERONLIVEHOST001", "x" * 40, HOSTS["live"])},
            "a paper key is stored for the live host",
        ),
        (
            "main",
            "paper",
            {"main": ApiKeyCredential("AKLIVEONPAPERHOST001", "x" * 40, HOSTS["paper"])},
            "a live key is stored for the paper host",
        ),
        ("main", "live", {"main": PAPER_KEY}, "holds a paper key"),
        ("main", "paper", {"main": LIVE_KEY}, "holds a live key"),
        (
            "main",
            "paper",
            {"main": ApiKeyCredential("PKSOMEWHEREELSE00001", "x" * 40, "https://evil.test")},
            "not an Alpaca host",
        ),
    ],
)
def test_a_key_of_the_other_environment_is_refused_before_sending(
    fresh: FakesProcess,
    account: str,
    environment: str,
    pairs: dict[str, ApiKeyCredential | Exception],
    why: str,
) -> None:
    transport = Counting()
    with make_adapter(fresh, pairs, transport) as adapter:
        for intent in (
            submit(environment=environment),
            Intent("alpaca", "orders.cancel_all", account, "c1", {"environment": environment}),
        ):
            result = run(adapter, intent)
            assert result.outcome is Outcome.PERMANENT
            assert why in (result.error or "")
            assert "not sent" in (result.error or "")
            lookup = adapter.lookup(intent, {})
            assert lookup.status is LookupStatus.UNSUPPORTED
        if "holds" in why:
            # The stored pair is consistent (only the request names the other host):
            # reads go to the pair's own host.
            assert adapter.reader(account).environment != environment
        else:
            with pytest.raises(AlpacaReadError):
                adapter.reader(account)
    assert transport.sent == []
    assert orders(fresh) == []


def test_live_orders_go_to_the_live_host_with_the_live_key(fresh: FakesProcess) -> None:
    with make_adapter(fresh) as adapter:
        result = run(adapter, submit(account="live", environment="live"))
    (order,) = orders(fresh)
    assert result.outcome is Outcome.SUCCEEDED
    assert (order["environment"], order["key_id"]) == ("live", LIVE_KEY.key_id)


def test_credential_problems_are_refused_before_sending(fresh: FakesProcess) -> None:
    transport = Counting()
    pairs: dict[str, ApiKeyCredential | Exception] = {
        "busy": UnavailableError("the credential store is busy"),
        "gone": LookupError("no such account"),
    }
    with make_adapter(fresh, pairs, transport) as adapter:
        busy = run(adapter, submit(account="busy"))
        assert busy.outcome is Outcome.NO_EFFECT
        assert adapter.lookup(submit(account="busy"), {}).status is LookupStatus.UNAVAILABLE
        with pytest.raises(LookupError):  # not ours to classify: the executor records unknown
            run(adapter, submit(account="gone"))
    assert transport.sent == []


def test_connect_failure_is_no_effect(fresh: FakesProcess, tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with make_adapter(fresh, url=closed) as adapter:
        assert run(adapter, submit()).outcome is Outcome.NO_EFFECT
        assert adapter.lookup(submit(), {}).status is LookupStatus.UNAVAILABLE


def test_a_request_rendered_for_another_intent_is_not_sent(fresh: FakesProcess) -> None:
    transport = Counting()
    with make_adapter(fresh, transport=transport) as adapter:
        other = adapter.render(submit("other-key"))
        result = adapter.dispatch(submit("k1"), other, InMemoryProgress())
    assert result.outcome is Outcome.PERMANENT
    assert transport.sent == []


def test_submit_lookup(fresh: FakesProcess) -> None:
    with make_adapter(fresh) as adapter:
        assert adapter.lookup(submit(), {}).status is LookupStatus.NOT_FOUND
        placed = run(adapter, submit())
        found = adapter.lookup(submit(), {})
        assert (found.status, found.provider_object_id) == (
            LookupStatus.FOUND,
            placed.provider_object_id,
        )
        fresh.set_faults({"provider": "alpaca", "kind": "rate_limit"})
        limited = adapter.lookup(submit(), {})
        assert limited.status is LookupStatus.UNAVAILABLE
        assert limited.summary["code"] == 42910000


def test_cancel_one_order(fresh: FakesProcess) -> None:
    with make_adapter(fresh) as adapter:
        resting = run(adapter, submit("rest", type="limit", limit_price="1", time_in_force="gtc"))
        order_id = resting.provider_object_id
        cancel = Intent("alpaca", "order.cancel", "main", "c1", {"order_id": order_id})
        assert adapter.lookup(cancel, {}).status is LookupStatus.NOT_FOUND  # still open
        done = run(adapter, cancel)
        assert (done.outcome, done.provider_object_id, done.status_code) == (
            Outcome.SUCCEEDED,
            order_id,
            204,
        )
        # A resend (its first answer lost): 422, the order is canceled -> succeeded.
        again = run(adapter, cancel)
        assert again.outcome is Outcome.SUCCEEDED
        assert again.summary["already_canceled"] is True
        assert again.summary["code"] == 42210000
        assert adapter.lookup(cancel, {}).status is LookupStatus.FOUND
        # A filled order cannot be canceled: permanent, with its status.
        fresh.control("POST", "/alpaca/prices", {"prices": {"AAPL": "10"}})
        filled = run(adapter, submit("fill"))
        late = Intent(
            "alpaca", "order.cancel", "main", "c2", {"order_id": filled.provider_object_id}
        )
        refused = run(adapter, late)
        assert refused.outcome is Outcome.PERMANENT
        assert refused.summary["order_status"] == "filled"
        assert refused.summary["code"] == 42210000
        assert adapter.lookup(late, {}).status is LookupStatus.NOT_FOUND
        unknown = Intent(
            "alpaca",
            "order.cancel",
            "main",
            "c3",
            {"order_id": "00000000-0000-4000-8000-000000000000"},
        )
        missing = run(adapter, unknown)
        assert (missing.outcome, missing.status_code) == (Outcome.PERMANENT, 404)


def test_cancel_all_succeeds_only_when_every_order_is_canceled(fresh: FakesProcess) -> None:
    cancel_all = Intent("alpaca", "orders.cancel_all", "main", "ca1", {})
    with make_adapter(fresh) as adapter:
        for n in range(3):
            run(adapter, submit(f"o{n}", type="limit", limit_price="1", time_in_force="gtc"))
        assert adapter.lookup(cancel_all, {}).status is LookupStatus.NOT_FOUND
        fresh.set_faults({"provider": "alpaca", "kind": "partial_cancel"})
        partial = run(adapter, cancel_all)
        assert partial.outcome is Outcome.MAYBE_EFFECT
        assert partial.status_code == 207
        assert sorted(i["status"] for i in partial.summary["items"]) == [200, 200, 500]
        assert partial.summary["failed"] == 1
        failed = next(i for i in partial.summary["items"] if i["status"] == 500)
        assert failed["code"] == 50010000
        lookup = adapter.lookup(cancel_all, {})
        assert lookup.status is LookupStatus.NOT_FOUND
        assert lookup.summary["open_orders"] == [failed["id"]]
        done = run(adapter, cancel_all)
        assert done.outcome is Outcome.SUCCEEDED
        assert [i["id"] for i in done.summary["items"]] == [failed["id"]]
        assert adapter.lookup(cancel_all, {}).status is LookupStatus.FOUND


def test_close_all_positions(fresh: FakesProcess) -> None:
    close_all = Intent("alpaca", "positions.close_all", "main", "cl1", {"cancel_orders": True})
    fresh.control("POST", "/alpaca/prices", {"prices": {"AAPL": "10", "MSFT": "20"}})
    with make_adapter(fresh) as adapter:
        run(adapter, submit("a"))
        run(adapter, submit("m", symbol="MSFT", qty="1"))
        assert adapter.lookup(close_all, {}).status is LookupStatus.NOT_FOUND
        fresh.set_faults({"provider": "alpaca", "kind": "partial_close"})
        partial = run(adapter, close_all)
        assert partial.outcome is Outcome.MAYBE_EFFECT
        assert {i["status"] for i in partial.summary["items"]} == {200, 500}
        assert len(adapter.reader("main").list_positions()) == 1
        done = run(adapter, close_all)
        assert done.outcome is Outcome.SUCCEEDED
        assert done.summary["items"][0]["order_status"] == "filled"
        assert adapter.reader("main").list_positions() == []
        assert adapter.lookup(close_all, {}).status is LookupStatus.FOUND


def test_suspend_trading_blocks_new_orders_and_can_be_lifted(fresh: FakesProcess) -> None:
    suspend = Intent("alpaca", "account.suspend_trading", "main", "s1", {})
    lift = Intent("alpaca", "account.suspend_trading", "main", "s2", {"suspend_trade": False})
    transport = Counting()
    with make_adapter(fresh, transport=transport) as adapter:
        assert adapter.lookup(suspend, {}).status is LookupStatus.NOT_FOUND
        done = run(adapter, suspend)
        assert done.outcome is Outcome.SUCCEEDED
        assert done.summary["response"]["suspend_trade"] is True
        assert adapter.lookup(suspend, {}).status is LookupStatus.FOUND
        refused = run(adapter, submit())
        assert (refused.outcome, refused.status_code) == (Outcome.PERMANENT, 403)
        assert adapter.reader("main").get_account().trade_suspended_by_user is True
        assert run(adapter, lift).outcome is Outcome.SUCCEEDED
        assert run(adapter, submit("after")).outcome is Outcome.SUCCEEDED
    assert "PATCH /alpaca/paper/v2/account/configurations" in transport.sent


def test_the_read_client_gives_what_the_trading_layer_needs(fresh: FakesProcess) -> None:
    fresh.control("POST", "/alpaca/prices", {"prices": {"AAPL": "100"}})
    fresh.control("POST", "/alpaca/account", {"environment": "paper", "last_equity": "100050"})
    with make_adapter(fresh) as adapter:
        placed = run(adapter, submit())
        run(adapter, submit("rest", type="limit", limit_price="50", time_in_force="gtc", qty="1"))
        fresh.control("POST", "/alpaca/prices", {"prices": {"AAPL": "90"}})
        reader = adapter.reader("main")
        account = reader.get_account()
        assert reader.environment == "paper"
        assert account.cash == Decimal("99800")
        assert account.equity == Decimal("99980")
        assert account.daily_change == Decimal("-70")
        assert (account.trading_blocked, account.status) == (False, "ACTIVE")
        (position,) = reader.list_positions()
        assert (position.symbol, position.qty, position.market_value) == (
            "AAPL",
            Decimal(2),
            Decimal("180"),
        )
        (resting,) = reader.list_open_orders()
        assert (resting.type, resting.is_open, resting.qty) == ("limit", True, Decimal(1))
        order = reader.get_order(str(placed.provider_object_id))
        assert order is not None
        assert (order.status, order.filled_qty, order.filled_avg_price) == (
            "filled",
            Decimal(2),
            Decimal(100),
        )
        assert reader.get_order("00000000-0000-4000-8000-000000000000") is None
        assert reader.get_configurations()["suspend_trade"] is False
        fresh.set_faults({"provider": "alpaca", "kind": "rate_limit", "reset_in": 5})
        with pytest.raises(AlpacaReadError) as info:
            reader.get_account()
        assert info.value.retryable is True
        assert info.value.retry_after_seconds is not None
        fresh.set_faults(
            {
                "provider": "alpaca",
                "kind": "status",
                "status": 403,
                "body": {"code": 40310000, "message": "forbidden"},
            }
        )
        with pytest.raises(AlpacaReadError) as info:
            reader.list_positions()
        assert (info.value.retryable, info.value.code) == (False, 40310000)
