"""Alpaca renders: exact, deterministic, secret-free requests; every payload
refusal names its field; fuzzed payloads never crash the render."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autopack.api.errors import http_status
from autopack.cli._common import EXIT_BAD_INPUT, exit_code
from autopack.domain.canonical import canonical_json
from autopack.domain.providers import BodyEncoding, Intent
from autopack.providers._payload import ProviderPayloadError
from autopack.providers.alpaca.adapter import AlpacaAdapter
from autopack.providers.alpaca.wire import (
    ACTIONS,
    MAX_CLIENT_ORDER_ID_CHARS,
    SUBMIT_FIELDS,
    client_order_id,
)
from autopack.providers.unit import ApiKeyCredential
from trading_support import REF

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "alpaca"
PAPER_URL = "https://paper.alpaca.test"
LIVE_URL = "https://live.alpaca.test"
KEY_ID = "PKTESTKEYID000000042"
SECRET = "sEcReT" + "x" * 34


class CredentialsThatMustNotBeRead:
    """Render never reads credentials: any call fails the test."""

    def access_token(self, account: str) -> str:
        raise AssertionError("render read an access token")

    def api_key(self, account: str) -> ApiKeyCredential:
        raise AssertionError("render read the key pair")


def adapter() -> AlpacaAdapter:
    from datetime import UTC, datetime

    return AlpacaAdapter(
        paper_url=PAPER_URL,
        live_url=LIVE_URL,
        credentials=CredentialsThatMustNotBeRead(),
        clock=lambda: datetime(2026, 1, 2, tzinfo=UTC),
    )


@pytest.fixture(scope="module")
def shared() -> Iterator[AlpacaAdapter]:
    with adapter() as a:
        yield a


def example(action: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / action / "payload.json").read_text("utf-8"))
    return data


def intent(
    action: str, payload: dict[str, Any], *, account: str = "main", key: str = "k1"
) -> Intent:
    return Intent("alpaca", action, account, key, payload)


ORDER = {
    "symbol": "AAPL",
    "side": "buy",
    "type": "market",
    "time_in_force": "day",
    "qty": "3",
    "strategy": REF,
}


def test_every_action_has_an_example_that_renders() -> None:
    assert sorted(p.name for p in EXAMPLES.iterdir()) == sorted(ACTIONS)
    with adapter() as a:
        for action in ACTIONS:
            rendered = a.render(intent(action, example(action)))
            assert rendered.url.startswith(PAPER_URL + "/v2/")


def test_order_submit_renders_the_exact_request() -> None:
    with adapter() as a:
        rendered = a.render(intent("order.submit", example("order.submit")))
    coid = client_order_id(intent("order.submit", {}))
    assert rendered.method == "POST"
    assert rendered.url == f"{PAPER_URL}/v2/orders"
    assert dict(rendered.headers) == {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "APCA-API-KEY-ID": "<key id>",
        "APCA-API-SECRET-KEY": "<secret key>",
    }
    assert rendered.body == {
        "client_order_id": coid,
        "limit_price": "185.50",
        "qty": "2",
        "side": "buy",
        "symbol": "AAPL",
        "time_in_force": "day",
        "type": "limit",
    }
    assert rendered.provider_idempotency_key == coid
    assert rendered.encoding is BodyEncoding.JSON
    # Decimals stay strings on the wire: never a JSON number with a fraction.
    assert b'"qty":"2"' in canonical_json(rendered.body)


@pytest.mark.parametrize(
    ("action", "payload", "method", "url", "body"),
    [
        (
            "order.cancel",
            {"order_id": "61E69015-8549-4BFD-B9C3-01E75843F47D", "environment": "live"},
            "DELETE",
            f"{LIVE_URL}/v2/orders/61e69015-8549-4bfd-b9c3-01e75843f47d",
            None,
        ),
        ("orders.cancel_all", {}, "DELETE", f"{PAPER_URL}/v2/orders", None),
        (
            "positions.close_all",
            {},
            "DELETE",
            f"{PAPER_URL}/v2/positions?cancel_orders=true",
            None,
        ),
        (
            "positions.close_all",
            {"cancel_orders": False, "environment": "live"},
            "DELETE",
            f"{LIVE_URL}/v2/positions?cancel_orders=false",
            None,
        ),
        (
            "account.suspend_trading",
            {},
            "PATCH",
            f"{PAPER_URL}/v2/account/configurations",
            {"suspend_trade": True},
        ),
        (
            "account.suspend_trading",
            {"suspend_trade": False},
            "PATCH",
            f"{PAPER_URL}/v2/account/configurations",
            {"suspend_trade": False},
        ),
    ],
)
def test_the_other_actions_render_their_exact_request(
    action: str, payload: dict[str, Any], method: str, url: str, body: Any
) -> None:
    with adapter() as a:
        rendered = a.render(intent(action, payload))
    assert (rendered.method, rendered.url, rendered.body) == (method, url, body)
    assert rendered.encoding is (BodyEncoding.NONE if body is None else BodyEncoding.JSON)
    assert ("Content-Type" in rendered.headers) is (body is not None)
    assert rendered.headers["APCA-API-SECRET-KEY"] == "<secret key>"


def test_the_environment_picks_the_host_and_is_part_of_what_is_approved() -> None:
    with adapter() as a:
        paper = a.render(intent("order.submit", {**ORDER, "environment": "paper"}))
        default = a.render(intent("order.submit", ORDER))
        live = a.render(intent("order.submit", {**ORDER, "environment": "live"}))
    assert paper.url == default.url == f"{PAPER_URL}/v2/orders"
    assert live.url == f"{LIVE_URL}/v2/orders"
    assert paper.request_hash != live.request_hash


def test_client_order_id_is_derived_from_provider_account_and_key() -> None:
    base = client_order_id(intent("order.submit", ORDER))
    assert base == client_order_id(intent("order.submit", {**ORDER, "qty": "9"}))
    assert base != client_order_id(intent("order.submit", ORDER, account="other"))
    assert base != client_order_id(intent("order.submit", ORDER, key="k2"))
    assert base.startswith("autopack-")
    assert len(base) <= MAX_CLIENT_ORDER_ID_CHARS
    long_key = client_order_id(intent("order.submit", ORDER, key="k" * 5000))
    assert len(long_key) == len(base)


def test_renders_are_byte_identical_across_processes() -> None:
    """The same bytes in a fresh interpreter (no state, hash seed or locale leaks in)."""
    script = (
        "import json,sys;from datetime import UTC,datetime\n"
        "from autopack.domain.providers import Intent\n"
        "from autopack.domain.canonical import canonical_json\n"
        "from autopack.providers.alpaca.adapter import AlpacaAdapter\n"
        f"a=AlpacaAdapter(paper_url={PAPER_URL!r},live_url={LIVE_URL!r},credentials=None,"
        "clock=lambda: datetime.now(UTC))\n"
        "p=json.loads(sys.stdin.read())\n"
        "r=a.render(Intent('alpaca','order.submit','main','k1',p))\n"
        "sys.stdout.write(canonical_json(r.to_dict()).decode()+'\\n'+r.request_hash)\n"
    )
    payload = example("order.submit")
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "LC_ALL": "C", "PATH": "/usr/bin:/bin"},
        ).stdout
        for seed in ("1", "2")
    ]
    with adapter() as a:
        here = a.render(intent("order.submit", payload))
    assert runs[0] == runs[1] == canonical_json(here.to_dict()).decode() + "\n" + here.request_hash
    # Pinned: a change to the wire bytes of this example is a deliberate edit here.
    assert here.request_hash == PINNED_EXAMPLE_HASH


PINNED_EXAMPLE_HASH = "b1ee21187d5ff79599c72174de8d0ad4e5262668a82e397bab772c33fffea13c"


def test_no_secret_in_any_render() -> None:
    with adapter() as a:
        for action in ACTIONS:
            text = canonical_json(a.render(intent(action, example(action))).to_dict()).decode()
            assert KEY_ID not in text
            assert SECRET not in text
            assert "<secret key>" in text


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**ORDER, "qty": 1.5}, "qty"),  # a float: never on the wire
        ({**ORDER, "qty": "1e3"}, "qty"),
        ({**ORDER, "qty": "-1"}, "qty"),
        ({**ORDER, "qty": "0"}, "qty"),
        ({**ORDER, "qty": "1.0000000001"}, "qty"),
        ({**ORDER, "qty": True}, "qty"),
        ({k: v for k, v in ORDER.items() if k != "qty"}, "qty"),
        ({**ORDER, "notional": "10"}, "qty"),  # both
        ({**ORDER, "qty": None, "notional": "10.123"}, "notional"),
        ({**ORDER, "qty": None, "notional": "10", "time_in_force": "gtc"}, "time_in_force"),
        ({**ORDER, "type": "limit"}, "limit_price"),
        ({**ORDER, "limit_price": "10"}, "limit_price"),  # not for market
        ({**ORDER, "type": "limit", "limit_price": "10.12345"}, "limit_price"),
        ({**ORDER, "type": "stop"}, "stop_price"),
        ({**ORDER, "type": "stop_limit", "stop_price": "5"}, "limit_price"),
        ({**ORDER, "type": "trailing_stop"}, "trail_price"),
        (
            {**ORDER, "type": "trailing_stop", "trail_price": "1", "trail_percent": "2"},
            "trail_price",
        ),
        ({**ORDER, "type": "trailing_stop", "trail_percent": "100"}, "trail_percent"),
        ({**ORDER, "extended_hours": True}, "extended_hours"),
        ({**ORDER, "extended_hours": "yes"}, "extended_hours"),
        ({**ORDER, "symbol": "aapl"}, "symbol"),
        ({**ORDER, "symbol": ""}, "symbol"),
        ({**ORDER, "side": "short"}, "side"),
        ({**ORDER, "side": {"buy": True}}, "side"),  # unhashable: refused, not a TypeError
        ({**ORDER, "type": ["market"]}, "type"),
        ({**ORDER, "type": "twap"}, "type"),
        ({**ORDER, "time_in_force": "gtd"}, "time_in_force"),
        ({**ORDER, "environment": "prod"}, "environment"),
        ({**ORDER, "client_order_id": "mine"}, "client_order_id"),  # derived, never given
        ({**ORDER, "order_class": "bracket"}, "take_profit"),
        ({**ORDER, "take_profit": {"limit_price": "1"}}, "order_class"),
        (
            {
                **ORDER,
                "order_class": "bracket",
                "take_profit": {},
                "stop_loss": {"stop_price": "1"},
            },
            "take_profit.limit_price",
        ),
        (
            {
                **ORDER,
                "order_class": "bracket",
                "take_profit": {"limit_price": "9", "x": "1"},
                "stop_loss": {"stop_price": "1"},
            },
            "take_profit.x",
        ),
        ({**ORDER, "order_class": "oco", "take_profit": {"limit_price": "9"}}, "take_profit"),
    ],
)
def test_order_payload_refusals_name_the_field(payload: dict[str, Any], field: str) -> None:
    payload = {k: v for k, v in payload.items() if v is not None}
    with adapter() as a, pytest.raises(ProviderPayloadError) as info:
        a.render(intent("order.submit", payload))
    assert info.value.details["field"] == field, info.value.message
    assert info.value.code == "invalid_provider_payload"
    assert http_status(info.value.code) == 400
    assert exit_code(info.value.code) == EXIT_BAD_INPUT


@pytest.mark.parametrize(
    ("action", "payload", "field"),
    [
        ("order.cancel", {}, "order_id"),
        ("order.cancel", {"order_id": "not-a-uuid"}, "order_id"),
        ("order.cancel", {"order_id": "61e69015-8549-4bfd-b9c3-01e75843f47d/x"}, "order_id"),
        ("orders.cancel_all", {"symbols": "AAPL"}, "symbols"),
        ("positions.close_all", {"cancel_orders": "yes"}, "cancel_orders"),
        ("account.suspend_trading", {"suspend_trade": 1}, "suspend_trade"),
        ("account.suspend_trading", {"no_shorting": True}, "no_shorting"),
    ],
)
def test_other_payload_refusals_name_the_field(
    action: str, payload: dict[str, Any], field: str
) -> None:
    with adapter() as a, pytest.raises(ProviderPayloadError) as info:
        a.render(intent(action, payload))
    assert info.value.details["field"] == field, info.value.message


def test_valid_order_variants_render() -> None:
    variants: list[dict[str, Any]] = [
        {**ORDER, "qty": "0.5"},
        {**ORDER, "qty": 7},
        {k: v for k, v in ORDER.items() if k != "qty"} | {"notional": "25.50"},
        {
            **ORDER,
            "type": "stop_limit",
            "stop_price": "9",
            "limit_price": "9.5",
            "time_in_force": "gtc",
        },
        {**ORDER, "type": "trailing_stop", "trail_percent": "2.5", "side": "sell"},
        {**ORDER, "type": "limit", "limit_price": "9", "extended_hours": True},
        {
            **ORDER,
            "order_class": "bracket",
            "take_profit": {"limit_price": "200"},
            "stop_loss": {"stop_price": "150", "limit_price": "149.5"},
        },
        {**ORDER, "symbol": "BTC/USD", "time_in_force": "gtc"},
    ]
    symbols = []
    with adapter() as a:
        for payload in variants:
            body = a.render(intent("order.submit", payload)).body
            assert isinstance(body, dict)
            assert not any(isinstance(v, float) for v in body.values())
            symbols.append(body["symbol"])
    assert symbols[-1] == "BTC/USD"


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.text(max_size=12),
    st.sampled_from(["1", "0.5", "10.25", "AAPL", "buy", "sell", "limit", "market", "day", "gtc"]),
    st.dictionaries(st.sampled_from(["limit_price", "stop_price", "x"]), st.text(max_size=6)),
    st.floats(allow_nan=True),
)


@settings(max_examples=300, deadline=None)
@given(
    action=st.sampled_from(ACTIONS),
    payload=st.dictionaries(
        st.sampled_from(sorted(SUBMIT_FIELDS | {"order_id", "cancel_orders", "suspend_trade"})),
        _values,
        max_size=10,
    ),
)
def test_fuzzed_payloads_render_or_are_refused_by_name(
    shared: AlpacaAdapter, action: str, payload: dict[str, Any]
) -> None:
    try:
        rendered = shared.render(intent(action, payload))
    except ProviderPayloadError as exc:
        refused_field = exc.details["field"]
    else:
        refused_field = None
        canonical_json(rendered.to_dict())  # a render is always canonical JSON (no floats)
    assert refused_field is None or refused_field.strip()
