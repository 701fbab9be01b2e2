"""HTTP outcome rules shared by every adapter: what a response or a transport
error proves about the effect of a request.

Only ``NO_EFFECT`` may be retried automatically (see ``autopack.domain.providers``):

    2xx with an object id                          SUCCEEDED (provider_object_id)
    2xx without a usable id                        MAYBE_EFFECT (reconcile by lookup)
    429                                            NO_EFFECT (retry_after from Retry-After)
    other 4xx                                      PERMANENT (refused: no effect, never retried)
    5xx, 1xx, 3xx                                  MAYBE_EFFECT (retry_after from Retry-After)
    ConnectError, ConnectTimeout, PoolTimeout      NO_EFFECT: no byte of the request left
    UnsupportedProtocol, InvalidURL                PERMANENT: nothing can be sent
    ReadTimeout, ReadError, RemoteProtocolError,
    WriteTimeout, WriteError, any other
    transport error                                MAYBE_EFFECT: the request may have arrived

An adapter sends with :func:`send`, which turns a transport error into its
``DispatchResult``, and classifies the answer with :func:`classify_response`,
giving only what is provider-specific: where the object id sits in the body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from autopack.domain.providers import DispatchResult, Outcome

TEXT_SUMMARY_LIMIT = 500
# Errors raised before any byte of the request could leave this process.
NOT_SENT_ERRORS: tuple[type[httpx.HTTPError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
UNSENDABLE_ERRORS: tuple[type[Exception], ...] = (httpx.UnsupportedProtocol, httpx.InvalidURL)


def provider_client(
    transport: httpx.BaseTransport | None, timeout: float, connect_timeout: float
) -> httpx.Client:
    """The HTTP client every adapter sends with: no redirect followed (a redirect is
    an answer to classify, never a second request), and no proxy taken from the
    environment between Autopack and the provider."""
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=min(timeout, connect_timeout)),
        follow_redirects=False,
        trust_env=False,
    )


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After in delta-seconds; an HTTP-date (or garbage) gives None."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = Decimal(value.strip())
    except InvalidOperation:
        return None
    if not seconds.is_finite():
        return None
    return max(0.0, float(seconds))


def response_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def response_summary(response: httpx.Response) -> dict[str, Any]:
    """Status and body for the ledger (which redacts it before writing)."""
    data = response_json(response)
    summary: dict[str, Any] = {"status_code": response.status_code}
    if data is not None:
        summary["response"] = data
    else:
        summary["response_text"] = response.text[:TEXT_SUMMARY_LIMIT]
    return summary


def error_message(response: httpx.Response) -> str:
    """``HTTP <status>``, plus the body's ``{"error": {"message": ...}}`` if any."""
    data = response_json(response)
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        message = data["error"].get("message")
        if isinstance(message, str):
            return f"HTTP {response.status_code}: {message}"
    return f"HTTP {response.status_code}"


def describe(exc: Exception, meaning: str) -> str:
    return f"{type(exc).__name__} ({meaning}): {exc}"


def transport_failure(exc: Exception) -> DispatchResult:
    """The outcome of a request that raised instead of answering."""
    if isinstance(exc, NOT_SENT_ERRORS):
        # No connection was made (or none was free): no byte of the request left.
        return DispatchResult(Outcome.NO_EFFECT, error=describe(exc, "not sent"))
    if isinstance(exc, UNSENDABLE_ERRORS):
        return DispatchResult(Outcome.PERMANENT, error=describe(exc, "cannot be sent"))
    # Read/Write timeouts and errors, a dropped connection, a protocol error:
    # the request may have been received and acted on.
    return DispatchResult(Outcome.MAYBE_EFFECT, error=describe(exc, "maybe sent"))


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
) -> httpx.Response | DispatchResult:
    """Send one request: its response, or the outcome of the transport error."""
    try:
        return client.request(method, url, content=content, headers=headers)
    except (httpx.TransportError, httpx.InvalidURL) as exc:
        return transport_failure(exc)


def json_object_id(data: Any) -> str | None:
    """The common shape: a JSON object carrying a string ``id``."""
    object_id = data.get("id") if isinstance(data, dict) else None
    return object_id if isinstance(object_id, str) and object_id else None


def classify_response(
    response: httpx.Response, object_id: Callable[[Any], str | None] = json_object_id
) -> DispatchResult:
    """The outcome a response proves; ``object_id`` finds the created object's id
    in the JSON body of a 2xx (None or empty: the effect is not confirmed)."""
    status = response.status_code
    summary = response_summary(response)
    if 200 <= status < 300:
        found = object_id(response_json(response))
        if not found:
            return DispatchResult(
                Outcome.MAYBE_EFFECT,
                status_code=status,
                summary=summary,
                error=f"HTTP {status} without an object id",
            )
        return DispatchResult(
            Outcome.SUCCEEDED, provider_object_id=found, status_code=status, summary=summary
        )
    if status == 429:
        return DispatchResult(
            Outcome.NO_EFFECT,
            status_code=status,
            summary=summary,
            error=error_message(response),
            retry_after_seconds=retry_after_seconds(response),
        )
    if 400 <= status < 500:
        return DispatchResult(
            Outcome.PERMANENT,
            status_code=status,
            summary=summary,
            error=error_message(response),
        )
    return DispatchResult(
        Outcome.MAYBE_EFFECT,
        status_code=status,
        summary=summary,
        error=error_message(response),
        retry_after_seconds=retry_after_seconds(response),
    )
