"""The sandbox provider: a local HTTP server (``autopack sandbox serve``) with the
shapes of the real providers, fake side effects and fault injection.

It needs no stored credential and its tokens have no format of their own, so it
declares no credential profile and no redaction rules. The adapter lives in
``adapter.py`` and is imported only when first built.
"""

from __future__ import annotations

from autopack.domain.ledger import ActionCategory
from autopack.domain.providers import ProviderAdapter
from autopack.providers.unit import ActionWire, ProviderContext, ProviderUnit


def build_adapter(context: ProviderContext) -> ProviderAdapter:
    from autopack.providers.sandbox.adapter import SandboxAdapter

    return SandboxAdapter(context.settings.sandbox_url, transport=context.transport)


UNIT = ProviderUnit(
    name="sandbox",
    title="Sandbox (local fake provider)",
    adapter_factory=build_adapter,
    credential_profile=None,
    actions={
        "video.upload": ActionCategory.PUBLISH,
        "listing.create": ActionCategory.LIST,
        "product.create": ActionCategory.LIST,
        "order.submit": ActionCategory.TRADE,
    },
    redaction_rules=(),
    settings=("sandbox_url",),
    wire={
        action: ActionWire(
            idempotency="Idempotency-Key header (mode idempotent); none in the other modes",
            lookup="GET by the client_ref marker in the body (501 in mode none)",
        )
        for action in ("video.upload", "listing.create", "product.create", "order.submit")
    },
    packet=None,
)
