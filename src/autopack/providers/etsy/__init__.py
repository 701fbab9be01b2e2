"""Etsy Open API v3: OAuth 2.0 with PKCE (rotating refresh tokens), ``listing.create``.

The adapter (``adapter.py``, imported only when first built) creates a draft
listing, uploads its images and publishes it when the payload asks. The shop
is the payload's ``shop_id`` (every URL holds it, so the render needs it; the
account names only the stored credential). The shared secret
(``etsy_shared_secret``) is a secret setting: masked everywhere.
"""

from __future__ import annotations

import re

from autopack.domain.credentials import OAuthProfile
from autopack.domain.ledger import ActionCategory
from autopack.domain.providers import ProviderAdapter
from autopack.domain.redaction import KEY_CHARS, TOKEN_END, PatternRule
from autopack.providers.etsy.packet import PACKET_PROFILE
from autopack.providers.unit import ActionWire, ProviderContext, ProviderUnit

# Endpoint URLs below are public addresses, not secrets.
CREDENTIAL_PROFILE = OAuthProfile(
    provider="etsy",
    title="Etsy Open API v3",
    authorize_url="https://www.etsy.com/oauth/connect",
    token_url="https://api.etsy.com/v3/public/oauth/token",  # noqa: S106 - a public URL
    revoke_url=None,
    scopes=("listings_r", "listings_w", "shops_r"),
    rotating_refresh=True,
    client_secret_required=False,
    notes="PKCE public client; every refresh returns a new refresh token.",
)

REDACTION_RULES = (
    PatternRule(
        "etsy-oauth-token",
        "Etsy OAuth token: numeric user id, a dot, and a long token",
        re.compile(r"(?P<secret>[0-9]{5,12}\.[A-Za-z0-9_\-]{40,})" + TOKEN_END),
        not_after=KEY_CHARS,
    ),
)


def build_adapter(context: ProviderContext) -> ProviderAdapter:
    from autopack.providers.etsy.adapter import EtsyAdapter

    settings = context.settings
    return EtsyAdapter(
        settings.etsy_api_url,
        keystring=settings.etsy_client_id,
        shared_secret=settings.etsy_shared_secret,
        credentials=context.credentials,
        media_root=settings.workspace_path,
        transport=context.transport,
    )


UNIT = ProviderUnit(
    name="etsy",
    title="Etsy Open API v3",
    adapter_factory=build_adapter,
    credential_profile=CREDENTIAL_PROFILE,
    actions={"listing.create": ActionCategory.LIST},
    redaction_rules=REDACTION_RULES,
    settings=("etsy_client_id", "etsy_shared_secret", "etsy_api_url"),
    wire={
        "listing.create": ActionWire(
            idempotency="none at Etsy: a marker in the draft's description, the draft's "
            "listing_id checkpointed before any image, images re-sent with overwrite",
            lookup="getListing by the checkpointed listing_id, else the shop's drafts "
            "(getListingsByShop?state=draft) searched for the marker",
        )
    },
    packet=PACKET_PROFILE,
    policy_pages=(
        "https://www.etsy.com/legal/terms-of-use",
        "https://www.etsy.com/legal/sellers",
        "https://www.etsy.com/legal/prohibited",
        "https://www.etsy.com/legal/creativity",
    ),
)
