"""What one provider's fake implements, and the request and response it sees."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from io import BufferedIOBase
from typing import Any, Protocol

from autopack.fakes.store import FakeStore

# A body larger than this is refused with 413 by ``FakeRequest.read_body``;
# fakes that take media read ``FakeRequest.stream`` in pieces instead.
MAX_BUFFERED_BODY_BYTES = 16 * 1024 * 1024


@dataclass(slots=True)
class FakeRequest:
    """One request as the host parsed it. Header names are lower-case."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    content_length: int
    # The body, unread: ``read_body`` for small bodies, ``stream`` for media.
    stream: BufferedIOBase
    _body: bytes | None = field(default=None, repr=False)

    def read_body(self) -> bytes:
        if self._body is None:
            if self.content_length > MAX_BUFFERED_BODY_BYTES:
                raise BodyTooLargeError(self.content_length)
            self._body = self.stream.read(self.content_length) if self.content_length else b""
        return self._body

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not."""
        return json.loads(self.read_body())

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


class BodyTooLargeError(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"body of {size} bytes is larger than {MAX_BUFFERED_BODY_BYTES}")


@dataclass(frozen=True, slots=True)
class FakeResponse:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


def json_response(status: int, data: Any, headers: Mapping[str, str] | None = None) -> FakeResponse:
    """A JSON answer (compact separators, like the real APIs)."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return FakeResponse(
        status, body, {"Content-Type": "application/json; charset=UTF-8", **(headers or {})}
    )


@dataclass(frozen=True, slots=True)
class Fault:
    """One queued fault (see ``autopack.fakes.faults``). ``kind`` values the host
    does not handle itself are the fake's own (e.g. YouTube's partial range)."""

    provider: str
    kind: str
    method: str | None = None
    path_contains: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


class FakeProvider(Protocol):
    """One provider's fake, hosted by ``autopack.fakes.server``."""

    @property
    def name(self) -> str: ...

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Path prefixes this fake serves (no two fakes share one)."""
        ...

    def handle(self, request: FakeRequest, fault: Fault | None) -> FakeResponse:
        """Answer ``request``; every effect committed to the store before returning.
        ``fault`` is a queued fault of one of this fake's own kinds, or None."""
        ...

    def effects(self) -> list[dict[str, Any]]:
        """The ground truth for tests: every object this fake created, oldest first."""
        ...

    def control(self, request: FakeRequest, action: str) -> FakeResponse:
        """This fake's own control route ``/_control/<name>/<action>`` (a test or a demo
        sets market prices, expires a session...); 404 for an action it does not know."""
        ...


class FakeFactory(Protocol):
    def __call__(self, store: FakeStore) -> FakeProvider: ...
