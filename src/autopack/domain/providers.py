"""The provider adapter contract: pure types shared by the ledger and every adapter.

An adapter turns an approved intent into the exact request (render, a dry-run
with no secrets), sends it (dispatch), asks the provider what happened (lookup,
for reconciliation) and classifies failures. The ledger never retries blindly:
only ``Outcome.NO_EFFECT`` may be retried automatically.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from autopack.domain.canonical import JsonValue, canonical_hash


@dataclass(frozen=True, slots=True)
class Intent:
    """What an agent wants done. Its hash binds approval to exactly these bytes."""

    provider: str
    action: str
    account: str
    idempotency_key: str
    payload: Mapping[str, Any]

    def to_hashable(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "action": self.action,
            "account": self.account,
            "idempotency_key": self.idempotency_key,
            "payload": self.payload,
        }

    @property
    def payload_hash(self) -> str:
        """SHA-256 of the canonical JSON of the full intent."""
        return canonical_hash(self.to_hashable())


class BodyEncoding(enum.StrEnum):
    """How a rendered body becomes the bytes on the wire."""

    # ``body`` is a JSON value; the bytes are its canonical JSON.
    JSON = "json"
    # ``body`` is the exact ``application/x-www-form-urlencoded`` string.
    FORM = "form"
    # ``body`` is ``{"fields": {...}, "files": [media reference, ...]}``; the adapter
    # builds the multipart bytes with a boundary derived from the body's hash.
    MULTIPART = "multipart"
    # ``body`` is one media reference (path, size, sha256, content type): the file's
    # bytes, streamed from disk.
    MEDIA = "media"
    # No body.
    NONE = "none"


@dataclass(frozen=True, slots=True)
class RequestStep:
    """A request sent after the first one of a multi-request action.

    ``url`` may hold a ``{name}`` placeholder for a value only the provider's
    answer to an earlier step can give (an upload session, a new listing id);
    the render says which, so a person approves the exact sequence.
    """

    purpose: str
    method: str
    url: str
    headers: Mapping[str, str]
    body: JsonValue
    encoding: BodyEncoding = BodyEncoding.JSON

    def to_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "method": self.method,
            "url": self.url,
            "headers": dict(sorted(self.headers.items())),
            "body": self.body,
            "encoding": self.encoding.value,
        }


@dataclass(frozen=True, slots=True)
class RenderedRequest:
    """The exact request(s) an adapter will send, minus secrets (added at dispatch).

    The fields describe the first request; ``steps`` the ones that follow it, in
    order (empty for a single-request action).
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: JsonValue
    # The key the provider sees (header, client_order_id, or a marker in the object).
    provider_idempotency_key: str | None = None
    encoding: BodyEncoding = BodyEncoding.JSON
    steps: tuple[RequestStep, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "method": self.method,
            "url": self.url,
            "headers": dict(sorted(self.headers.items())),
            "body": self.body,
            "provider_idempotency_key": self.provider_idempotency_key,
        }
        # Only when not the defaults: the request hash of a single JSON request
        # stays what it was before multi-request renders existed.
        if self.encoding is not BodyEncoding.JSON:
            rendered["encoding"] = self.encoding.value
        if self.steps:
            rendered["steps"] = [step.to_dict() for step in self.steps]
        return rendered

    @property
    def request_hash(self) -> str:
        return canonical_hash(self.to_dict())


class Outcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    # Proven not to have taken effect (refused before processing, 429, connect
    # error before any byte was sent): safe to retry.
    NO_EFFECT = "no_effect"
    # May have taken effect (timeout after send, 5xx, connection lost): the
    # ledger records `unknown` and reconciles through lookup.
    MAYBE_EFFECT = "maybe_effect"
    # Refused for good (validation, auth, not found): never retried.
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class DispatchResult:
    outcome: Outcome
    provider_object_id: str | None = None
    status_code: int | None = None
    # Summary for the ledger; the ledger redacts it before writing.
    summary: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    retry_after_seconds: float | None = None


class LookupStatus(enum.StrEnum):
    FOUND = "found"  # the effect exists: provider_object_id is set
    NOT_FOUND = "not_found"  # the provider says it never happened
    UNSUPPORTED = "unsupported"  # this provider cannot be asked: a person decides
    UNAVAILABLE = "unavailable"  # could not ask right now: try reconciling later
    # The effect began and can be completed without a second one (an upload
    # session that holds part of the bytes): dispatch again to resume it.
    IN_PROGRESS = "in_progress"


@dataclass(frozen=True, slots=True)
class LookupResult:
    status: LookupStatus
    provider_object_id: str | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


class DispatchProgress(Protocol):
    """The durable progress of one action across its dispatch attempts.

    ``state`` is what the last checkpoint of any earlier attempt recorded ({}
    when none did). ``checkpoint`` records a new state in the ledger, and renews
    the lease, before it returns; a multi-request adapter calls it with every
    handle it must never lose (an upload session, a created draft's id) BEFORE
    it sends anything that depends on it. It raises when the lease was lost:
    the adapter must stop sending.
    """

    @property
    def state(self) -> Mapping[str, JsonValue]: ...

    def checkpoint(self, state: Mapping[str, JsonValue], *, note: str) -> None: ...


@dataclass(slots=True)
class InMemoryProgress:
    """Progress kept in memory only: for renders, tests and one-shot tools that
    record nothing (a crash loses it, so the ledger's executor never uses it)."""

    state: dict[str, JsonValue] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def checkpoint(self, state: Mapping[str, JsonValue], *, note: str) -> None:
        self.state = dict(state)
        self.notes.append(note)


@runtime_checkable
class ProviderAdapter(Protocol):
    """Implemented by every provider (sandbox, YouTube, Etsy, Shopify, Alpaca)."""

    @property
    def name(self) -> str: ...

    @property
    def actions(self) -> frozenset[str]: ...

    def render(self, intent: Intent) -> RenderedRequest:
        """Dry-run: the exact request(s) for this intent. Pure, no secrets, no I/O."""
        ...

    def dispatch(
        self, intent: Intent, request: RenderedRequest, progress: DispatchProgress
    ) -> DispatchResult:
        """Send ``request`` (already re-rendered and hash-checked by the executor),
        resuming from ``progress.state`` when an earlier attempt left one."""
        ...

    def lookup(self, intent: Intent, state: Mapping[str, JsonValue]) -> LookupResult:
        """Ask the provider whether ``intent`` took effect (reconciliation);
        ``state`` is the action's last recorded progress ({} when none)."""
        ...
