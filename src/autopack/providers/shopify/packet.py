"""What a Shopify product packet must hold: the title (Shopify takes product media
by URL, not upload, so the packet carries none)."""

from __future__ import annotations

from autopack.domain.packets import PacketProfile

PACKET_PROFILE = PacketProfile(
    action="product.upsert",
    disclosures={},
    text_limits={"title": 255},
    required_fields=("title",),
    media_types=(),
    media_min=0,
    media_max=0,
    media_field="media",
    media_is_list=True,
    max_tags=250,
    max_tag_chars=255,
)
