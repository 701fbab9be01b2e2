"""A ``video.upload`` payload, validated, and the YouTube ``video`` resource it becomes.

Pure: nothing here reads the media file or the network. The payload names the
fields the way the YouTube Data API does::

    {"title": "...", "description": "...", "tags": ["..."], "categoryId": "22",
     "privacyStatus": "private", "publishAt": "2026-12-24T18:00:00Z",
     "selfDeclaredMadeForKids": false, "containsSyntheticMedia": false,
     "media": {"path": "clip.mp4", "size": N, "sha256": "<hex>",
               "content_type": "video/mp4"}}

``privacyStatus``, ``selfDeclaredMadeForKids`` and ``containsSyntheticMedia``
are required: the audience and AI-content disclosures are never a silent
default. ``publishAt`` is accepted only with ``privacyStatus: private`` (YouTube
schedules only private videos). The adapter appends its marker to the
description, so a lost initiate can be found in the channel's uploads playlist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from autopack.domain.canonical import JsonValue, canonical_hash
from autopack.domain.providers import Intent
from autopack.providers._media import MediaRef, parse_media_ref
from autopack.providers._payload import PayloadReader

PROVIDER_NAME: Final = "youtube"
ACTION: Final = "video.upload"

# Limits of the YouTube Data API (videos resource: snippet.title <= 100
# characters, snippet.description <= 5000 bytes, tags <= 500 characters in all,
# no angle brackets in title or description).
MAX_TITLE_CHARS: Final = 100
MAX_DESCRIPTION_BYTES: Final = 5000
MAX_TAGS_CHARS: Final = 500
MAX_TAGS: Final = 500
PRIVACY_STATUSES: Final = frozenset({"private", "public", "unlisted"})
MEDIA_TYPES: Final = re.compile(r"video/[a-z0-9.+\-]+|application/octet-stream")
_CATEGORY_ID: Final = re.compile(r"[0-9]{1,4}")
_PUBLISH_AT: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
FIELDS: Final = frozenset(
    {
        "title",
        "description",
        "tags",
        "categoryId",
        "privacyStatus",
        "publishAt",
        "selfDeclaredMadeForKids",
        "containsSyntheticMedia",
        "media",
    }
)

MARKER_PREFIX: Final = "ap-yt-"
MARKER_HEX: Final = 32
# The marker sits on the description's last line, after a blank line.
MARKER_SEPARATOR: Final = "\n\n"


def upload_marker(intent: Intent) -> str:
    """The token written into the description: stable for (provider, account,
    idempotency key), so a re-render after a restart gives the same marker."""
    digest = canonical_hash(
        {
            "provider": intent.provider,
            "account": intent.account,
            "idempotency_key": intent.idempotency_key,
        }
    )
    return MARKER_PREFIX + digest[:MARKER_HEX]


@dataclass(frozen=True, slots=True)
class VideoUpload:
    """One validated upload: the video resource to send and the media to stream."""

    resource: dict[str, JsonValue]
    media: MediaRef
    marker: str


def _tags_length(tags: list[str]) -> int:
    # YouTube counts a tag with a space as if quoted, and the commas between tags.
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(0, len(tags) - 1)


def _no_angle_brackets(reader: PayloadReader, field: str, value: str) -> None:
    if "<" in value or ">" in value:
        raise reader.error(field, "must not contain < or > (YouTube refuses them)")


def parse_upload(intent: Intent) -> VideoUpload:
    """Validate the payload of ``intent``; every refusal names its field."""
    reader = PayloadReader(PROVIDER_NAME, ACTION, intent.payload)
    reader.only(FIELDS)
    title = reader.text("title", max_chars=MAX_TITLE_CHARS)
    _no_angle_brackets(reader, "title", title)
    description = reader.text("description", required=False)
    _no_angle_brackets(reader, "description", description)
    marker = upload_marker(intent)
    full_description = f"{description}{MARKER_SEPARATOR}{marker}" if description.strip() else marker
    if len(full_description.encode("utf-8")) > MAX_DESCRIPTION_BYTES:
        room = MAX_DESCRIPTION_BYTES - len(MARKER_SEPARATOR) - len(marker)
        raise reader.error(
            "description",
            f"is {len(description.encode('utf-8'))} bytes of UTF-8; the limit is {room} "
            f"(YouTube's {MAX_DESCRIPTION_BYTES} less the adapter's marker)",
        )
    tags = reader.text_list("tags", max_items=MAX_TAGS, max_chars=MAX_TAGS_CHARS)
    if _tags_length(tags) > MAX_TAGS_CHARS:
        raise reader.error("tags", f"total more than {MAX_TAGS_CHARS} characters")
    for tag in tags:
        if "<" in tag or ">" in tag or "," in tag:
            raise reader.error("tags", "items must not contain <, > or a comma")
    category = reader.text("categoryId", required=False)
    if category and not _CATEGORY_ID.fullmatch(category):
        raise reader.error("categoryId", "must be a YouTube category id: 1 to 4 digits")
    privacy = reader.choice("privacyStatus", PRIVACY_STATUSES)
    made_for_kids = reader.boolean("selfDeclaredMadeForKids")
    synthetic = reader.boolean("containsSyntheticMedia")
    publish_at = reader.text("publishAt", required=False)
    if publish_at:
        if privacy != "private":
            raise reader.error("publishAt", "is allowed only with privacyStatus private")
        if not _PUBLISH_AT.fullmatch(publish_at) or not _valid_instant(publish_at):
            raise reader.error("publishAt", "must be a UTC time such as 2026-12-24T18:00:00Z")
    media = parse_media_ref(intent.payload.get("media"), "media")
    if not MEDIA_TYPES.fullmatch(media.content_type):
        raise reader.error("media.content_type", "must be video/* or application/octet-stream")

    snippet: dict[str, JsonValue] = {"title": title, "description": full_description}
    if tags:
        snippet["tags"] = list(tags)
    if category:
        snippet["categoryId"] = category
    status: dict[str, JsonValue] = {
        "privacyStatus": privacy,
        "selfDeclaredMadeForKids": made_for_kids,
        "containsSyntheticMedia": synthetic,
    }
    if publish_at:
        status["publishAt"] = publish_at
    return VideoUpload(resource={"snippet": snippet, "status": status}, media=media, marker=marker)


def _valid_instant(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def description_has_marker(description: Any, marker: str) -> bool:
    """Whether a description (as YouTube returns it) carries ``marker`` on a line of its own."""
    if not isinstance(description, str):
        return False
    return marker in (line.strip() for line in description.splitlines())
