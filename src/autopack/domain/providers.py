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


@dataclass(frozen=True, slots=True)
class RenderedRequest:
    """The exact request an adapter will send, minus secrets (added at dispatch)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: JsonValue
    # The key the provider sees (header, client_order_id, or a marker in the object).
    provider_idempotency_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": dict(sorted(self.headers.items())),
            "body": self.body,
            "provider_idempotency_key": self.provider_idempotency_key,
        }

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


@dataclass(frozen=True, slots=True)
class LookupResult:
    status: LookupStatus
    provider_object_id: str | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


@runtime_checkable
class ProviderAdapter(Protocol):
    """Implemented by every provider (sandbox, YouTube, Etsy, Shopify, Alpaca)."""

    @property
    def name(self) -> str: ...

    @property
    def actions(self) -> frozenset[str]: ...

    def render(self, intent: Intent) -> RenderedRequest:
        """Dry-run: the exact request for this intent. Pure, no secrets, no I/O."""
        ...

    def dispatch(self, intent: Intent, request: RenderedRequest) -> DispatchResult:
        """Send ``request`` (already re-rendered and hash-checked by the executor)."""
        ...

    def lookup(self, intent: Intent) -> LookupResult:
        """Ask the provider whether ``intent`` took effect (reconciliation)."""
        ...
