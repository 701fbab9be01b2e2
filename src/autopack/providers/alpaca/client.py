"""A small read client for the Alpaca Trading API: account, configuration,
orders and positions, typed with ``Decimal`` money.

The adapter's lookups use it, and so does the trading layer (exposure, daily
loss as ``equity - last_equity``, open orders). Reads are safe to repeat; a
failure raises :class:`AlpacaReadError` saying whether asking again later may
help (``retryable``: rate limit, 5xx, no connection) or not (auth, bad request).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import httpx

from autopack.providers._http import describe, response_json, retry_after_seconds
from autopack.providers.alpaca.wire import (
    ACCOUNT_PATH,
    BY_CLIENT_ORDER_ID_PATH,
    CONFIGURATIONS_PATH,
    KEY_ID_HEADER,
    OPEN_STATUSES,
    ORDERS_PATH,
    POSITIONS_PATH,
    SECRET_KEY_HEADER,
)

# Alpaca's largest page of orders.
MAX_ORDERS_PAGE: Final = 500
RATE_LIMIT_HEADER: Final = "X-Ratelimit-Limit"
RATE_REMAINING_HEADER: Final = "X-Ratelimit-Remaining"
RATE_RESET_HEADER: Final = "X-Ratelimit-Reset"


def alpaca_error(response: httpx.Response) -> tuple[int | None, str]:
    """Alpaca's own ``{"code": ..., "message": ...}`` of an error answer."""
    data = response_json(response)
    code = data.get("code") if isinstance(data, dict) else None
    message = data.get("message") if isinstance(data, dict) else None
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        message if isinstance(message, str) else "",
    )


def error_text(response: httpx.Response) -> str:
    code, message = alpaca_error(response)
    text = f"HTTP {response.status_code}"
    if code is not None:
        text += f" code {code}"
    return f"{text}: {message[:300]}" if message else text


def rate_limit_retry_after(response: httpx.Response, now: datetime) -> float | None:
    """Seconds until the window in ``X-Ratelimit-Reset`` (epoch seconds) opens,
    else ``Retry-After``; None when neither says."""
    reset = response.headers.get(RATE_RESET_HEADER)
    if reset is not None:
        try:
            at = Decimal(reset.strip())
        except InvalidOperation:
            at = Decimal("NaN")
        if at.is_finite():
            return max(0.0, float(at) - now.timestamp())
    return retry_after_seconds(response)


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _required_decimal(data: Mapping[str, Any], name: str) -> Decimal:
    number = _decimal(data.get(name))
    if number is None:
        raise AlpacaReadError(f"the answer's {name} is not a decimal", retryable=True)
    return number


class AlpacaReadError(Exception):
    """A read that did not answer with what was asked."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        code: int | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # True: asking again later may succeed (429, 5xx, transport). False: it will not.
        self.retryable = retryable
        self.status_code = status_code
        self.code = code
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True, slots=True)
class AlpacaOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    status: str
    qty: Decimal | None
    notional: Decimal | None
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @classmethod
    def parse(cls, data: Any) -> AlpacaOrder:
        if not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) and data.get(k) for k in ("id", "symbol", "side", "status")
        ):
            raise AlpacaReadError("the answer is not an order", retryable=True)
        return cls(
            id=data["id"],
            client_order_id=str(data.get("client_order_id") or ""),
            symbol=data["symbol"],
            side=data["side"],
            type=str(data.get("type") or data.get("order_type") or ""),
            status=data["status"],
            qty=_decimal(data.get("qty")),
            notional=_decimal(data.get("notional")),
            filled_qty=_decimal(data.get("filled_qty")) or Decimal(0),
            filled_avg_price=_decimal(data.get("filled_avg_price")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class AlpacaPosition:
    symbol: str
    # Signed: negative for a short position.
    qty: Decimal
    side: str
    market_value: Decimal | None
    avg_entry_price: Decimal | None
    raw: Mapping[str, Any] = field(repr=False)

    @classmethod
    def parse(cls, data: Any) -> AlpacaPosition:
        if not isinstance(data, dict) or not isinstance(data.get("symbol"), str):
            raise AlpacaReadError("the answer is not a position", retryable=True)
        qty = _required_decimal(data, "qty")
        side = str(data.get("side") or ("short" if qty < 0 else "long"))
        if side == "short" and qty > 0:
            qty = -qty
        return cls(
            symbol=data["symbol"],
            qty=qty,
            side=side,
            market_value=_decimal(data.get("market_value")),
            avg_entry_price=_decimal(data.get("avg_entry_price")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class AlpacaAccount:
    id: str
    status: str
    currency: str
    cash: Decimal
    equity: Decimal
    # Equity as of the previous trading day at 16:00 ET.
    last_equity: Decimal
    buying_power: Decimal | None
    trading_blocked: bool
    account_blocked: bool
    trade_suspended_by_user: bool
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def daily_change(self) -> Decimal:
        """Today's profit (positive) or loss (negative): equity - last_equity."""
        return self.equity - self.last_equity

    @classmethod
    def parse(cls, data: Any) -> AlpacaAccount:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise AlpacaReadError("the answer is not an account", retryable=True)
        return cls(
            id=data["id"],
            status=str(data.get("status") or ""),
            currency=str(data.get("currency") or ""),
            cash=_required_decimal(data, "cash"),
            equity=_required_decimal(data, "equity"),
            last_equity=_required_decimal(data, "last_equity"),
            buying_power=_decimal(data.get("buying_power")),
            trading_blocked=data.get("trading_blocked") is True,
            account_blocked=data.get("account_blocked") is True,
            trade_suspended_by_user=data.get("trade_suspended_by_user") is True,
            raw=data,
        )


class AlpacaClient:
    """Reads of one account on one host. Shares the adapter's ``httpx.Client``."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        *,
        key_id: str,
        secret_key: str,
        environment: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self.environment = environment
        self._headers = {
            "Accept": "application/json",
            KEY_ID_HEADER: key_id,
            SECRET_KEY_HEADER: secret_key,
        }
        self._clock = clock

    def auth_headers(self) -> dict[str, str]:
        return {
            KEY_ID_HEADER: self._headers[KEY_ID_HEADER],
            SECRET_KEY_HEADER: self._headers[SECRET_KEY_HEADER],
        }

    def _get(
        self, path: str, params: Mapping[str, str] | None = None, *, missing_ok: bool = False
    ) -> Any:
        try:
            response = self._http.get(
                f"{self.base_url}{path}", params=dict(params or {}), headers=self._headers
            )
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise AlpacaReadError(describe(exc, "not answered"), retryable=True) from None
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code != 200:
            code, _ = alpaca_error(response)
            status = response.status_code
            raise AlpacaReadError(
                f"GET {path}: {error_text(response)}",
                retryable=status == 429 or status >= 500,
                status_code=status,
                code=code,
                retry_after_seconds=rate_limit_retry_after(response, self._clock())
                if status == 429
                else None,
            )
        data = response_json(response)
        if data is None:
            raise AlpacaReadError(f"GET {path}: the answer is not JSON", retryable=True)
        return data

    def get_account(self) -> AlpacaAccount:
        return AlpacaAccount.parse(self._get(ACCOUNT_PATH))

    def get_configurations(self) -> dict[str, Any]:
        data = self._get(CONFIGURATIONS_PATH)
        if not isinstance(data, dict):
            raise AlpacaReadError("the answer is not a configuration", retryable=True)
        return data

    def list_open_orders(self) -> list[AlpacaOrder]:
        data = self._get(ORDERS_PATH, {"status": "open", "limit": str(MAX_ORDERS_PAGE)})
        if not isinstance(data, list):
            raise AlpacaReadError("the answer is not a list of orders", retryable=True)
        return [AlpacaOrder.parse(o) for o in data]

    def list_positions(self) -> list[AlpacaPosition]:
        data = self._get(POSITIONS_PATH)
        if not isinstance(data, list):
            raise AlpacaReadError("the answer is not a list of positions", retryable=True)
        return [AlpacaPosition.parse(p) for p in data]

    def get_order(self, order_id: str) -> AlpacaOrder | None:
        """The order, or None when Alpaca has no order with this id (404)."""
        data = self._get(f"{ORDERS_PATH}/{order_id}", missing_ok=True)
        return None if data is None else AlpacaOrder.parse(data)

    def get_order_by_client_order_id(self, client_order_id: str) -> AlpacaOrder | None:
        """The order placed with this client_order_id, or None (404)."""
        data = self._get(
            BY_CLIENT_ORDER_ID_PATH, {"client_order_id": client_order_id}, missing_ok=True
        )
        return None if data is None else AlpacaOrder.parse(data)
