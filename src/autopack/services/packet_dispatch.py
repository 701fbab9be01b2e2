"""The packet-taking action of a provider: its payload IS a publish packet.

``PacketAdapter`` wraps a provider's adapter (the registry wraps every adapter
whose unit declares a packet profile). For the packet action, the payload must
be a packet document (else ``packet_required``); it is checked again as a whole
and turned into what the adapter reads (fields, disclosures, media references
relative to the workspace) before render, dispatch and lookup. The ledger
records the packet itself, so the approval binds to the packet's hash; the
adapter re-hashes each media file before sending (a changed byte refuses).
Every other action of the provider passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autopack.domain.canonical import JsonValue
from autopack.domain.error_codes import ErrorCode
from autopack.domain.packets import PacketError, PacketProfile, adapter_payload, is_packet
from autopack.domain.packets import open_packet as open_packet_document
from autopack.domain.providers import (
    DispatchProgress,
    DispatchResult,
    Intent,
    LookupResult,
    ProviderAdapter,
    RenderedRequest,
)


class PacketAdapter:
    def __init__(self, inner: ProviderAdapter, profile: PacketProfile) -> None:
        self._inner = inner
        self._profile = profile

    @property
    def inner(self) -> ProviderAdapter:
        return self._inner

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def actions(self) -> frozenset[str]:
        return self._inner.actions

    @property
    def request_timeout_seconds(self) -> Any:
        return getattr(self._inner, "request_timeout_seconds", None)

    def adapter_intent(self, intent: Intent) -> Intent:
        """The intent the wrapped adapter sees (the packet turned into its payload)."""
        if intent.action != self._profile.action:
            return intent
        if not is_packet(intent.payload):
            raise PacketError(
                f"{intent.provider} {intent.action} takes a publish packet as its payload: "
                f"build one with `autopack packets build --provider {intent.provider} "
                "--spec SPEC.json --media FILE` and propose it with --packet ID",
                code=ErrorCode.PACKET_REQUIRED,
            )
        document = open_packet_document(intent.payload, self._profile)
        if document["provider"] != intent.provider or document["action"] != intent.action:
            raise PacketError(
                f"the packet is for {document['provider']} {document['action']}, "
                f"not {intent.provider} {intent.action}"
            )
        return Intent(
            intent.provider,
            intent.action,
            intent.account,
            intent.idempotency_key,
            adapter_payload(document, self._profile),
        )

    def render(self, intent: Intent) -> RenderedRequest:
        return self._inner.render(self.adapter_intent(intent))

    def dispatch(
        self, intent: Intent, request: RenderedRequest, progress: DispatchProgress
    ) -> DispatchResult:
        return self._inner.dispatch(self.adapter_intent(intent), request, progress)

    def lookup(self, intent: Intent, state: Mapping[str, JsonValue]) -> LookupResult:
        return self._inner.lookup(self.adapter_intent(intent), state)

    def close(self) -> None:
        closer = getattr(self._inner, "close", None)
        if callable(closer):
            closer()
