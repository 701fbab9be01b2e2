"""Shopify Admin API: OAuth 2.0 with expiring offline tokens (the account is the
shop name), ``product.upsert``, ``inventory.adjust`` and ``metafields.set``
through Admin GraphQL.

The adapter lives in ``adapter.py`` (imported only when first built); the
GraphQL texts in ``operations.py``, payload validation in ``payloads.py`` and
the answer classification in ``classify.py``.
"""

from __future__ import annotations

import re

from autopack.domain.credentials import OAuthProfile
from autopack.domain.ledger import ActionCategory
from autopack.domain.providers import ProviderAdapter
from autopack.domain.redaction import TOKEN_CHARS, TOKEN_END, PatternRule
from autopack.providers.shopify.packet import PACKET_PROFILE
from autopack.providers.unit import ActionWire, ProviderContext, ProviderUnit

# Endpoint URLs below are public addresses, not secrets.
CREDENTIAL_PROFILE = OAuthProfile(
    provider="shopify",
    title="Shopify Admin API (expiring offline tokens)",
    authorize_url="https://{account}.myshopify.com/admin/oauth/authorize",
    token_url="https://{account}.myshopify.com/admin/oauth/access_token",  # noqa: S106 - a public URL
    revoke_url=None,
    scopes=("read_products", "write_products", "read_inventory", "write_inventory"),
    rotating_refresh=True,
    client_secret_required=True,
    authorize_params=(("expiring", "1"),),
    notes="The account is the shop name; expiring offline tokens rotate on refresh.",
)


def build_adapter(context: ProviderContext) -> ProviderAdapter:
    from autopack.providers.shopify.adapter import ShopifyAdapter

    return ShopifyAdapter(
        context.settings.shopify_api_url,
        context.settings.shopify_api_version,
        context.credentials,
        transport=context.transport,
    )


REDACTION_RULES = (
    PatternRule(
        "shopify-token",
        "Shopify access token, custom/private app password or shared secret "
        "(shpat_, shpca_, shppa_, shpss_)",
        re.compile(r"(?P<secret>shp(?:at|ca|pa|ss)_[0-9A-Za-z]{20,})" + TOKEN_END),
        triggers=("shpat_", "shpca_", "shppa_", "shpss_"),
        not_after=TOKEN_CHARS,
    ),
)

UNIT = ProviderUnit(
    name="shopify",
    title="Shopify Admin GraphQL API",
    adapter_factory=build_adapter,
    credential_profile=CREDENTIAL_PROFILE,
    actions={
        "product.upsert": ActionCategory.LIST,
        "inventory.adjust": ActionCategory.LIST,
        # Not a listing change a buyer sees: a project policy may auto-approve it.
        "metafields.set": ActionCategory.OTHER,
    },
    redaction_rules=REDACTION_RULES,
    settings=(
        "shopify_client_id",
        "shopify_client_secret",
        "shopify_api_url",
        "shopify_api_version",
    ),
    wire={
        "product.upsert": ActionWire(
            idempotency="productSet upsert keyed on identifier (customId, handle, or a "
            "handle derived from the idempotency key)",
            lookup="productByIdentifier with the same identifier",
        ),
        "inventory.adjust": ActionWire(
            idempotency="@idempotent(key:) directive, a UUID derived from the idempotency key",
            lookup="none to ask: resend with the same key (changeFromQuantity guards a "
            "resend Shopify does not deduplicate; a stale answer goes to a person)",
        ),
        "metafields.set": ActionWire(
            idempotency="none needed: metafieldsSet sets values, a resend converges",
            lookup="none to ask: resend the same values",
        ),
    },
    packet=PACKET_PROFILE,
    policy_pages=(
        "https://www.shopify.com/legal/terms",
        "https://www.shopify.com/legal/aup",
        "https://www.shopify.com/legal/api-terms",
    ),
)
