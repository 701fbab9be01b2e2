"""The Alpaca Trading API adapter: orders, cancels, flattening and the account kill switch.

Requests (see ``wire`` for the payloads)::

    order.submit             POST   /v2/orders                      (client_order_id)
    order.cancel             DELETE /v2/orders/{order_id}           -> 204
    orders.cancel_all        DELETE /v2/orders                      -> 207 per order
    positions.close_all      DELETE /v2/positions?cancel_orders=..  -> 207 per position
    account.suspend_trading  PATCH  /v2/account/configurations      {"suspend_trade": ...}

Host: the payload's ``environment`` picks the paper or the live base URL
(settings ``alpaca_paper_url`` / ``alpaca_live_url``, the real hosts by
default). At dispatch the account's stored key pair must belong to that same
environment: the stored host's environment and the key id's prefix (PK paper,
AK live) must both agree with the payload, else PERMANENT with nothing sent
(a key id with neither prefix is judged by its stored environment alone).
Nothing is checkpointed before the POST: the client_order_id is a function of
the stored intent, so it is durable before the claim.

Outcomes, beyond the shared HTTP rules (429 NO_EFFECT with the wait from
``X-Ratelimit-Reset``; other 4xx PERMANENT with Alpaca's code kept):

- ``order.submit`` is never resent blindly. A 422 with code 40010001 is looked
  up by ``client_order_id``: an order found is adopted (SUCCEEDED with its id);
  none found means the 422 was a validation refusal (PERMANENT). A 5xx, a 2xx
  without an id or a lost answer is looked up at once as well: found ->
  SUCCEEDED, else MAYBE_EFFECT (the reconciler asks again after the settle
  window; a resend then carries the same client_order_id, which Alpaca refuses
  to reuse, so it cannot make a second order).
- ``order.cancel``: 204 SUCCEEDED. 422 (not cancelable): the order is read; if
  it is already ``canceled``/``pending_cancel`` the cancel took effect (an
  earlier attempt whose answer was lost) -> SUCCEEDED; if it filled, expired or
  was rejected -> PERMANENT with the code and the order's status (a filled
  order is exposure, never reported as canceled). 404 PERMANENT.
- ``orders.cancel_all`` / ``positions.close_all``: SUCCEEDED only when every
  entry of the 207 is 200; otherwise MAYBE_EFFECT with every entry's status in
  the summary, so the reconciler checks the account (no open orders / every
  position has its closing order) and, if not, sends the idempotent DELETE
  once more.
- ``account.suspend_trading``: 200 whose ``suspend_trade`` is the value asked
  for -> SUCCEEDED.

Lookups: ``order.submit`` GET ``/v2/orders:by_client_order_id`` (404 NOT_FOUND);
``order.cancel`` GET the order (canceled -> FOUND); ``orders.cancel_all`` no
open orders -> FOUND; ``positions.close_all`` every position has an open
closing order (or none is left) -> FOUND; ``account.suspend_trading`` GET the
configuration (the value asked for -> FOUND). Could not ask -> UNAVAILABLE.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self

import httpx

from autopack.domain.canonical import JsonValue, canonical_json
from autopack.domain.errors import AutopackError, UnavailableError
from autopack.domain.providers import (
    BodyEncoding,
    DispatchProgress,
    DispatchResult,
    Intent,
    LookupResult,
    LookupStatus,
    Outcome,
    RenderedRequest,
)
from autopack.providers._http import provider_client, response_json, response_summary, send
from autopack.providers._payload import refuse
from autopack.providers.alpaca.client import (
    AlpacaClient,
    AlpacaOrder,
    AlpacaReadError,
    alpaca_error,
    error_text,
    rate_limit_retry_after,
)
from autopack.providers.alpaca.wire import (
    ACTIONS,
    CANCELED_STATUSES,
    DUPLICATE_CLIENT_ORDER_ID_CODE,
    HOSTS,
    KEY_ID_HEADER,
    KEY_PREFIXES,
    LIVE,
    MASKED_KEY_ID,
    MASKED_SECRET_KEY,
    PAPER,
    PROVIDER_NAME,
    SECRET_KEY_HEADER,
    WireRequest,
    key_environment,
    wire_request,
)
from autopack.providers.unit import CredentialAccessor

DEFAULT_TIMEOUT_SECONDS: Final = 10.0
DEFAULT_CONNECT_TIMEOUT_SECONDS: Final = 3.0
HOST_ENVIRONMENTS: Final = {host: env for env, host in HOSTS.items()}


class AlpacaAdapter:
    """ProviderAdapter for Alpaca. Holds one ``httpx.Client``: ``close()`` it."""

    def __init__(
        self,
        *,
        paper_url: str,
        live_url: str,
        credentials: CredentialAccessor,
        clock: Callable[[], datetime],
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._base_urls = {PAPER: paper_url.rstrip("/"), LIVE: live_url.rstrip("/")}
        self._credentials = credentials
        self._clock = clock
        self._timeout = timeout
        self._http = provider_client(transport, timeout, DEFAULT_CONNECT_TIMEOUT_SECONDS)

    # --- ProviderAdapter --------------------------------------------------------

    @property
    def name(self) -> str:
        return PROVIDER_NAME

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(ACTIONS)

    @property
    def request_timeout_seconds(self) -> float:
        return self._timeout

    def base_url(self, environment: str) -> str:
        return self._base_urls[environment]

    def render(self, intent: Intent) -> RenderedRequest:
        wire = self._wire(intent)
        headers = {
            "Accept": "application/json",
            KEY_ID_HEADER: MASKED_KEY_ID,
            SECRET_KEY_HEADER: MASKED_SECRET_KEY,
        }
        if wire.encoding is BodyEncoding.JSON:
            headers["Content-Type"] = "application/json"
        return RenderedRequest(
            method=wire.method,
            url=self.base_url(wire.environment) + wire.path,
            headers=headers,
            body=wire.body,
            provider_idempotency_key=wire.client_order_id,
            encoding=wire.encoding,
        )

    def dispatch(
        self, intent: Intent, request: RenderedRequest, progress: DispatchProgress
    ) -> DispatchResult:
        wire = self._wire(intent)
        expected = self.render(intent)
        if request.request_hash != expected.request_hash:
            return DispatchResult(
                Outcome.PERMANENT, error="the request was not rendered for this intent; not sent"
            )
        client = self._client_for(intent.account, wire.environment)
        if isinstance(client, DispatchResult):
            return client
        headers = {**request.headers, **client.auth_headers()}
        content = canonical_json(request.body) if wire.encoding is BodyEncoding.JSON else b""
        answer = send(self._http, request.method, request.url, content=content, headers=headers)
        if intent.action == "order.submit":
            return self._submitted(client, wire, answer)
        if isinstance(answer, DispatchResult):
            return answer
        if intent.action == "order.cancel":
            return self._canceled(client, wire, answer)
        if intent.action in ("orders.cancel_all", "positions.close_all"):
            return self._multi_status(answer)
        return self._configured(wire, answer)

    def lookup(self, intent: Intent, state: Mapping[str, JsonValue]) -> LookupResult:
        wire = self._wire(intent)
        client = self._client_for(intent.account, wire.environment)
        if isinstance(client, DispatchResult):
            # The account's key is of another environment (or unreadable): asking the
            # other host could not answer for this action, so a person decides.
            status = (
                LookupStatus.UNAVAILABLE
                if client.outcome is Outcome.NO_EFFECT
                else LookupStatus.UNSUPPORTED
            )
            return LookupResult(status, error=client.error)
        try:
            return self._look(intent.action, client, wire)
        except AlpacaReadError as exc:
            return LookupResult(
                LookupStatus.UNAVAILABLE,
                summary={"status_code": exc.status_code, "code": exc.code},
                error=exc.message,
            )

    # --- for the trading layer ----------------------------------------------------

    def reader(self, account: str) -> AlpacaClient:
        """A read client for ``account`` on the host of its stored credential's
        environment (refuses a key of the other environment, like dispatch)."""
        credential = self._credentials.api_key(account)
        environment = HOST_ENVIRONMENTS.get(credential.host)
        if environment is None:
            raise AlpacaReadError(
                f"the stored credential's host {credential.host!r} is not an Alpaca host",
                retryable=False,
            )
        client = self._client_for(account, environment)
        if isinstance(client, DispatchResult):
            raise AlpacaReadError(client.error or "credential refused", retryable=False)
        return client

    # --- lifecycle ----------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- credentials and hosts ----------------------------------------------------

    def _wire(self, intent: Intent) -> WireRequest:
        if intent.provider != PROVIDER_NAME:
            raise refuse(PROVIDER_NAME, intent.action, "provider", "must be alpaca")
        return wire_request(intent)

    def _client_for(self, account: str, environment: str) -> AlpacaClient | DispatchResult:
        """A client for ``account``'s key pair on ``environment``'s host, or the
        outcome that refuses it (nothing is sent either way)."""
        try:
            credential = self._credentials.api_key(account)
        except UnavailableError as exc:
            return DispatchResult(Outcome.NO_EFFECT, error=f"credential unavailable: {exc}")
        except AutopackError as exc:
            return DispatchResult(Outcome.PERMANENT, error=f"credential refused: {exc}; not sent")
        stored = HOST_ENVIRONMENTS.get(credential.host)
        issued_for = key_environment(credential.key_id, KEY_PREFIXES)
        if stored is None:
            return DispatchResult(
                Outcome.PERMANENT,
                error=f"account {account}: the stored host is not an Alpaca host; not sent",
            )
        if issued_for is not None and issued_for != stored:
            return DispatchResult(
                Outcome.PERMANENT,
                summary={"key_environment": issued_for, "host_environment": stored},
                error=f"account {account}: a {issued_for} key is stored for the {stored} host "
                f"({credential.host}); refused, not sent",
            )
        if stored != environment:
            return DispatchResult(
                Outcome.PERMANENT,
                summary={"key_environment": stored, "request_environment": environment},
                error=f"account {account} holds a {stored} key, but the request is for the "
                f"{environment} host; refused, not sent",
            )
        return AlpacaClient(
            self._http,
            self.base_url(environment),
            key_id=credential.key_id,
            secret_key=credential.secret_key,
            environment=environment,
            clock=self._clock,
        )

    # --- outcomes -----------------------------------------------------------------

    def _refused(self, response: httpx.Response) -> DispatchResult:
        """A non-2xx answer: 429 NO_EFFECT, other 4xx PERMANENT, else MAYBE_EFFECT."""
        status = response.status_code
        code, _ = alpaca_error(response)
        summary = {**response_summary(response), "code": code}
        if status == 429:
            return DispatchResult(
                Outcome.NO_EFFECT,
                status_code=status,
                summary=summary,
                error=error_text(response),
                retry_after_seconds=rate_limit_retry_after(response, self._clock()),
            )
        outcome = Outcome.PERMANENT if 400 <= status < 500 else Outcome.MAYBE_EFFECT
        return DispatchResult(
            outcome, status_code=status, summary=summary, error=error_text(response)
        )

    def _submitted(
        self, client: AlpacaClient, wire: WireRequest, answer: httpx.Response | DispatchResult
    ) -> DispatchResult:
        coid = wire.client_order_id
        assert coid is not None  # every order.submit render derives one
        if isinstance(answer, DispatchResult):
            # Not sent (NO_EFFECT / PERMANENT) stands; maybe sent is asked about at once.
            return (
                self._adopt(client, coid, answer)
                if answer.outcome is Outcome.MAYBE_EFFECT
                else answer
            )
        status = answer.status_code
        order_id = _order_id(response_json(answer))
        if 200 <= status < 300 and order_id:
            return DispatchResult(
                Outcome.SUCCEEDED,
                provider_object_id=order_id,
                status_code=status,
                summary={**response_summary(answer), "client_order_id": coid},
            )
        if 200 <= status < 300:
            doubt = DispatchResult(
                Outcome.MAYBE_EFFECT,
                status_code=status,
                summary=response_summary(answer),
                error=f"HTTP {status} without an order id",
            )
            return self._adopt(client, coid, doubt)
        result = self._refused(answer)
        duplicate = status == 422 and alpaca_error(answer)[0] == DUPLICATE_CLIENT_ORDER_ID_CODE
        if duplicate or result.outcome is Outcome.MAYBE_EFFECT:
            return self._adopt(client, coid, result)
        return result

    def _adopt(self, client: AlpacaClient, coid: str, doubt: DispatchResult) -> DispatchResult:
        """Ask for the order ``coid`` names after a doubtful answer (a lost or 5xx
        answer, or 422 40010001): adopt it if it exists."""
        try:
            order = client.get_order_by_client_order_id(coid)
        except AlpacaReadError as exc:
            return DispatchResult(
                Outcome.MAYBE_EFFECT,
                status_code=doubt.status_code,
                summary={**doubt.summary, "client_order_id": coid, "lookup_error": exc.message},
                error=f"{doubt.error}; lookup failed: {exc.message}",
            )
        if order is not None:
            return DispatchResult(
                Outcome.SUCCEEDED,
                provider_object_id=order.id,
                status_code=doubt.status_code,
                summary={
                    **doubt.summary,
                    "client_order_id": coid,
                    "adopted": True,
                    "order_status": order.status,
                    "order": dict(order.raw),
                },
            )
        if doubt.status_code == 422:
            # 40010001 without an order of ours: a validation refusal, not a duplicate.
            return DispatchResult(
                Outcome.PERMANENT,
                status_code=422,
                summary={**doubt.summary, "client_order_id": coid, "adopted": False},
                error=doubt.error,
            )
        return DispatchResult(
            doubt.outcome,
            status_code=doubt.status_code,
            summary={**doubt.summary, "client_order_id": coid, "lookup": "not_found"},
            error=doubt.error,
            retry_after_seconds=doubt.retry_after_seconds,
        )

    def _canceled(
        self, client: AlpacaClient, wire: WireRequest, response: httpx.Response
    ) -> DispatchResult:
        order_id = wire.path.rsplit("/", 1)[1]
        status = response.status_code
        if status in (200, 204):
            return DispatchResult(
                Outcome.SUCCEEDED,
                provider_object_id=order_id,
                status_code=status,
                summary={"status_code": status, "order_id": order_id},
            )
        result = self._refused(response)
        if status != 422:
            return result
        try:
            order = client.get_order(order_id)
        except AlpacaReadError as exc:
            return DispatchResult(
                Outcome.MAYBE_EFFECT,
                status_code=status,
                summary={**result.summary, "lookup_error": exc.message},
                error=f"{result.error}; the order could not be read: {exc.message}",
            )
        order_status = order.status if order is not None else "not_found"
        summary = {**result.summary, "order_id": order_id, "order_status": order_status}
        if order is not None and order.status in CANCELED_STATUSES:
            return DispatchResult(
                Outcome.SUCCEEDED,
                provider_object_id=order_id,
                status_code=status,
                summary={**summary, "already_canceled": True},
            )
        return DispatchResult(
            Outcome.PERMANENT,
            status_code=status,
            summary=summary,
            error=f"{result.error} (order status {order_status})",
        )

    def _multi_status(self, response: httpx.Response) -> DispatchResult:
        status = response.status_code
        if status not in (200, 207):
            return self._refused(response)
        entries = response_json(response)
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            return DispatchResult(
                Outcome.MAYBE_EFFECT,
                status_code=status,
                summary=response_summary(response),
                error=f"HTTP {status}: the answer is not a list of per-item statuses",
            )
        items = [_item_status(e) for e in entries]
        failed = [i for i in items if i["status"] != 200]
        summary: dict[str, Any] = {"status_code": status, "items": items, "failed": len(failed)}
        if not failed:
            return DispatchResult(Outcome.SUCCEEDED, status_code=status, summary=summary)
        named = ", ".join(f"{i['id'] or i['symbol']} ({i['status']})" for i in failed[:5])
        return DispatchResult(
            Outcome.MAYBE_EFFECT,
            status_code=status,
            summary=summary,
            error=f"{len(failed)} of {len(items)} items not done: {named}",
        )

    def _configured(self, wire: WireRequest, response: httpx.Response) -> DispatchResult:
        if response.status_code != 200:
            return self._refused(response)
        wanted = wire.body["suspend_trade"] if isinstance(wire.body, dict) else None
        data = response_json(response)
        got = data.get("suspend_trade") if isinstance(data, dict) else None
        summary = response_summary(response)
        if got is wanted:
            return DispatchResult(Outcome.SUCCEEDED, status_code=200, summary=summary)
        return DispatchResult(
            Outcome.MAYBE_EFFECT,
            status_code=200,
            summary=summary,
            error=f"the answer's suspend_trade is {got!r}, not {wanted!r}",
        )

    # --- lookups ------------------------------------------------------------------

    def _look(self, action: str, client: AlpacaClient, wire: WireRequest) -> LookupResult:
        if action == "order.submit":
            assert wire.client_order_id is not None
            order = client.get_order_by_client_order_id(wire.client_order_id)
            if order is None:
                return LookupResult(
                    LookupStatus.NOT_FOUND, summary={"client_order_id": wire.client_order_id}
                )
            return _found(order, client_order_id=wire.client_order_id)
        if action == "order.cancel":
            order_id = wire.path.rsplit("/", 1)[1]
            order = client.get_order(order_id)
            if order is None or order.status not in CANCELED_STATUSES:
                # Still open: the cancel may be sent (again). Filled or expired: sending
                # it again gets the 422 that makes the outcome PERMANENT, by its status.
                return LookupResult(
                    LookupStatus.NOT_FOUND,
                    summary={"order_id": order_id, "order_status": order and order.status},
                )
            return _found(order)
        if action == "orders.cancel_all":
            open_orders = client.list_open_orders()
            summary: dict[str, Any] = {"open_orders": [o.id for o in open_orders]}
            if open_orders:
                return LookupResult(LookupStatus.NOT_FOUND, summary=summary)
            return LookupResult(LookupStatus.FOUND, summary=summary)
        if action == "positions.close_all":
            return _positions_closing(client)
        wanted = wire.body["suspend_trade"] if isinstance(wire.body, dict) else None
        configuration = client.get_configurations()
        found = configuration.get("suspend_trade") is wanted
        return LookupResult(
            LookupStatus.FOUND if found else LookupStatus.NOT_FOUND,
            summary={"configuration": configuration},
        )


def _order_id(data: Any) -> str | None:
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def _found(order: AlpacaOrder, **extra: Any) -> LookupResult:
    return LookupResult(
        LookupStatus.FOUND,
        provider_object_id=order.id,
        summary={"order_status": order.status, "order": dict(order.raw), **extra},
    )


def _item_status(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of a 207: ``{id|symbol, status, body}``, kept with Alpaca's code."""
    body = entry.get("body")
    item: dict[str, Any] = {
        "id": entry.get("id") if isinstance(entry.get("id"), str) else None,
        "symbol": entry.get("symbol") if isinstance(entry.get("symbol"), str) else None,
        "status": entry.get("status") if isinstance(entry.get("status"), int) else None,
    }
    if isinstance(body, dict):
        if isinstance(body.get("code"), int):
            item["code"] = body["code"]
            item["message"] = str(body.get("message", ""))[:200]
        elif isinstance(body.get("id"), str):
            item["order_id"] = body["id"]
            item["order_status"] = body.get("status")
    return item


def _positions_closing(client: AlpacaClient) -> LookupResult:
    """FOUND when no position is left, or each has an open order closing it."""
    positions = client.list_positions()
    open_orders = client.list_open_orders()
    unclosed = [
        p.symbol
        for p in positions
        if not any(
            o.symbol == p.symbol and o.side == ("sell" if p.qty > 0 else "buy") for o in open_orders
        )
    ]
    summary = {"positions": [p.symbol for p in positions], "unclosed": unclosed}
    return LookupResult(LookupStatus.NOT_FOUND if unclosed else LookupStatus.FOUND, summary=summary)
