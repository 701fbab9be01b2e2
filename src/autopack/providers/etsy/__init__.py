"""Etsy Open API v3: OAuth 2.0 with PKCE (rotating refresh tokens), ``listing.create``.

The adapter is not built yet (``adapter_factory=None``): accounts can be
connected and their tokens are masked, but nothing can be proposed for Etsy.
"""

from __future__ import annotations

import re

from autopack.domain.credentials import OAuthProfile
from autopack.domain.ledger import ActionCategory
from autopack.domain.redaction import KEY_CHARS, TOKEN_END, PatternRule
from autopack.providers.etsy.packet import PACKET_PROFILE
from autopack.providers.unit import ProviderUnit

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

UNIT = ProviderUnit(
    name="etsy",
    title="Etsy Open API v3",
    adapter_factory=None,
    credential_profile=CREDENTIAL_PROFILE,
    actions={"listing.create": ActionCategory.LIST},
    redaction_rules=REDACTION_RULES,
    settings=("etsy_client_id",),
    wire={},
    packet=PACKET_PROFILE,
)
