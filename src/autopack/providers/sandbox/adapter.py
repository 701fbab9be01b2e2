"""The sandbox provider adapter: talks to ``autopack sandbox serve`` over HTTP.

Actions and the objects they create::

    video.upload    -> POST /v1/videos
    listing.create  -> POST /v1/listings
    product.create  -> POST /v1/products
    order.submit    -> POST /v1/orders

The body is the intent's canonical payload plus the marker field ``client_ref``;
the same value goes in the ``Idempotency-Key`` header. That value (the provider
idempotency key) is derived from provider, account and Autopack idempotency key
only, so a re-render after a restart gives the same key and lookup can find the
object a lost response created.

Dispatch classification: the shared HTTP outcome rules of
``autopack.providers._http`` (2xx with a JSON object carrying "id" is
SUCCEEDED; 429 NO_EFFECT; other 4xx PERMANENT; 5xx MAYBE_EFFECT; connect errors
NO_EFFECT; errors after sending MAYBE_EFFECT), plus one sandbox rule: a request
rendered for another intent is PERMANENT, refused before sending.

Lookup: 200 with matches -> FOUND (oldest object), 200 empty -> NOT_FOUND,
501 -> UNSUPPORTED (mode ``none``: a person decides), anything else or no
connection -> UNAVAILABLE (reconcile later).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from autopack.domain.canonical import JsonValue, canonical_hash, canonical_json, normalize
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.domain.providers import (
    DispatchProgress,
    DispatchResult,
    Intent,
    LookupResult,
    LookupStatus,
    Outcome,
    RenderedRequest,
)
from autopack.domain.sandbox_protocol import (
    API_PREFIX,
    IDEMPOTENCY_HEADER,
    LOOKUP_BY_MARKER,
    MARKER_FIELD,
    REPLAYED_HEADER,
)
from autopack.providers._http import (
    classify_response,
    describe,
    error_message,
    provider_client,
    response_json,
    response_summary,
    send,
)

PROVIDER_NAME = "sandbox"
ACTION_KINDS: Mapping[str, str] = {
    "video.upload": "videos",
    "listing.create": "listings",
    "product.create": "products",
    "order.submit": "orders",
}
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_CONNECT_TIMEOUT_SECONDS = 3.0
PROVIDER_KEY_PREFIX = "ap_"
PROVIDER_KEY_HEX = 40


class SandboxRenderError(InvalidInputError):
    default_code = ErrorCode.INVALID_SANDBOX_INTENT


def provider_idempotency_key(intent: Intent) -> str:
    """The key the sandbox sees: stable for (provider, account, idempotency key)."""
    digest = canonical_hash(
        {
            "provider": intent.provider,
            "account": intent.account,
            "idempotency_key": intent.idempotency_key,
        }
    )
    return PROVIDER_KEY_PREFIX + digest[:PROVIDER_KEY_HEX]


class SandboxAdapter:
    """ProviderAdapter for the sandbox server at ``base_url``.

    ``transport`` is the HTTP seam; ``token`` (a secret, added only at dispatch
    and lookup, never rendered) is sent as a bearer token when the server was
    started with ``--token-file``. Holds one ``httpx.Client``: call ``close()``
    or use it as a context manager when done.
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
        token: str | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host or url.query or url.fragment:
            raise InvalidInputError(
                f"sandbox URL must be http(s)://host:port[/path], got {base_url!r}",
                code=ErrorCode.INVALID_SANDBOX_URL,
            )
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._client = provider_client(transport, timeout, connect_timeout)

    # --- ProviderAdapter --------------------------------------------------------

    @property
    def name(self) -> str:
        return PROVIDER_NAME

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(ACTION_KINDS)

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def request_timeout_seconds(self) -> float:
        """How long a dispatch waits for the answer (the executor's settle window
        for "not found" lookups is derived from it)."""
        return self._timeout

    def render(self, intent: Intent) -> RenderedRequest:
        kind = self._kind(intent)
        if not isinstance(intent.payload, Mapping):
            raise SandboxRenderError("the payload must be a JSON object")
        if MARKER_FIELD in intent.payload:
            raise SandboxRenderError(
                f"payload field {MARKER_FIELD!r} is reserved: the adapter sets it",
                code=ErrorCode.RESERVED_FIELD,
            )
        key = provider_idempotency_key(intent)
        body: JsonValue = normalize({**intent.payload, MARKER_FIELD: key})
        return RenderedRequest(
            method="POST",
            url=f"{self._base_url}{API_PREFIX}/{kind}",
            headers={
                "Accept": "application/json",
                "Content-Type": "application/json",
                IDEMPOTENCY_HEADER: key,
            },
            body=body,
            provider_idempotency_key=key,
        )

    def dispatch(
        self, intent: Intent, request: RenderedRequest, progress: DispatchProgress
    ) -> DispatchResult:
        self._kind(intent)
        expected_key = provider_idempotency_key(intent)
        if (
            request.provider_idempotency_key != expected_key
            or request.headers.get(IDEMPOTENCY_HEADER) != expected_key
        ):
            # A request rendered for another intent: refuse before sending anything.
            return DispatchResult(
                Outcome.PERMANENT,
                error="the request's idempotency key does not belong to this intent; not sent",
            )
        headers = dict(request.headers)
        headers.update(self._auth_headers())
        answer = send(
            self._client,
            request.method,
            request.url,
            content=canonical_json(request.body),
            headers=headers,
        )
        if isinstance(answer, DispatchResult):
            return answer
        result = classify_response(answer)
        if result.outcome is Outcome.SUCCEEDED:
            replayed = answer.headers.get(REPLAYED_HEADER) == "true"
            result = dataclasses.replace(result, summary={**result.summary, "replayed": replayed})
        return result

    def lookup(self, intent: Intent, state: Mapping[str, JsonValue]) -> LookupResult:
        kind = self._kind(intent)
        key = provider_idempotency_key(intent)
        try:
            response = self._client.get(
                f"{self._base_url}{API_PREFIX}/{kind}",
                params={LOOKUP_BY_MARKER: key},
                headers={"Accept": "application/json", **self._auth_headers()},
            )
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            return LookupResult(LookupStatus.UNAVAILABLE, error=describe(exc, "not asked"))
        if response.status_code == 501:
            return LookupResult(
                LookupStatus.UNSUPPORTED,
                summary=response_summary(response),
                error=error_message(response),
            )
        if response.status_code != 200:
            return LookupResult(
                LookupStatus.UNAVAILABLE,
                summary=response_summary(response),
                error=error_message(response),
            )
        data = response_json(response)
        objects = data.get("data") if isinstance(data, dict) else None
        if not isinstance(objects, list) or not all(
            isinstance(o, dict) and isinstance(o.get("id"), str) for o in objects
        ):
            return LookupResult(
                LookupStatus.UNAVAILABLE,
                summary=response_summary(response),
                error="lookup answer is not a list of objects",
            )
        if not objects:
            return LookupResult(LookupStatus.NOT_FOUND, summary={"matches": 0})
        first = objects[0]
        expected = self.render(intent).body
        summary: dict[str, Any] = {
            "matches": len(objects),
            "ids": [o["id"] for o in objects],
            # False would mean the marker matched an object with another body.
            "body_matches": first.get("data") == expected,
            "object": first,
        }
        return LookupResult(LookupStatus.FOUND, provider_object_id=first["id"], summary=summary)

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

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _kind(self, intent: Intent) -> str:
        if intent.provider != PROVIDER_NAME:
            raise SandboxRenderError(
                f"intent for provider {intent.provider[:64]!r} given to the sandbox adapter",
                code=ErrorCode.WRONG_PROVIDER,
            )
        kind = ACTION_KINDS.get(intent.action)
        if kind is None:
            raise SandboxRenderError(
                f"unknown sandbox action {intent.action[:64]!r}: "
                f"one of {', '.join(sorted(ACTION_KINDS))}",
                code=ErrorCode.UNKNOWN_ACTION,
            )
        return kind
