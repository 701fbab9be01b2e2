"""Shopify Admin API: OAuth 2.0 with expiring offline tokens (the account is the
shop name), ``product.upsert``, ``inventory.adjust`` and ``metafields.set``.

The adapter is not built yet (``adapter_factory=None``): shops can be connected
and their tokens are masked, but nothing can be proposed for Shopify.
"""

from __future__ import annotations

import re

from autopack.domain.credentials import OAuthProfile
from autopack.domain.ledger import ActionCategory
from autopack.domain.redaction import TOKEN_CHARS, TOKEN_END, PatternRule
from autopack.providers.shopify.packet import PACKET_PROFILE
from autopack.providers.unit import ProviderUnit

# Endpoint URLs below are public addresses, not secrets.
CREDENTIAL_PROFILE = OAuthProfile(
    provider="shopify",
    title="Shopify Admin API (expiring offline tokens)",
    authorize_url="https://{account}.myshopify.com/admin/oauth/authorize",
    token_url="https://{account}.myshopify.com/admin/oauth/access_token",  # noqa: S106 - a public URL
    revoke_url=None,
    scopes=("read_products", "write_products"),
    rotating_refresh=True,
    client_secret_required=True,
    authorize_params=(("expiring", "1"),),
    notes="The account is the shop name; expiring offline tokens rotate on refresh.",
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
    adapter_factory=None,
    credential_profile=CREDENTIAL_PROFILE,
    actions={
        "product.upsert": ActionCategory.LIST,
        "inventory.adjust": ActionCategory.LIST,
        # Not a listing change a buyer sees: a project policy may auto-approve it.
        "metafields.set": ActionCategory.OTHER,
    },
    redaction_rules=REDACTION_RULES,
    settings=("shopify_client_id", "shopify_client_secret"),
    wire={},
    packet=PACKET_PROFILE,
)
