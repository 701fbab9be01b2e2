"""The OAuth token endpoint: one job, asking it for tokens.

One shared HTTP client (the transport seam is passed in), bounded retries with
exponential backoff (tenacity) for transient failures only, ``Retry-After``
honoured within the backoff cap, and every failure classified by the domain
rules (``classify_token_response``, ``classify_transport_failure``). Used by the
connect flow (code exchange) and by refresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from autopack.domain.credentials import (
    DEFAULT_REFRESH_MARGIN,
    ErrorClass,
    TokenFailure,
    classify_token_response,
    classify_transport_failure,
)

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    """Bounds of one refresh. Defaults suit real providers; tests shrink the waits."""

    max_attempts: int = 4
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    request_timeout: float = 15.0
    # How long a waiter waits for a peer's refresh before giving up.
    wait_timeout: float = 90.0
    poll_interval: float = 0.02
    margin: timedelta = DEFAULT_REFRESH_MARGIN

    @property
    def lease(self) -> timedelta:
        """Longer than the worst case of one refresh (all attempts and waits)."""
        worst = self.max_attempts * (self.request_timeout + self.max_backoff)
        return timedelta(seconds=worst + 30)


class TokenFailedError(Exception):
    def __init__(self, failure: TokenFailure, retry_after: float | None = None) -> None:
        super().__init__(failure.code)
        self.failure = failure
        self.retry_after = retry_after


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TokenFailedError) and exc.failure.error_class is ErrorClass.TRANSIENT


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def expiry_seconds(payload: Mapping[str, Any]) -> int | None:
    """``expires_in`` of a token response as whole seconds, or None."""
    value = payload.get("expires_in")
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


class TokenEndpoint:
    """Token requests with the policy's bounds. Thread-safe; ``close()`` when done."""

    def __init__(
        self,
        policy: RefreshPolicy,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.policy = policy
        self._transport = transport
        self._sleep = sleep
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(
                    transport=self._transport,
                    timeout=self.policy.request_timeout,
                    follow_redirects=False,
                    headers={"Accept": "application/json"},
                )
            return self._http

    def request(self, url: str, body: str, *, rotating: bool) -> dict[str, Any]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        try:
            response = self.client().post(url, content=body.encode("utf-8"), headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            raise TokenFailedError(
                classify_transport_failure(request_sent=False, rotating_refresh=rotating)
            ) from None
        except httpx.TransportError:
            raise TokenFailedError(
                classify_transport_failure(request_sent=True, rotating_refresh=rotating)
            ) from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code == 200:
            if isinstance(payload, dict) and isinstance(payload.get("access_token"), str):
                return payload
            # A success without tokens: the server may have rotated anyway.
            lost = classify_transport_failure(request_sent=True, rotating_refresh=rotating)
            raise TokenFailedError(TokenFailure(lost.error_class, "invalid_token_response", 200))
        error = payload.get("error") if isinstance(payload, dict) else None
        failure = classify_token_response(
            response.status_code, error if isinstance(error, str) else None
        )
        raise TokenFailedError(failure, _retry_after(response))

    def _wait(self, state: RetryCallState) -> float:
        policy = self.policy
        attempt = state.attempt_number
        backoff = min(policy.max_backoff, policy.initial_backoff * (2 ** (attempt - 1)))
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        hinted = exc.retry_after if isinstance(exc, TokenFailedError) else None
        if hinted is not None:
            backoff = min(policy.max_backoff, max(backoff, hinted))
        return float(backoff)

    def with_retries(self, url: str, body: str, *, rotating: bool) -> dict[str, Any]:
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(is_transient),
            sleep=self._sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self.request(url, body, rotating=rotating)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover
