"""Alpaca Trading API v2 wire facts and payload rules: pure, no I/O, no secrets.

Every action's payload names the ``environment`` (``paper``, the default, or
``live``) whose host it is meant for; the render puts that host's URL in the
request, so an approval binds to paper or live, and dispatch refuses a
credential of the other environment before sending anything.

Payloads (every other field is refused by name):

    order.submit             strategy {name, sha256}, symbol, side, type,
                             time_in_force, qty XOR notional, limit_price,
                             stop_price, trail_price XOR trail_percent,
                             extended_hours, order_class, take_profit, stop_loss
    order.cancel             order_id
    orders.cancel_all        (nothing)
    positions.close_all      cancel_orders (default true)
    account.suspend_trading  suspend_trade (default true; false lifts the suspension)

``strategy`` names the registered strategy the order comes from and the hash it
is approved under (the trading gates compare it with the registry); it is not
sent to Alpaca. Quantities and prices are decimal strings (or integers) on the wire, never JSON
numbers with a fraction; ``client_order_id`` is derived from provider, account
and idempotency key, so every resend of one intent carries the same id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from autopack.domain.canonical import JsonValue, canonical_hash
from autopack.domain.errors import InvalidInputError
from autopack.domain.providers import BodyEncoding, Intent
from autopack.domain.trading.orders import (
    OrderTerms,
    StrategyRef,
    validate_sha256,
    validate_strategy_name,
)
from autopack.providers._payload import PayloadReader, ProviderPayloadError

PROVIDER_NAME: Final = "alpaca"
PAPER: Final = "paper"
LIVE: Final = "live"
ENVIRONMENTS: Final = (PAPER, LIVE)
# The real hosts (public addresses, not secrets); settings may point elsewhere.
HOSTS: Final[Mapping[str, str]] = {
    PAPER: "https://paper-api.alpaca.markets",
    LIVE: "https://api.alpaca.markets",
}
# Key id prefix -> the environment the key was issued for.
KEY_PREFIXES: Final[Mapping[str, str]] = {"PK": PAPER, "AK": LIVE}

KEY_ID_HEADER: Final = "APCA-API-KEY-ID"
SECRET_KEY_HEADER: Final = "APCA-API-SECRET-KEY"  # noqa: S105 - a header name, not a secret
# What a render shows instead of the secrets (added only at dispatch).
MASKED_KEY_ID: Final = "<key id>"
MASKED_SECRET_KEY: Final = "<secret key>"  # noqa: S105 - the mask shown instead

ORDERS_PATH: Final = "/v2/orders"
BY_CLIENT_ORDER_ID_PATH: Final = "/v2/orders:by_client_order_id"
POSITIONS_PATH: Final = "/v2/positions"
ACCOUNT_PATH: Final = "/v2/account"
CONFIGURATIONS_PATH: Final = "/v2/account/configurations"

# 422 with this code: "client_order_id must be unique" (also Alpaca's code for
# several validation refusals, so it is only a duplicate if the lookup finds one).
DUPLICATE_CLIENT_ORDER_ID_CODE: Final = 40010001
MAX_CLIENT_ORDER_ID_CHARS: Final = 128
CLIENT_ORDER_ID_PREFIX: Final = "autopack-"
CLIENT_ORDER_ID_HEX: Final = 48

SIDES: Final = frozenset({"buy", "sell"})
ORDER_TYPES: Final = frozenset({"market", "limit", "stop", "stop_limit", "trailing_stop"})
TIMES_IN_FORCE: Final = frozenset({"day", "gtc", "opg", "cls", "ioc", "fok"})
# "mleg" (options legs) is not supported by this adapter.
ORDER_CLASSES: Final = frozenset({"simple", "bracket", "oco", "oto"})
# Order statuses in which an order may still execute (Alpaca's "open" filter).
OPEN_STATUSES: Final = frozenset(
    {
        "new",
        "partially_filled",
        "accepted",
        "pending_new",
        "accepted_for_bidding",
        "held",
        "calculated",
        "pending_replace",
        "stopped",
        "suspended",
    }
)
# A cancel asked for earlier took (or is taking) effect.
CANCELED_STATUSES: Final = frozenset({"canceled", "pending_cancel"})

SYMBOL_PATTERN: Final = re.compile(r"[A-Z0-9][A-Z0-9./]{0,20}")
# Digits with an optional fraction: no sign, exponent, spaces or underscores.
DECIMAL_PATTERN: Final = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,9})?")
ORDER_ID_PATTERN: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
MAX_QTY_DECIMALS: Final = 9
MAX_NOTIONAL_DECIMALS: Final = 2
MAX_PRICE_DECIMALS: Final = 4
MAX_TRAIL_PERCENT: Final = Decimal(100)

SUBMIT_FIELDS: Final = frozenset(
    {
        "environment",
        "strategy",
        "symbol",
        "side",
        "type",
        "time_in_force",
        "qty",
        "notional",
        "limit_price",
        "stop_price",
        "trail_price",
        "trail_percent",
        "extended_hours",
        "order_class",
        "take_profit",
        "stop_loss",
    }
)

ACTIONS: Final = (
    "order.submit",
    "order.cancel",
    "orders.cancel_all",
    "positions.close_all",
    "account.suspend_trading",
)


@dataclass(frozen=True, slots=True)
class WireRequest:
    """The environment-independent parts of one action's request."""

    environment: str
    method: str
    path: str  # with the query string, if any
    body: JsonValue
    encoding: BodyEncoding
    client_order_id: str | None = None


def client_order_id(intent: Intent) -> str:
    """The order id Alpaca sees: stable for (provider, account, idempotency key)."""
    digest = canonical_hash(
        {
            "provider": intent.provider,
            "account": intent.account,
            "idempotency_key": intent.idempotency_key,
        }
    )
    return CLIENT_ORDER_ID_PREFIX + digest[:CLIENT_ORDER_ID_HEX]


def decimal_text(
    reader: PayloadReader, field: str, value: Any, *, max_decimals: int, positive: bool = True
) -> str:
    """A decimal as the string sent on the wire (integers become their digits)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise reader.error(field, 'must be a decimal string (e.g. "1.5") or an integer')
    text = str(value)
    if not DECIMAL_PATTERN.fullmatch(text):
        raise reader.error(field, "must be a plain decimal: digits with an optional fraction")
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise reader.error(field, "is not a decimal") from None
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > max_decimals:
        raise reader.error(field, f"has more than {max_decimals} decimal places")
    if positive and number <= 0:
        raise reader.error(field, "must be greater than zero")
    return text


def environment(reader: PayloadReader) -> str:
    if not reader.has("environment"):
        return PAPER
    return reader.choice("environment", ENVIRONMENTS)


def _optional_decimal(
    reader: PayloadReader, body: dict[str, JsonValue], field: str, max_decimals: int
) -> bool:
    if not reader.has(field):
        return False
    body[field] = decimal_text(reader, field, reader.payload[field], max_decimals=max_decimals)
    return True


def _leg(reader: PayloadReader, field: str, allowed: frozenset[str], required: str) -> JsonValue:
    value = reader.payload.get(field)
    if not isinstance(value, Mapping):
        raise reader.error(field, f"must be an object with {required}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise reader.error(
            f"{field}.{unknown[0]}", f"unknown; allowed: {', '.join(sorted(allowed))}"
        )
    leg: dict[str, JsonValue] = {}
    for name in sorted(allowed):
        if value.get(name) is not None:
            leg[name] = decimal_text(
                reader, f"{field}.{name}", value[name], max_decimals=MAX_PRICE_DECIMALS
            )
    if required not in leg:
        raise reader.error(f"{field}.{required}", "is required")
    return leg


def submit_body(intent: Intent) -> tuple[str, dict[str, JsonValue]]:
    """(environment, the POST /v2/orders body) for an ``order.submit`` payload."""
    reader = PayloadReader(PROVIDER_NAME, intent.action, intent.payload)
    reader.only(SUBMIT_FIELDS)
    env = environment(reader)
    strategy_ref(reader)
    symbol = reader.text("symbol", max_chars=21)
    if not SYMBOL_PATTERN.fullmatch(symbol):
        raise reader.error("symbol", "must be upper-case letters, digits, '.' or '/'")
    order_type = reader.choice("type", ORDER_TYPES)
    tif = reader.choice("time_in_force", TIMES_IN_FORCE)
    body: dict[str, JsonValue] = {
        "symbol": symbol,
        "side": reader.choice("side", SIDES),
        "type": order_type,
        "time_in_force": tif,
    }
    has_qty = _optional_decimal(reader, body, "qty", MAX_QTY_DECIMALS)
    has_notional = _optional_decimal(reader, body, "notional", MAX_NOTIONAL_DECIMALS)
    if has_qty == has_notional:
        raise reader.error("qty", "or notional is required, and not both")
    if has_notional and tif != "day":
        raise reader.error("time_in_force", "must be day for a notional order")
    has_limit = _optional_decimal(reader, body, "limit_price", MAX_PRICE_DECIMALS)
    has_stop = _optional_decimal(reader, body, "stop_price", MAX_PRICE_DECIMALS)
    has_trail_price = _optional_decimal(reader, body, "trail_price", MAX_PRICE_DECIMALS)
    if reader.has("trail_percent"):
        body["trail_percent"] = decimal_text(
            reader, "trail_percent", reader.payload["trail_percent"], max_decimals=2
        )
        if Decimal(str(body["trail_percent"])) >= MAX_TRAIL_PERCENT:
            raise reader.error("trail_percent", "must be below 100")
    has_trail = has_trail_price or reader.has("trail_percent")
    _check_prices(reader, order_type, has_limit=has_limit, has_stop=has_stop, has_trail=has_trail)
    if has_trail_price and reader.has("trail_percent"):
        raise reader.error("trail_price", "and trail_percent are mutually exclusive")
    if reader.has("extended_hours"):
        extended = reader.boolean("extended_hours")
        if extended and (order_type != "limit" or tif != "day"):
            raise reader.error("extended_hours", "needs a limit order with time_in_force day")
        body["extended_hours"] = extended
    _order_class(reader, body, order_type)
    return env, body


def strategy_ref(reader: PayloadReader) -> StrategyRef:
    """The order's ``strategy``: ``{"name": ..., "sha256": ...}`` (required)."""
    value = reader.payload.get("strategy")
    if not isinstance(value, Mapping) or set(value) != {"name", "sha256"}:
        raise reader.error(
            "strategy",
            'is required: {"name": NAME, "sha256": HASH} of a registered strategy '
            "(`autopack trading strategy show NAME`)",
        )
    try:
        return StrategyRef(validate_strategy_name(value["name"]), validate_sha256(value["sha256"]))
    except InvalidInputError as exc:
        raise reader.error("strategy", exc.message) from None


def order_terms(intent: Intent) -> OrderTerms:
    """An ``order.submit`` payload's terms for the trading gates (validated as for
    the render, so an order the adapter would send always reads)."""
    env, body = submit_body(intent)
    reader = PayloadReader(PROVIDER_NAME, intent.action, intent.payload)

    def number(name: str) -> Decimal | None:
        value = body.get(name)
        return None if value is None else Decimal(str(value))

    price = number("limit_price")
    if price is None:
        price = number("stop_price")
    return OrderTerms(
        strategy=strategy_ref(reader),
        environment=env,
        symbol=str(body["symbol"]),
        side=str(body["side"]),
        qty=number("qty"),
        notional=number("notional"),
        price=price,
    )


def _check_prices(
    reader: PayloadReader, order_type: str, *, has_limit: bool, has_stop: bool, has_trail: bool
) -> None:
    needs_limit = order_type in ("limit", "stop_limit")
    needs_stop = order_type in ("stop", "stop_limit")
    needs_trail = order_type == "trailing_stop"
    if needs_limit and not has_limit:
        raise reader.error("limit_price", f"is required for a {order_type} order")
    if has_limit and not needs_limit:
        raise reader.error("limit_price", f"is not allowed for a {order_type} order")
    if needs_stop and not has_stop:
        raise reader.error("stop_price", f"is required for a {order_type} order")
    if has_stop and not needs_stop:
        raise reader.error("stop_price", f"is not allowed for a {order_type} order")
    if needs_trail and not has_trail:
        raise reader.error("trail_price", "or trail_percent is required for a trailing_stop order")
    if has_trail and not needs_trail:
        raise reader.error("trail_price", f"is not allowed for a {order_type} order")


def _order_class(reader: PayloadReader, body: dict[str, JsonValue], order_type: str) -> None:
    order_class = reader.choice("order_class", ORDER_CLASSES, required=False) or "simple"
    has_take = reader.has("take_profit")
    has_loss = reader.has("stop_loss")
    if order_class == "simple":
        if has_take or has_loss:
            raise reader.error(
                "order_class", "must be bracket, oco or oto with take_profit/stop_loss"
            )
        if reader.has("order_class"):
            body["order_class"] = "simple"
        return
    if order_class in ("bracket", "oco") and not (has_take and has_loss):
        raise reader.error("take_profit", f"and stop_loss are both required for {order_class}")
    if order_class == "oto" and has_take == has_loss:
        raise reader.error("take_profit", "or stop_loss is required for oto, and not both")
    if order_class == "oco" and order_type != "limit":
        raise reader.error("type", "must be limit for an oco order")
    body["order_class"] = order_class
    if has_take:
        body["take_profit"] = _leg(reader, "take_profit", frozenset({"limit_price"}), "limit_price")
    if has_loss:
        body["stop_loss"] = _leg(
            reader, "stop_loss", frozenset({"stop_price", "limit_price"}), "stop_price"
        )


def wire_request(intent: Intent) -> WireRequest:
    """Validate ``intent``'s payload and build its request (refusals name the field)."""
    reader = PayloadReader(PROVIDER_NAME, intent.action, intent.payload)
    if intent.action == "order.submit":
        env, body = submit_body(intent)
        coid = client_order_id(intent)
        body["client_order_id"] = coid
        return WireRequest(env, "POST", ORDERS_PATH, body, BodyEncoding.JSON, coid)
    if intent.action == "order.cancel":
        reader.only({"environment", "order_id"})
        order_id = reader.text("order_id", max_chars=36)
        if not ORDER_ID_PATTERN.fullmatch(order_id):
            raise reader.error("order_id", "must be an Alpaca order id (a UUID)")
        return WireRequest(
            environment(reader),
            "DELETE",
            f"{ORDERS_PATH}/{order_id.lower()}",
            None,
            BodyEncoding.NONE,
        )
    if intent.action == "orders.cancel_all":
        reader.only({"environment"})
        return WireRequest(environment(reader), "DELETE", ORDERS_PATH, None, BodyEncoding.NONE)
    if intent.action == "positions.close_all":
        reader.only({"environment", "cancel_orders"})
        cancel = reader.boolean("cancel_orders") if reader.has("cancel_orders") else True
        path = f"{POSITIONS_PATH}?cancel_orders={'true' if cancel else 'false'}"
        return WireRequest(environment(reader), "DELETE", path, None, BodyEncoding.NONE)
    if intent.action == "account.suspend_trading":
        reader.only({"environment", "suspend_trade"})
        suspend = reader.boolean("suspend_trade") if reader.has("suspend_trade") else True
        # A partial PATCH: only the one field changes; the rest of the configuration stays.
        return WireRequest(
            environment(reader),
            "PATCH",
            CONFIGURATIONS_PATH,
            {"suspend_trade": suspend},
            BodyEncoding.JSON,
        )
    raise ProviderPayloadError(
        f"unknown alpaca action {intent.action[:64]!r}: one of {', '.join(ACTIONS)}",
        details={"provider": PROVIDER_NAME, "action": intent.action[:64], "field": "action"},
    )


def key_environment(key_id: str, prefixes: Mapping[str, str]) -> str | None:
    """The environment a key id was issued for (by its prefix), None if unknown."""
    return prefixes.get(key_id[:2].upper())
