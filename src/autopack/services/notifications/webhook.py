"""The one HTTP call of notifications: POST a signed body to the webhook.

The body is rendered from the stored envelope at send time (``json`` or
``slack``), signed over ``<timestamp>.<body>`` with the notification secret,
and carries the notification's stable id, so a receiver can verify it and
drop a repeat. Redirects are not followed: a webhook answers where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from autopack import __version__
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConfigurationError, InvalidInputError
from autopack.domain.notifications import (
    ID_HEADER,
    KIND_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    NotificationFormat,
    render_body,
    signature,
)
from autopack.settings import Settings, check_webhook_url

USER_AGENT: Final = f"autopack-notify/{__version__}"
MAX_ERROR_TEXT: Final = 300


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """What the receiver answered: ``ok`` for any 2xx."""

    ok: bool
    status_code: int | None
    error: str | None


class WebhookClient:
    """Posts notification envelopes to one webhook, signed."""

    def __init__(
        self,
        *,
        url: str,
        fmt: NotificationFormat,
        secret: str,
        timeout_seconds: float,
        clock: Callable[[], datetime],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.fmt = fmt
        self._secret = secret
        self.timeout_seconds = timeout_seconds
        self._clock = clock
        self._client = httpx.Client(
            timeout=timeout_seconds, follow_redirects=False, transport=transport
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        clock: Callable[[], datetime],
        *,
        url: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> WebhookClient:
        """The configured webhook (or ``url`` instead); refused when none is set."""
        if url is not None:
            try:
                check_webhook_url(url)
            except ValueError as exc:
                raise InvalidInputError(
                    f"invalid webhook URL: {exc}", code=ErrorCode.INVALID_WEBHOOK_URL
                ) from exc
        target = url if url is not None else settings.notify_webhook_url
        if target is None:
            raise ConfigurationError(
                "no webhook configured: set AUTOPACK_NOTIFY_WEBHOOK_URL and "
                "AUTOPACK_NOTIFY_SECRET (or pass --url)",
                code=ErrorCode.WEBHOOK_NOT_CONFIGURED,
            )
        if settings.notify_secret is None:
            raise ConfigurationError(
                "AUTOPACK_NOTIFY_SECRET is not set: every delivery is signed",
                code=ErrorCode.WEBHOOK_NOT_CONFIGURED,
            )
        return cls(
            url=target,
            fmt=NotificationFormat(settings.notify_format),
            secret=settings.notify_secret.get_secret_value(),
            timeout_seconds=settings.notify_timeout_seconds,
            clock=clock,
            transport=transport,
        )

    @property
    def origin(self) -> str:
        """scheme://host[:port]: what may be shown of the webhook."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    def close(self) -> None:
        self._client.close()

    def post(self, body: Mapping[str, Any]) -> WebhookResult:
        """Send one envelope; never raises for what the network or receiver does."""
        content = render_body(self.fmt, body)
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            ID_HEADER: str(body["id"]),
            KIND_HEADER: str(body["kind"]),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(self._secret, timestamp, content),
        }
        try:
            response = self._client.post(self.url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            # The URL's path may be a secret (Slack's are): never in a recorded error.
            text = f"{type(exc).__name__}: {exc}".replace(self.url, self.origin)
            return WebhookResult(False, None, text[:MAX_ERROR_TEXT])
        if 200 <= response.status_code < 300:
            return WebhookResult(True, response.status_code, None)
        return WebhookResult(
            False, response.status_code, f"the receiver answered HTTP {response.status_code}"
        )
