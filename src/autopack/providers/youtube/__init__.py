"""YouTube Data API v3: Google OAuth 2.0, Google token formats, ``video.upload``.

The adapter is not built yet (``adapter_factory=None``): accounts can be
connected and their tokens are masked, but nothing can be proposed for YouTube.
"""

from __future__ import annotations

import re
from datetime import timedelta

from autopack.domain.credentials import OAuthProfile, RefreshExpiryRule
from autopack.domain.ledger import ActionCategory
from autopack.domain.redaction import TOKEN_CHARS, TOKEN_END, PatternRule
from autopack.providers.unit import ProviderUnit
from autopack.providers.youtube.packet import PACKET_PROFILE

# Endpoint URLs below are public addresses, not secrets.
CREDENTIAL_PROFILE = OAuthProfile(
    provider="youtube",
    title="YouTube (Google OAuth 2.0)",
    authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
    token_url="https://oauth2.googleapis.com/token",  # noqa: S106 - a public URL
    revoke_url="https://oauth2.googleapis.com/revoke",
    scopes=(
        "https://www.googleapis.com/auth/youtube.upload",
        "https://www.googleapis.com/auth/youtube.readonly",
    ),
    rotating_refresh=False,
    client_secret_required=True,
    # offline: get a refresh token; consent: get one again on reconnect.
    authorize_params=(("access_type", "offline"), ("prompt", "consent")),
    notes="Apps in 'Testing' publishing status get refresh tokens that expire after 7 days.",
    refresh_expiry=RefreshExpiryRule(
        code="google_testing_refresh_expiry",
        lifetime=timedelta(days=7),
        warn_before=timedelta(days=1),
        condition="if this Google OAuth app is in 'Testing' publishing status",
        remedy="publish the app (In production) or reconnect before then",
    ),
)

REDACTION_RULES = (
    PatternRule(
        "google-api-key",
        "Google API key: AIza followed by 35 characters",
        re.compile(r"(?P<secret>AIza[0-9A-Za-z_\-]{35})" + TOKEN_END),
        triggers=("aiza",),
        not_after=TOKEN_CHARS,
    ),
    PatternRule(
        "google-oauth-access",
        "Google OAuth access token: ya29. prefix",
        re.compile(r"(?P<secret>ya29\.[0-9A-Za-z_\-.]{20,})"),
        triggers=("ya29.",),
        not_after=TOKEN_CHARS,
    ),
    PatternRule(
        "google-oauth-refresh",
        "Google OAuth refresh token: 1// prefix",
        re.compile(r"(?P<secret>1//[0-9A-Za-z_\-]{20,})"),
        triggers=("1//",),
        not_after=TOKEN_CHARS + "/",
    ),
    PatternRule(
        "google-client-secret",
        "Google OAuth client secret: GOCSPX- prefix",
        re.compile(r"(?P<secret>GOCSPX-[0-9A-Za-z_\-]{20,})"),
        triggers=("gocspx-",),
        not_after=TOKEN_CHARS,
    ),
)

UNIT = ProviderUnit(
    name="youtube",
    title="YouTube Data API v3",
    adapter_factory=None,
    credential_profile=CREDENTIAL_PROFILE,
    actions={"video.upload": ActionCategory.PUBLISH},
    redaction_rules=REDACTION_RULES,
    settings=("youtube_client_id", "youtube_client_secret"),
    wire={},
    packet=PACKET_PROFILE,
    policy_pages=(
        "https://www.youtube.com/t/terms",
        "https://www.youtube.com/howyoutubeworks/policies/community-guidelines/",
        "https://support.google.com/youtube/answer/14328491",
    ),
)
