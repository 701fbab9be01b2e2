"""The Shopify adapter: Admin GraphQL over httpx, one JSON POST per action.

Actions::

    product.upsert    productSet(input:, identifier:, synchronous: true)
    inventory.adjust  inventoryAdjustQuantities(input:) @idempotent(key:)
    metafields.set    metafieldsSet(metafields:)

The endpoint is ``settings.shopify_api_url`` with ``{shop}`` = the account (the
shop's myshopify.com subdomain) and ``{version}`` = ``shopify_api_version``.
The access token (``X-Shopify-Access-Token``) comes from the credential store
at dispatch and lookup only; the render shows ``<access token>``.

Idempotency and reconciliation, per action:

- ``product.upsert``: the identifier (the payload's ``customId``, else its
  ``handle``, else a handle derived from provider, account and idempotency key)
  makes a resend an upsert of the same product. Lookup asks
  ``productByIdentifier`` with that identifier: a product -> FOUND, null ->
  NOT_FOUND.
- ``inventory.adjust``: the ``@idempotent`` key is a UUID-shaped digest of our
  idempotency key, so a resend returns the first adjustment instead of applying
  a second. There is no query for an adjustment group, so lookup answers
  IN_PROGRESS (send again, safely) once an attempt was checkpointed, NOT_FOUND
  when none was. When Shopify's deduplication fails (reported once in the
  community), a stated ``changeFromQuantity`` makes the resend fail with
  CHANGE_FROM_QUANTITY_STALE instead of adjusting twice: after an earlier
  attempt that answer means "maybe applied", and a person decides.
- ``metafields.set``: a set converges (the same values again change nothing),
  so lookup answers IN_PROGRESS: send again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final, Self

import httpx

from autopack.domain.canonical import JsonValue, canonical_json
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import (
    AutopackError,
    ConfigurationError,
    InvalidInputError,
    UnavailableError,
)
from autopack.domain.providers import (
    DispatchProgress,
    DispatchResult,
    Intent,
    LookupResult,
    LookupStatus,
    Outcome,
    RenderedRequest,
)
from autopack.providers._http import (
    describe,
    provider_client,
    response_json,
    response_summary,
    send,
)
from autopack.providers.shopify import operations as ops
from autopack.providers.shopify.classify import classify_mutation, errors_text, http_failure
from autopack.providers.shopify.payloads import (
    ProductIdentifier,
    idempotent_key,
    inventory_variables,
    metafields_variables,
    product_variables,
    validate_shop,
)
from autopack.providers.unit import CredentialAccessor

PROVIDER_NAME: Final = "shopify"
ACTIONS: Final = frozenset({"product.upsert", "inventory.adjust", "metafields.set"})
TOKEN_HEADER: Final = "X-Shopify-Access-Token"  # noqa: S105 - a header name
MASKED_TOKEN: Final = "<access token>"  # noqa: S105 - the mask, not a token
DEFAULT_TIMEOUT_SECONDS: Final = 15.0
DEFAULT_CONNECT_TIMEOUT_SECONDS: Final = 3.0
# inventory.adjust: userErrors that mean "not applied, try again" / "maybe applied".
INVENTORY_RETRYABLE: Final = ("ADJUST_QUANTITIES_FAILED", "SERVICE_UNAVAILABLE")
INVENTORY_DOUBTFUL: Final = ("IDEMPOTENCY_CONCURRENT_REQUEST",)
STALE: Final = "CHANGE_FROM_QUANTITY_STALE"


class ShopifyAdapter:
    """ProviderAdapter for the Shopify Admin GraphQL API (or its fake).

    ``api_url`` is the endpoint template (``{shop}`` and ``{version}``);
    ``credentials`` gives the shop's access token at dispatch and lookup.
    Holds one ``httpx.Client``: call ``close()`` when done.
    """

    def __init__(
        self,
        api_url: str,
        api_version: str,
        credentials: CredentialAccessor,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    ) -> None:
        probe = httpx.URL(api_url.replace("{shop}", "shop").replace("{version}", api_version))
        if (
            probe.scheme not in ("http", "https")
            or not probe.host
            or "{version}" not in api_url
            or probe.query
        ):
            raise ConfigurationError(
                "AUTOPACK_SHOPIFY_API_URL must be an http(s) URL template holding "
                f"{{version}} (and {{shop}} for the real host), got {api_url!r}",
                code=ErrorCode.INVALID_SETTING,
            )
        self._api_url = api_url
        self._version = api_version
        self._credentials = credentials
        self._timeout = timeout
        self._client = provider_client(transport, timeout, connect_timeout)

    # --- ProviderAdapter --------------------------------------------------------

    @property
    def name(self) -> str:
        return PROVIDER_NAME

    @property
    def actions(self) -> frozenset[str]:
        return ACTIONS

    @property
    def request_timeout_seconds(self) -> float:
        return self._timeout

    def endpoint(self, account: str, action: str = "lookup") -> str:
        shop = validate_shop(account, action)
        return self._api_url.replace("{shop}", shop).replace("{version}", self._version)

    def render(self, intent: Intent) -> RenderedRequest:
        self._check(intent)
        url = self.endpoint(intent.account, intent.action)
        if intent.action == "product.upsert":
            variables, identifier = product_variables(intent)
            return self._request(
                url, ops.PRODUCT_SET_MUTATION, ops.PRODUCT_SET_OPERATION, variables, identifier.key
            )
        if intent.action == "inventory.adjust":
            variables = inventory_variables(intent)
            return self._request(
                url,
                ops.INVENTORY_ADJUST_MUTATION,
                ops.INVENTORY_ADJUST_OPERATION,
                variables,
                idempotent_key(intent),
            )
        variables = metafields_variables(intent)
        return self._request(
            url, ops.METAFIELDS_SET_MUTATION, ops.METAFIELDS_SET_OPERATION, variables, None
        )

    def dispatch(
        self, intent: Intent, request: RenderedRequest, progress: DispatchProgress
    ) -> DispatchResult:
        expected = self.render(intent)
        if request.request_hash != expected.request_hash:
            # A request rendered for another intent (or another setting): not sent.
            return DispatchResult(
                Outcome.PERMANENT,
                error="the request does not match this intent's render; not sent",
            )
        token = self._token(intent.account)
        if isinstance(token, DispatchResult):
            return token
        attempts = 0
        if intent.action == "inventory.adjust":
            earlier = progress.state.get("attempts")
            attempts = earlier if isinstance(earlier, int) else 0
            # Durable before sending: a later lookup knows this key may have been used.
            progress.checkpoint(
                {"attempts": attempts + 1, "idempotency_key": idempotent_key(intent)},
                note="inventory adjustment sent with its @idempotent key",
            )
        answer = send(
            self._client,
            "POST",
            request.url,
            content=canonical_json(request.body),
            headers={**request.headers, TOKEN_HEADER: token},
        )
        if isinstance(answer, DispatchResult):
            return answer
        if intent.action == "product.upsert":
            return classify_mutation(answer, field="productSet", object_id=_product_id)
        if intent.action == "metafields.set":
            return classify_mutation(answer, field="metafieldsSet", object_id=_first_metafield)
        result = classify_mutation(
            answer,
            field="inventoryAdjustQuantities",
            object_id=_adjustment_group_id,
            retryable_codes=INVENTORY_RETRYABLE,
            doubtful_codes=INVENTORY_DOUBTFUL,
        )
        stale = STALE in result.summary.get("user_error_codes", ())
        if stale and attempts > 0:
            # An earlier attempt may have applied the change (and this resend was
            # not deduplicated): maybe applied, and lookup hands it to a person.
            progress.checkpoint(
                {
                    "attempts": attempts + 1,
                    "idempotency_key": idempotent_key(intent),
                    "stale_after_resend": True,
                },
                note="resend refused as stale: the first attempt may have applied",
            )
            result = dataclasses.replace(result, outcome=Outcome.MAYBE_EFFECT)
        return result

    def lookup(self, intent: Intent, state: Mapping[str, JsonValue]) -> LookupResult:
        self._check(intent)
        if intent.action == "inventory.adjust":
            if state.get("stale_after_resend") is True:
                return LookupResult(
                    LookupStatus.UNSUPPORTED,
                    summary=dict(state),
                    error="a resend was refused as CHANGE_FROM_QUANTITY_STALE: the first "
                    "attempt may have applied; check the inventory history in Shopify",
                )
            if not isinstance(state.get("attempts"), int):
                return LookupResult(LookupStatus.NOT_FOUND, summary={"attempts": 0})
            return LookupResult(
                LookupStatus.IN_PROGRESS,
                summary={**state, "resend": "safe: the same @idempotent key"},
            )
        if intent.action == "metafields.set":
            return LookupResult(
                LookupStatus.IN_PROGRESS, summary={"resend": "safe: metafieldsSet sets values"}
            )
        _, identifier = product_variables(intent)
        return self._find_product(intent.account, identifier)

    # --- lifecycle ----------------------------------------------------------------

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- helpers ------------------------------------------------------------------

    def _request(
        self,
        url: str,
        query: str,
        operation: str,
        variables: dict[str, JsonValue],
        key: str | None,
    ) -> RenderedRequest:
        return RenderedRequest(
            method="POST",
            url=url,
            headers={
                "Accept": "application/json",
                "Content-Type": "application/json",
                TOKEN_HEADER: MASKED_TOKEN,
            },
            body={"operationName": operation, "query": query, "variables": variables},
            provider_idempotency_key=key,
        )

    def _token(self, account: str) -> str | DispatchResult:
        try:
            return self._credentials.access_token(account)
        except UnavailableError as exc:  # a refresh that may work later: nothing sent
            return DispatchResult(Outcome.NO_EFFECT, error=f"no access token now: {exc}")
        except AutopackError as exc:  # no credential, needs re-authorization
            return DispatchResult(Outcome.PERMANENT, error=f"no access token: {exc}")

    def _find_product(self, account: str, identifier: ProductIdentifier) -> LookupResult:
        try:
            token = self._credentials.access_token(account)
        except AutopackError as exc:
            return LookupResult(LookupStatus.UNAVAILABLE, error=f"no access token: {exc}")
        body = {
            "operationName": ops.PRODUCT_BY_IDENTIFIER_OPERATION,
            "query": ops.PRODUCT_BY_IDENTIFIER_QUERY,
            "variables": {"identifier": identifier.variables},
        }
        try:
            response = self._client.post(
                self.endpoint(account),
                content=canonical_json(body),
                headers={
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                    TOKEN_HEADER: token,
                },
            )
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            return LookupResult(LookupStatus.UNAVAILABLE, error=describe(exc, "not asked"))
        if response.status_code != 200:
            failed = http_failure(response)
            return LookupResult(
                LookupStatus.UNAVAILABLE, summary=failed.summary, error=failed.error
            )
        data = response_json(response)
        if (
            not isinstance(data, dict)
            or data.get("errors")
            or not isinstance(data.get("data"), dict)
        ):
            errors = data.get("errors") if isinstance(data, dict) else None
            return LookupResult(
                LookupStatus.UNAVAILABLE,
                summary=response_summary(response),
                error=errors_text(errors) if errors else "lookup answer without data",
            )
        product = data["data"].get("productByIdentifier")
        if product is None:
            return LookupResult(LookupStatus.NOT_FOUND, summary={"identifier": identifier.key})
        product_id = _product_id({"product": product})
        if product_id is None:
            return LookupResult(
                LookupStatus.UNAVAILABLE,
                summary=response_summary(response),
                error="productByIdentifier answered without an id",
            )
        return LookupResult(
            LookupStatus.FOUND,
            provider_object_id=product_id,
            summary={"identifier": identifier.key, "product": product},
        )

    def _check(self, intent: Intent) -> None:
        if intent.provider != PROVIDER_NAME:
            raise InvalidInputError(
                f"intent for provider {intent.provider[:64]!r} given to the Shopify adapter",
                code=ErrorCode.WRONG_PROVIDER,
            )
        if intent.action not in ACTIONS:
            raise InvalidInputError(
                f"unknown shopify action {intent.action[:64]!r}: "
                f"one of {', '.join(sorted(ACTIONS))}",
                code=ErrorCode.UNKNOWN_ACTION,
            )


def _id_at(payload: Any, *path: str) -> str | None:
    node = payload
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
    return node if isinstance(node, str) and node else None


def _product_id(payload: Any) -> str | None:
    return _id_at(payload, "product", "id")


def _adjustment_group_id(payload: Any) -> str | None:
    return _id_at(payload, "inventoryAdjustmentGroup", "id")


def _first_metafield(payload: Any) -> str | None:
    metafields = payload.get("metafields") if isinstance(payload, dict) else None
    if not isinstance(metafields, list) or not metafields:
        return None
    return _id_at(metafields[0], "id")
