"""A wire-faithful fake of the Alpaca Trading API v2, paper and live side by side.

Each environment is its own host in real life; here each is a path prefix of
the fakes host, with the real paths below it::

    <fakes>/alpaca/paper/v2/...     (settings: alpaca_paper_url = <fakes>/alpaca/paper)
    <fakes>/alpaca/live/v2/...      (settings: alpaca_live_url  = <fakes>/alpaca/live)

Served: ``POST/GET /v2/orders``, ``GET/DELETE /v2/orders/{id}``,
``GET /v2/orders:by_client_order_id``, ``DELETE /v2/orders`` (207),
``GET /v2/positions``, ``GET /v2/positions/{symbol}``, ``DELETE /v2/positions``
(207, ``cancel_orders``), ``GET /v2/account``, ``GET/PATCH
/v2/account/configurations``. Errors are Alpaca's ``{"code", "message"}``.

Keys: both ``APCA-API-KEY-ID`` and ``APCA-API-SECRET-KEY`` are required (else
401 40110000); the paper host accepts only PK key ids, the live host only AK
(another key is unknown there: 401). Every answer carries ``X-Ratelimit-Limit``,
``-Remaining`` and ``-Reset`` (epoch seconds) for a per-key 60-second window;
past the limit (200 a minute, settable) 429.

Fill model (deterministic): a symbol's price is set through the control API.
A market order fills at once at that price (stays ``new`` while the symbol has
none); a limit order fills when the price reaches its limit, a stop order when
the price crosses its stop, a stop-limit when both hold; trailing stops never
fill. A notional order buys ``notional / price`` shares (9 decimals, rounded
down). Fills move positions (signed quantity, average entry price) and cash;
``equity`` is cash plus positions at the current prices; ``last_equity`` is
settable (it starts at the starting cash). ``suspend_trade`` refuses new orders
with 403; so does ``trading_blocked`` and a buy costing more than the cash.

Control (``/_control/alpaca/<action>``): ``prices`` (POST ``{"prices": {SYMBOL:
"decimal"}}``, GET), ``account`` (POST ``{"environment", "cash", "last_equity",
"trading_blocked"}``), ``rate_limit`` (POST ``{"per_minute": N}``).

Own fault kinds: ``rate_limit`` (429 with the headers, nothing done;
``reset_in`` seconds), ``duplicate_client_order_id`` (the order is created, then
the answer is 422 40010001, as a resend after a lost answer gets),
``partial_cancel`` / ``partial_close`` (the first entry of the 207 fails with
500 and its order / position stays).

Every effect is committed to the store (one document per environment, written
whole, so an order, its fill, the position and the cash change together)
before the answer is returned.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, Final

from autopack.fakes.protocol import FakeRequest, FakeResponse, Fault, json_response
from autopack.fakes.store import FakeStore

NAME: Final = "alpaca"
PREFIX: Final = "/alpaca/"
ENVIRONMENTS: Final = ("paper", "live")
KEY_PREFIXES: Final = {"paper": "PK", "live": "AK"}
STARTING_CASH: Final = Decimal(100000)
DEFAULT_RATE_LIMIT: Final = 200
WINDOW_SECONDS: Final = 60
MAX_CLIENT_ORDER_ID: Final = 128
QTY_QUANTUM: Final = Decimal("0.000000001")

OPEN_STATUSES: Final = frozenset({"new", "accepted", "pending_new", "partially_filled", "held"})
ORDER_TYPES: Final = frozenset({"market", "limit", "stop", "stop_limit", "trailing_stop"})
TIMES_IN_FORCE: Final = frozenset({"day", "gtc", "opg", "cls", "ioc", "fok"})
ORDER_CLASSES: Final = frozenset({"", "simple", "bracket", "oco", "oto"})
CONFIG_DEFAULTS: Final[Mapping[str, Any]] = {
    "no_shorting": False,
    "trade_confirm_email": "all",
    "suspend_trade": False,
    "fractional_trading": True,
    "max_margin_multiplier": "1",
    "ptp_no_exception_entry": False,
    "max_options_trading_level": 0,
}
CONFIG_TYPES: Final[Mapping[str, type | tuple[type, ...]]] = {
    "no_shorting": bool,
    "trade_confirm_email": str,
    "suspend_trade": bool,
    "fractional_trading": bool,
    "max_margin_multiplier": str,
    "ptp_no_exception_entry": bool,
    "max_options_trading_level": int,
}
SYMBOL: Final = re.compile(r"[A-Z0-9][A-Z0-9./]{0,20}")
ID_NAMESPACE: Final = uuid.UUID("5b1f3c9e-4d2a-4f7b-9c41-a1b2c3d4e5f6")

UNAUTHORIZED: Final = {"code": 40110000, "message": "request is not authorized"}
RATE_LIMITED: Final = {"code": 42910000, "message": "rate limit exceeded"}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _fmt(value: Decimal) -> str:
    """A decimal as Alpaca writes it: plain digits, no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _money(value: Decimal) -> str:
    return _fmt(value.quantize(Decimal("0.01")))


def _decimal(value: Any) -> Decimal | None:
    """A positive decimal from a string or a JSON number (Alpaca takes both)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() and number > 0 else None


class AlpacaError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _refuse(message: str, status: int = 422, code: int = 40010001) -> AlpacaError:
    return AlpacaError(status, code, message)


class AlpacaFake:
    """The fake; every request is served under one lock (a read-modify-write of
    one environment's document)."""

    def __init__(self, store: FakeStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        # (environment, key id) -> (window start, requests in it); memory only.
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}

    @property
    def name(self) -> str:
        return NAME

    @property
    def prefixes(self) -> tuple[str, ...]:
        return (PREFIX,)

    # -- documents -------------------------------------------------------------------

    def _book(self, env: str) -> dict[str, Any]:
        book = self._store.get(NAME, "book", env)
        if book is None:
            book = {
                "orders": [],
                "positions": {},
                "cash": _fmt(STARTING_CASH),
                "last_equity": _fmt(STARTING_CASH),
                "trading_blocked": False,
                "config": dict(CONFIG_DEFAULTS),
            }
        return book

    def _save(self, env: str, book: dict[str, Any]) -> None:
        self._store.put(NAME, "book", env, book)

    def _market(self) -> dict[str, Any]:
        return self._store.get(NAME, "market", "market") or {
            "prices": {},
            "rate_limit": DEFAULT_RATE_LIMIT,
        }

    def _prices(self) -> dict[str, Decimal]:
        return {s: Decimal(p) for s, p in self._market()["prices"].items()}

    def effects(self) -> list[dict[str, Any]]:
        """Every order either environment holds, oldest first, with its environment
        and the key id that placed it."""
        orders: list[dict[str, Any]] = []
        for env in ENVIRONMENTS:
            book = self._book(env)
            for order in book["orders"]:
                orders.append({**order["wire"], "environment": env, **order["meta"]})
        orders.sort(key=lambda o: o["seq"])
        return orders

    # -- requests --------------------------------------------------------------------

    def handle(self, request: FakeRequest, fault: Fault | None) -> FakeResponse:
        rest = request.path[len(PREFIX) :]
        env, _, path = rest.partition("/")
        if env not in ENVIRONMENTS or not path.startswith("v2/"):
            return json_response(404, {"code": 40410000, "message": "endpoint not found"})
        key_id = request.headers.get("apca-api-key-id", "")
        secret = request.headers.get("apca-api-secret-key", "")
        if not key_id or not secret or not key_id.startswith(KEY_PREFIXES[env]):
            return json_response(401, UNAUTHORIZED)
        with self._lock:
            if fault is not None and fault.kind == "rate_limit":
                reset_in = int(fault.params.get("reset_in", 1))
                return json_response(429, RATE_LIMITED, self._exhausted(reset_in))
            limits, allowed = self._count(env, key_id)
            if not allowed:
                return json_response(429, RATE_LIMITED, limits)
            try:
                status, data = self._route(env, "/" + path, request, key_id, fault)
            except AlpacaError as exc:
                return json_response(exc.status, {"code": exc.code, "message": exc.message}, limits)
        if status == 204:
            return FakeResponse(204, b"", limits)
        return json_response(status, data, limits)

    def _count(self, env: str, key_id: str) -> tuple[dict[str, str], bool]:
        """Count this request in its key's window: the headers, and whether it is allowed."""
        now = int(self._clock())
        start, count = self._windows.get((env, key_id), (now, 0))
        if now >= start + WINDOW_SECONDS:
            start, count = now, 0
        limit = int(self._market()["rate_limit"])
        count += 1
        self._windows[(env, key_id)] = (start, count)
        headers = {
            "X-Ratelimit-Limit": str(limit),
            "X-Ratelimit-Remaining": str(max(0, limit - count)),
            "X-Ratelimit-Reset": str(start + WINDOW_SECONDS),
        }
        return headers, count <= limit

    def _exhausted(self, reset_in: int) -> dict[str, str]:
        return {
            "X-Ratelimit-Limit": str(self._market()["rate_limit"]),
            "X-Ratelimit-Remaining": "0",
            "X-Ratelimit-Reset": str(int(self._clock()) + max(0, reset_in)),
        }

    def _route(
        self, env: str, path: str, request: FakeRequest, key_id: str, fault: Fault | None
    ) -> tuple[int, Any]:
        method = request.method
        if path == "/v2/orders":
            if method == "POST":
                return self._submit(env, request, key_id, fault)
            if method == "GET":
                return 200, self._list_orders(env, request)
            if method == "DELETE":
                return 207, self._cancel_all(env, fault)
        elif path == "/v2/orders:by_client_order_id" and method == "GET":
            coid = request.param("client_order_id")
            if not coid:
                raise _refuse("client_order_id is required")
            found = [o for o in self._book(env)["orders"] if o["wire"]["client_order_id"] == coid]
            if not found:
                raise _refuse("order not found", 404, 40410000)
            return 200, found[0]["wire"]
        elif path.startswith("/v2/orders/"):
            order_id = path.rsplit("/", 1)[1]
            if method == "GET":
                return 200, self._order(self._book(env), order_id)["wire"]
            if method == "DELETE":
                self._cancel_one(env, order_id)
                return 204, None
        elif path == "/v2/positions":
            if method == "GET":
                return 200, self._positions(env)
            if method == "DELETE":
                cancel = (request.param("cancel_orders") or "false").lower() == "true"
                return 207, self._close_all(env, cancel, key_id, fault)
        elif path.startswith("/v2/positions/") and method == "GET":
            symbol = path.rsplit("/", 1)[1]
            for position in self._positions(env):
                if position["symbol"] == symbol:
                    return 200, position
            raise _refuse("position does not exist", 404, 40410000)
        elif path == "/v2/account" and method == "GET":
            return 200, self._account(env)
        elif path == "/v2/account/configurations":
            if method == "GET":
                return 200, self._book(env)["config"]
            if method == "PATCH":
                return 200, self._configure(env, request)
        else:
            raise _refuse("endpoint not found", 404, 40410000)
        raise _refuse("method not allowed", 405, 40510000)

    # -- orders ----------------------------------------------------------------------

    def _order(self, book: dict[str, Any], order_id: str) -> dict[str, Any]:
        for order in book["orders"]:
            if order["wire"]["id"] == order_id:
                found: dict[str, Any] = order
                return found
        raise _refuse(f"order not found for {order_id}", 404, 40410000)

    def _list_orders(self, env: str, request: FakeRequest) -> list[dict[str, Any]]:
        status = request.param("status") or "open"
        try:
            limit = min(500, max(1, int(request.param("limit") or 50)))
        except ValueError:
            raise _refuse("invalid limit") from None
        symbols = {s for s in (request.param("symbols") or "").split(",") if s}
        chosen = []
        for order in reversed(self._book(env)["orders"]):  # newest first, like Alpaca
            wire = order["wire"]
            is_open = wire["status"] in OPEN_STATUSES
            if (status == "open" and not is_open) or (status == "closed" and is_open):
                continue
            if symbols and wire["symbol"] not in symbols:
                continue
            chosen.append(wire)
        return chosen[:limit]

    def _submit(
        self, env: str, request: FakeRequest, key_id: str, fault: Fault | None
    ) -> tuple[int, Any]:
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _refuse("request body format is invalid", 400, 40010000)
        book = self._book(env)
        wire = self._validate(body)
        coid = wire["client_order_id"]
        if any(o["wire"]["client_order_id"] == coid for o in book["orders"]):
            raise _refuse("client_order_id must be unique")
        if book["config"]["suspend_trade"]:
            raise _refuse("new orders are rejected by user request", 403, 40310000)
        if book["trading_blocked"]:
            raise _refuse("account is not authorized to trade", 403, 40310000)
        prices = self._prices()
        self._check_buying_power(book, wire, prices.get(wire["symbol"]))
        self._check_shorting(book, wire)
        seq = self._store.next_value("alpaca-order")
        order_id = str(uuid.uuid5(ID_NAMESPACE, f"order-{env}-{seq}"))
        if not coid:
            coid = wire["client_order_id"] = str(uuid.uuid5(ID_NAMESPACE, f"coid-{order_id}"))
        now = _now()
        wire.update(
            id=order_id,
            created_at=now,
            updated_at=now,
            submitted_at=now,
            asset_id=str(uuid.uuid5(ID_NAMESPACE, f"asset-{wire['symbol']}")),
            status="accepted",
        )
        order = {"wire": wire, "meta": {"seq": seq, "key_id": key_id}}
        book["orders"].append(order)
        self._match(book, prices, [order])
        if wire["time_in_force"] in ("ioc", "fok") and wire["status"] in OPEN_STATUSES:
            wire.update(status="canceled", canceled_at=now, updated_at=now)
        self._save(env, book)
        if fault is not None and fault.kind == "duplicate_client_order_id":
            raise _refuse("client_order_id must be unique")
        return 200, wire

    def _validate(self, body: dict[str, Any]) -> dict[str, Any]:
        symbol = body.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            raise _refuse("symbol is required")
        if not SYMBOL.fullmatch(symbol):
            raise _refuse(f"invalid symbol: {symbol[:30]}")
        side, order_type, tif = body.get("side"), body.get("type"), body.get("time_in_force")
        if side not in ("buy", "sell"):
            raise _refuse("invalid side")
        if order_type not in ORDER_TYPES:
            raise _refuse("invalid order type")
        if tif not in TIMES_IN_FORCE:
            raise _refuse("invalid time_in_force")
        if body.get("qty") is not None and body.get("notional") is not None:
            raise _refuse("qty and notional are mutually exclusive", 400, 40010000)
        qty, notional = _decimal(body.get("qty")), _decimal(body.get("notional"))
        if body.get("qty") is not None and qty is None:
            raise _refuse("qty must be > 0")
        if body.get("notional") is not None and notional is None:
            raise _refuse("notional must be > 0")
        if qty is None and notional is None:
            raise _refuse("qty or notional is required")
        if notional is not None and tif != "day":
            raise _refuse("notional orders only support day time_in_force")
        if notional is not None and side == "buy" and notional < 1:
            raise _refuse("cost basis must be >= 1", 422, 40310000)
        prices = {}
        for name in ("limit_price", "stop_price", "trail_price", "trail_percent"):
            if body.get(name) is not None:
                value = _decimal(body[name])
                if value is None:
                    raise _refuse(f"{name} must be > 0")
                prices[name] = value
        needs = {
            "limit": ("limit_price",),
            "stop": ("stop_price",),
            "stop_limit": ("limit_price", "stop_price"),
        }.get(order_type, ())
        for name in needs:
            if name not in prices:
                raise _refuse(f"{name} is required for {order_type} orders")
        if order_type == "trailing_stop" and not {"trail_price", "trail_percent"} & set(prices):
            raise _refuse("trail_price or trail_percent is required")
        if order_type == "market" and prices:
            raise _refuse(f"{sorted(prices)[0]} is not allowed for market orders")
        coid = body.get("client_order_id")
        if coid is not None and (not isinstance(coid, str) or len(coid) > MAX_CLIENT_ORDER_ID):
            raise _refuse(f"client_order_id must be no more than {MAX_CLIENT_ORDER_ID} characters")
        order_class = body.get("order_class", "")
        if order_class not in ORDER_CLASSES:
            raise _refuse("invalid order_class")
        if order_class == "bracket" and not (body.get("take_profit") and body.get("stop_loss")):
            raise _refuse("bracket orders require take_profit and stop_loss")
        return {
            "client_order_id": coid or "",
            "filled_at": None,
            "expired_at": None,
            "canceled_at": None,
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "symbol": symbol,
            "asset_class": "crypto" if "/" in symbol else "us_equity",
            "notional": None if notional is None else _fmt(notional),
            "qty": None if qty is None else _fmt(qty),
            "filled_qty": "0",
            "filled_avg_price": None,
            "order_class": order_class or "simple",
            "order_type": order_type,
            "type": order_type,
            "side": side,
            "time_in_force": tif,
            "limit_price": _opt(prices.get("limit_price")),
            "stop_price": _opt(prices.get("stop_price")),
            "status": "pending_new",
            "extended_hours": body.get("extended_hours") is True,
            "legs": None,
            "trail_percent": _opt(prices.get("trail_percent")),
            "trail_price": _opt(prices.get("trail_price")),
            "hwm": None,
        }

    def _check_buying_power(
        self, book: dict[str, Any], wire: dict[str, Any], price: Decimal | None
    ) -> None:
        if wire["side"] != "buy":
            return
        unit = Decimal(wire["limit_price"]) if wire["limit_price"] else price
        if wire["notional"] is not None:
            cost = Decimal(wire["notional"])
        elif unit is not None:
            cost = Decimal(wire["qty"]) * unit
        else:
            return  # no price known yet: Alpaca would hold it; nothing to compare
        if cost > Decimal(book["cash"]):
            raise _refuse("insufficient buying power", 403, 40310000)

    def _check_shorting(self, book: dict[str, Any], wire: dict[str, Any]) -> None:
        if wire["side"] != "sell" or not book["config"]["no_shorting"] or wire["qty"] is None:
            return
        held = Decimal(book["positions"].get(wire["symbol"], {}).get("qty", "0"))
        if Decimal(wire["qty"]) > held:
            raise _refuse("account is not allowed to short", 403, 40310000)

    def _cancel_one(self, env: str, order_id: str) -> None:
        book = self._book(env)
        order = self._order(book, order_id)
        wire = order["wire"]
        if wire["status"] not in OPEN_STATUSES:
            raise _refuse(f'order is already in "{wire["status"]}" state', 422, 42210000)
        now = _now()
        wire.update(status="canceled", canceled_at=now, updated_at=now)
        self._save(env, book)

    def _cancel_all(self, env: str, fault: Fault | None) -> list[dict[str, Any]]:
        book = self._book(env)
        entries = self._cancel_open(
            book, failing=fault is not None and fault.kind == "partial_cancel"
        )
        self._save(env, book)
        return entries

    def _cancel_open(self, book: dict[str, Any], *, failing: bool) -> list[dict[str, Any]]:
        entries = []
        now = _now()
        for order in book["orders"]:
            wire = order["wire"]
            if wire["status"] not in OPEN_STATUSES:
                continue
            if failing:
                failing = False
                entries.append(
                    {
                        "id": wire["id"],
                        "status": 500,
                        "body": {"code": 50010000, "message": "internal server error"},
                    }
                )
                continue
            wire.update(status="canceled", canceled_at=now, updated_at=now)
            entries.append({"id": wire["id"], "status": 200, "body": wire})
        return entries

    # -- positions, fills and the account -------------------------------------------

    def _close_all(
        self, env: str, cancel: bool, key_id: str, fault: Fault | None
    ) -> list[dict[str, Any]]:
        book = self._book(env)
        if cancel:
            self._cancel_open(book, failing=False)
        prices = self._prices()
        failing = fault is not None and fault.kind == "partial_close"
        entries = []
        closing = []
        for symbol, position in sorted(book["positions"].items()):
            if failing:
                failing = False
                entries.append(
                    {
                        "symbol": symbol,
                        "status": 500,
                        "body": {"code": 50010000, "message": "internal server error"},
                    }
                )
                continue
            qty = Decimal(position["qty"])
            seq = self._store.next_value("alpaca-order")
            order_id = str(uuid.uuid5(ID_NAMESPACE, f"order-{env}-{seq}"))
            now = _now()
            wire = self._validate(
                {
                    "symbol": symbol,
                    "side": "sell" if qty > 0 else "buy",
                    "type": "market",
                    "time_in_force": "day",
                    "qty": _fmt(abs(qty)),
                    "client_order_id": str(uuid.uuid5(ID_NAMESPACE, f"coid-{order_id}")),
                }
            )
            wire.update(
                id=order_id,
                created_at=now,
                updated_at=now,
                submitted_at=now,
                asset_id=str(uuid.uuid5(ID_NAMESPACE, f"asset-{symbol}")),
                status="accepted",
            )
            order = {"wire": wire, "meta": {"seq": seq, "key_id": key_id}}
            book["orders"].append(order)
            closing.append(order)
            entries.append({"symbol": symbol, "status": 200, "body": wire})
        self._match(book, prices, closing)
        self._save(env, book)
        return entries

    def _match(
        self, book: dict[str, Any], prices: Mapping[str, Decimal], orders: list[dict[str, Any]]
    ) -> None:
        """Fill each open order of ``orders`` its symbol's price reaches (see the module doc)."""
        for order in orders:
            wire = order["wire"]
            price = prices.get(wire["symbol"])
            if wire["status"] not in OPEN_STATUSES or price is None:
                continue
            if not _crosses(wire, price):
                continue
            qty = (
                Decimal(wire["qty"])
                if wire["qty"] is not None
                else (Decimal(wire["notional"]) / price).quantize(QTY_QUANTUM, ROUND_DOWN)
            )
            now = _now()
            wire.update(
                status="filled",
                filled_qty=_fmt(qty),
                filled_avg_price=_fmt(price),
                filled_at=now,
                updated_at=now,
            )
            _apply_fill(book, wire["symbol"], qty if wire["side"] == "buy" else -qty, price)

    def _positions(self, env: str) -> list[dict[str, Any]]:
        book = self._book(env)
        prices = self._prices()
        return [
            _position_wire(symbol, held, prices.get(symbol))
            for symbol, held in sorted(book["positions"].items())
        ]

    def _account(self, env: str) -> dict[str, Any]:
        book = self._book(env)
        prices = self._prices()
        cash = Decimal(book["cash"])
        long_value = short_value = Decimal(0)
        for symbol, held in book["positions"].items():
            value = Decimal(held["qty"]) * prices.get(symbol, Decimal(held["avg_entry_price"]))
            if value >= 0:
                long_value += value
            else:
                short_value += value
        equity = cash + long_value + short_value
        suspended = book["config"]["suspend_trade"]
        return {
            "id": str(uuid.uuid5(ID_NAMESPACE, f"account-{env}")),
            "account_number": ("PA" if env == "paper" else "AA") + "3FAKE0001",
            "status": "ACTIVE",
            "crypto_status": "ACTIVE",
            "currency": "USD",
            "cash": _money(cash),
            "portfolio_value": _money(equity),
            "equity": _money(equity),
            "last_equity": _money(Decimal(book["last_equity"])),
            "long_market_value": _money(long_value),
            "short_market_value": _money(short_value),
            "buying_power": _money(max(cash, Decimal(0))),
            "non_marginable_buying_power": _money(max(cash, Decimal(0))),
            "regt_buying_power": _money(max(cash, Decimal(0))),
            "initial_margin": "0",
            "maintenance_margin": "0",
            "multiplier": "1",
            "sma": "0",
            "pattern_day_trader": False,
            "trading_blocked": bool(book["trading_blocked"]),
            "transfers_blocked": False,
            "account_blocked": False,
            "trade_suspended_by_user": bool(suspended),
            "shorting_enabled": not book["config"]["no_shorting"],
            "created_at": "2026-01-02T14:30:00Z",
        }

    def _configure(self, env: str, request: FakeRequest) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _refuse("request body format is invalid", 400, 40010000)
        book = self._book(env)
        for name, value in body.items():
            kind = CONFIG_TYPES.get(name)
            if kind is None:
                raise _refuse(f"unknown configuration field {name[:40]}")
            if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
                raise _refuse(f"invalid value for {name}")
        # A partial PATCH: only the fields sent change.
        book["config"].update(body)
        self._save(env, book)
        return dict(book["config"])

    # -- control ---------------------------------------------------------------------

    def control(self, request: FakeRequest, action: str) -> FakeResponse:
        with self._lock:
            try:
                return self._control(request, action)
            except (ValueError, KeyError, TypeError, InvalidOperation) as exc:
                return json_response(400, {"error": {"message": f"bad control body: {exc}"}})

    def _control(self, request: FakeRequest, action: str) -> FakeResponse:
        market = self._market()
        if action == "prices" and request.method == "GET":
            return json_response(200, {"prices": market["prices"]})
        body = json.loads(request.read_body() or b"{}")
        if not isinstance(body, dict) or request.method != "POST":
            raise ValueError("POST a JSON object")
        if action == "prices":
            prices = body["prices"]
            for symbol, price in prices.items():
                if not SYMBOL.fullmatch(symbol) or _decimal(price) is None:
                    raise ValueError(f"price of {symbol[:30]}")
                market["prices"][symbol] = _fmt(Decimal(str(price)))
            self._store.put(NAME, "market", "market", market)
            decimals = {s: Decimal(p) for s, p in market["prices"].items()}
            for env in ENVIRONMENTS:
                book = self._book(env)
                self._match(book, decimals, book["orders"])
                self._save(env, book)
            return json_response(200, {"prices": market["prices"]})
        if action == "account":
            env = body["environment"]
            if env not in ENVIRONMENTS:
                raise ValueError("environment must be paper or live")
            book = self._book(env)
            for name in ("cash", "last_equity"):
                if name in body:
                    book[name] = _fmt(Decimal(str(body[name])))
            if "trading_blocked" in body:
                book["trading_blocked"] = body["trading_blocked"] is True
            self._save(env, book)
            return json_response(200, self._account(env))
        if action == "rate_limit":
            per_minute = body["per_minute"]
            if isinstance(per_minute, bool) or not isinstance(per_minute, int) or per_minute < 1:
                raise ValueError("per_minute must be a positive integer")
            market["rate_limit"] = per_minute
            self._store.put(NAME, "market", "market", market)
            self._windows.clear()
            return json_response(200, {"per_minute": per_minute})
        return json_response(404, {"error": {"message": f"no alpaca control {action[:40]}"}})


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else _fmt(value)


def _crosses(wire: Mapping[str, Any], price: Decimal) -> bool:
    buy = wire["side"] == "buy"
    kind = wire["type"]
    if kind == "market":
        return True
    if kind == "trailing_stop":
        return False
    limit_ok = True
    stop_ok = True
    if wire["limit_price"] is not None:
        limit = Decimal(wire["limit_price"])
        limit_ok = price <= limit if buy else price >= limit
    if wire["stop_price"] is not None:
        stop = Decimal(wire["stop_price"])
        stop_ok = price >= stop if buy else price <= stop
    return limit_ok and stop_ok


def _apply_fill(book: dict[str, Any], symbol: str, signed_qty: Decimal, price: Decimal) -> None:
    """Move the position (signed quantity, average entry) and the cash by one fill."""
    book["cash"] = _fmt(Decimal(book["cash"]) - signed_qty * price)
    held = book["positions"].get(symbol)
    qty = Decimal(held["qty"]) if held else Decimal(0)
    avg = Decimal(held["avg_entry_price"]) if held else price
    new_qty = qty + signed_qty
    if new_qty == 0:
        book["positions"].pop(symbol, None)
        return
    if qty == 0 or (qty > 0) != (new_qty > 0):
        avg = price  # opened, or flipped from long to short (or back)
    elif (qty > 0) == (signed_qty > 0):
        avg = (qty * avg + signed_qty * price) / new_qty  # added to the same side
    book["positions"][symbol] = {"qty": _fmt(new_qty), "avg_entry_price": _fmt(avg)}


def _position_wire(symbol: str, held: Mapping[str, str], price: Decimal | None) -> dict[str, Any]:
    qty = Decimal(held["qty"])
    avg = Decimal(held["avg_entry_price"])
    current = price if price is not None else avg
    cost = qty * avg
    value = qty * current
    return {
        "asset_id": str(uuid.uuid5(ID_NAMESPACE, f"asset-{symbol}")),
        "symbol": symbol,
        "exchange": "CRYPTO" if "/" in symbol else "NASDAQ",
        "asset_class": "crypto" if "/" in symbol else "us_equity",
        "asset_marginable": False,
        "qty": _fmt(qty),
        "qty_available": _fmt(qty),
        "avg_entry_price": _fmt(avg),
        "side": "long" if qty > 0 else "short",
        "market_value": _money(value),
        "cost_basis": _money(cost),
        "unrealized_pl": _money(value - cost),
        "unrealized_plpc": _fmt((value - cost) / abs(cost)) if cost else "0",
        "unrealized_intraday_pl": _money(value - cost),
        "unrealized_intraday_plpc": _fmt((value - cost) / abs(cost)) if cost else "0",
        "current_price": _fmt(current),
        "lastday_price": _fmt(current),
        "change_today": "0",
    }


def build(store: FakeStore) -> AlpacaFake:
    return AlpacaFake(store)
