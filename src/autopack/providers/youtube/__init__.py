"""YouTube Data API v3: Google OAuth 2.0, Google token formats, ``video.upload``.

``video.upload`` is a resumable upload (``adapter.py``): the session URI is
checkpointed before any media byte is sent, chunks of ``youtube_chunk_bytes``
resume from the acknowledged offset, and an unknown outcome is reconciled
through a marker in the description, found in the channel's uploads playlist.
The adapter is imported only when first built.
"""

from __future__ import annotations

import re
from datetime import timedelta

from autopack.domain.credentials import OAuthProfile, RefreshExpiryRule
from autopack.domain.ledger import ActionCategory
from autopack.domain.providers import ProviderAdapter
from autopack.domain.redaction import TOKEN_CHARS, TOKEN_END, PatternRule
from autopack.providers.unit import ActionWire, ProviderContext, ProviderUnit
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


def build_adapter(context: ProviderContext) -> ProviderAdapter:
    from autopack.providers.youtube.adapter import YouTubeAdapter

    settings = context.settings
    return YouTubeAdapter(
        api_url=settings.youtube_api_url,
        chunk_bytes=settings.youtube_chunk_bytes,
        quota_cost_insert=settings.youtube_quota_cost_insert,
        quota_cost_list=settings.youtube_quota_cost_list,
        credentials=context.credentials,
        media_root=settings.workspace_path,
        clock=context.clock,
        transport=context.transport,
    )


UNIT = ProviderUnit(
    name="youtube",
    title="YouTube Data API v3",
    adapter_factory=build_adapter,
    credential_profile=CREDENTIAL_PROFILE,
    actions={"video.upload": ActionCategory.PUBLISH},
    redaction_rules=REDACTION_RULES,
    settings=(
        "youtube_client_id",
        "youtube_client_secret",
        "youtube_api_url",
        "youtube_chunk_bytes",
        "youtube_quota_cost_insert",
        "youtube_quota_cost_list",
    ),
    wire={
        "video.upload": ActionWire(
            idempotency="none at YouTube: one resumable session per action, its URI "
            "checkpointed before any byte; a marker written into the description",
            lookup="session status query (bytes */TOTAL); else the marker in the "
            "channel's uploads playlist (playlistItems.list, not search)",
        )
    },
    packet=PACKET_PROFILE,
    policy_pages=(
        "https://www.youtube.com/t/terms",
        "https://www.youtube.com/howyoutubeworks/policies/community-guidelines/",
        "https://support.google.com/youtube/answer/14328491",
    ),
)
