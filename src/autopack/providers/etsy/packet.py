"""What an Etsy listing packet must hold: who made it and when (Etsy's own
disclosures), title and description, one to ten images."""

from __future__ import annotations

from autopack.domain.packets import PacketProfile

# who_made and when_made come from the one pinned list (``wire``: the Open API
# spec copy of Aug 2026, tested against the facts file) the adapter validates with.
from autopack.providers.etsy.wire import WHEN_MADE, WHO_MADE

PACKET_PROFILE = PacketProfile(
    action="listing.create",
    disclosures={"who_made": WHO_MADE, "when_made": WHEN_MADE},
    text_limits={"title": 140},
    required_fields=("title", "description"),
    # The types the Etsy adapter uploads (it refuses others before sending).
    media_types=("image/jpeg", "image/png", "image/gif"),
    media_min=1,
    media_max=10,
    media_field="images",
    media_is_list=True,
    max_tags=13,
    max_tag_chars=20,
)
