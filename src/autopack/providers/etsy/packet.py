"""What an Etsy listing packet must hold: who made it and when (Etsy's own
disclosures), title and description, one to ten images."""

from __future__ import annotations

from autopack.domain.packets import PacketProfile

WHO_MADE = ("i_did", "someone_else", "collective")
# Etsy's when_made enum as pinned from the Open API spec (Aug 2026); it changes
# over time, so it is one constant with a test against the facts file.
WHEN_MADE = (
    "made_to_order",
    "2020_2026",
    "2010_2019",
    "2007_2009",
    "before_2007",
    "2000_2006",
    "1990s",
    "1980s",
    "1970s",
    "1960s",
    "1950s",
    "1940s",
    "1930s",
    "1920s",
    "1910s",
    "1900s",
    "1800s",
    "1700s",
    "before_1700",
)

PACKET_PROFILE = PacketProfile(
    action="listing.create",
    disclosures={"who_made": WHO_MADE, "when_made": WHEN_MADE},
    text_limits={"title": 140},
    required_fields=("title", "description"),
    media_types=("image/jpeg", "image/png", "image/gif", "image/webp"),
    media_min=1,
    media_max=10,
    media_field="images",
    media_is_list=True,
    max_tags=13,
    max_tag_chars=20,
)
