"""Helpers shared by the YouTube tests: media files, intents and a token stub."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from autopack.domain.providers import Intent
from autopack.providers._media import HASH_BUFFER_BYTES
from autopack.providers.unit import ApiKeyCredential

KIB = 1024
MIB = 1024 * KIB
QUANTUM = 256 * KIB
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
ACCESS_TOKEN = "ya29.test-access-token-" + "Qx7" * 10


def write_media(path: Path, size: int, seed: int = 7) -> dict[str, Any]:
    """A deterministic file of ``size`` bytes and its media reference (relative name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    block = hashlib.sha256(f"seed-{seed}".encode()).digest() * (HASH_BUFFER_BYTES // 32)
    # An MP4 'ftyp' box first, so content sniffing (publish packets) sees video/mp4.
    block = (MP4_HEAD + block)[: len(block)]
    left = size
    with path.open("wb") as out:
        while left:
            piece = block[: min(len(block), left)]
            out.write(piece)
            digest.update(piece)
            left -= len(piece)
    return {
        "path": path.name,
        "size": size,
        "sha256": digest.hexdigest(),
        "content_type": "video/mp4",
    }


def payload(media: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "Autopack test upload",
        "description": "A test video.",
        "tags": ["autopack", "test"],
        "categoryId": "22",
        "privacyStatus": "private",
        "selfDeclaredMadeForKids": False,
        "containsSyntheticMedia": True,
        "media": media,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def packet_spec(**fields: Any) -> dict[str, Any]:
    """A publish-packet spec for ``video.upload`` (the payload the ledger takes)."""
    return {
        "provider": "youtube",
        "action": "video.upload",
        "fields": {
            "title": "Autopack test upload",
            "description": "A test video.",
            "tags": ["autopack", "test"],
            "categoryId": "22",
            "privacyStatus": "private",
            **fields,
        },
        "disclosures": {"containsSyntheticMedia": True, "selfDeclaredMadeForKids": False},
        "compliance": {"reviewed": True},
    }


def intent(data: dict[str, Any], key: str = "yt-1", account: str = "main") -> Intent:
    return Intent("youtube", "video.upload", account, key, data)


class StaticToken:
    """A credential accessor that hands out one fixed token (no store)."""

    def __init__(self, token: str = ACCESS_TOKEN) -> None:
        self.token = token
        self.calls = 0

    def access_token(self, account: str) -> str:
        self.calls += 1
        return self.token

    def api_key(self, account: str) -> ApiKeyCredential:
        raise AssertionError("YouTube uses OAuth")
