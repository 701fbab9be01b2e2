"""What a YouTube upload packet must hold: the AI/altered-content and made-for-kids
disclosures (no default for either), the title and privacy, one video file."""

from __future__ import annotations

from autopack.domain.packets import PacketProfile

PACKET_PROFILE = PacketProfile(
    action="video.upload",
    disclosures={"containsSyntheticMedia": (), "selfDeclaredMadeForKids": ()},
    # YouTube's documented limits: title 100 characters, description 5000.
    text_limits={"title": 100, "description": 5000},
    required_fields=("title", "privacyStatus"),
    media_types=("video/mp4", "video/quicktime", "video/webm", "video/x-msvideo"),
    media_min=1,
    media_max=1,
    media_field="media",
    media_is_list=False,
    # The tags' total is capped at 500 characters by YouTube (the adapter checks it).
    max_tags=100,
    max_tag_chars=100,
)
