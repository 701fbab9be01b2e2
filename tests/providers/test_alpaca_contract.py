"""Contract: our Alpaca request JSON parses into alpaca-py's own request models
(the official SDK, a test-only dependency), with the same values.

alpaca-py types qty, notional and prices as float; values are compared as
Decimal of their text, so "185.50" and 185.5 agree while "185.51" would not.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from autopack.domain.providers import Intent
from autopack.providers.alpaca.adapter import AlpacaAdapter
from autopack.providers.alpaca.wire import SUBMIT_FIELDS
from trading_support import REF

with warnings.catch_warnings():
    # alpaca-py's package import pulls in websockets.legacy, which warns on import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from alpaca.trading.models import AccountConfiguration
    from alpaca.trading.requests import (
        LimitOrderRequest,
        MarketOrderRequest,
        OrderRequest,
        StopLimitOrderRequest,
        StopOrderRequest,
        TrailingStopOrderRequest,
    )

MODELS: dict[str, type[OrderRequest]] = {
    "market": MarketOrderRequest,
    "limit": LimitOrderRequest,
    "stop": StopOrderRequest,
    "stop_limit": StopLimitOrderRequest,
    "trailing_stop": TrailingStopOrderRequest,
}
DECIMAL_FIELDS = ("qty", "notional", "limit_price", "stop_price", "trail_price", "trail_percent")
BASE = {"symbol": "AAPL", "side": "buy", "time_in_force": "gtc", "qty": "3", "strategy": REF}
PAYLOADS: list[dict[str, Any]] = [
    {**BASE, "type": "market", "qty": "0.123456789"},
    {**BASE, "type": "market", "qty": None, "notional": "25.50", "time_in_force": "day"},
    {
        **BASE,
        "type": "limit",
        "limit_price": "185.50",
        "extended_hours": True,
        "time_in_force": "day",
    },
    {**BASE, "type": "stop", "stop_price": "170", "side": "sell"},
    {**BASE, "type": "stop_limit", "stop_price": "170", "limit_price": "169.9999"},
    {**BASE, "type": "trailing_stop", "trail_percent": "2.5", "side": "sell"},
    {**BASE, "type": "trailing_stop", "trail_price": "1.25", "side": "sell"},
    {
        **BASE,
        "type": "limit",
        "limit_price": "180",
        "order_class": "bracket",
        "take_profit": {"limit_price": "200"},
        "stop_loss": {"stop_price": "150", "limit_price": "149.5"},
    },
    {
        **BASE,
        "type": "limit",
        "limit_price": "180",
        "order_class": "oto",
        "stop_loss": {"stop_price": "150"},
    },
    {**BASE, "type": "market", "symbol": "BTC/USD", "qty": "0.0001"},
]


@pytest.fixture(scope="module")
def adapter() -> Any:
    with AlpacaAdapter(
        paper_url="https://paper.alpaca.test",
        live_url="https://live.alpaca.test",
        credentials=None,  # type: ignore[arg-type]  # render never reads credentials
        clock=lambda: datetime(2026, 1, 2, tzinfo=UTC),
    ) as built:
        yield built


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, str) and isinstance(theirs, float):
        return Decimal(ours) == Decimal(str(theirs))
    return bool(ours == getattr(theirs, "value", theirs))


@pytest.mark.parametrize(
    "payload", PAYLOADS, ids=lambda p: f"{p['type']}-{p.get('order_class', 'simple')}"
)
def test_order_json_parses_into_the_alpaca_py_request_model(
    adapter: AlpacaAdapter, payload: dict[str, Any]
) -> None:
    payload = {k: v for k, v in payload.items() if v is not None}
    body = adapter.render(Intent("alpaca", "order.submit", "main", "k1", payload)).body
    assert isinstance(body, dict)
    model_type = MODELS[str(body["type"])]
    model = model_type.model_validate(body)
    # Every field we send is one the SDK knows (pydantic would drop an unknown one).
    assert set(body) <= set(model_type.model_fields), set(body) - set(model_type.model_fields)
    sent = model.to_request_fields()
    for name, value in body.items():
        if name in ("take_profit", "stop_loss"):
            assert isinstance(value, dict)
            leg = getattr(model, name)
            for leg_field, leg_value in value.items():
                assert _same(leg_value, getattr(leg, leg_field)), (name, leg_field)
            continue
        assert _same(value, sent[name]), (name, value, sent[name])
    for name in DECIMAL_FIELDS:
        if name in body:
            assert Decimal(str(body[name])) == Decimal(str(sent[name]))
            assert isinstance(body[name], str)  # we send text; the SDK would send a float
    assert set(body) - {"order_class"} <= SUBMIT_FIELDS | {"client_order_id"}


def test_the_suspend_patch_is_one_field_of_the_sdk_account_configuration(
    adapter: AlpacaAdapter,
) -> None:
    for suspend in (True, False):
        payload = {"suspend_trade": suspend}
        body = adapter.render(Intent("alpaca", "account.suspend_trading", "m", "k", payload)).body
        assert body == {"suspend_trade": suspend}
        assert set(body) <= set(AccountConfiguration.model_fields)
        field = AccountConfiguration.model_fields["suspend_trade"]
        assert field.annotation in (bool, bool | None)
