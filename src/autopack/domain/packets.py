"""Publish packets: the exact text, media and disclosures a publish or list action
sends, content-addressed (pure: no I/O; the service reads files and writes them).

A packet is built from a spec (the provider's text fields, the disclosures it
requires, compliance flags) and the media files, whose size and SHA-256
Autopack computes from the bytes and whose type it sniffs from the content. Its
id is the SHA-256 of its canonical JSON, so nothing inside it may vary between
machines or runs: no clock, no absolute path, no random id. The action's
payload IS the packet, so an approval binds to the packet's hash.

A provider whose publish/list action takes packets declares a
:class:`PacketProfile` (in its provider unit): which action, the disclosures it
requires, text limits, the media types and count it takes, and the payload
field its adapter reads the media from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Final

from autopack.domain.canonical import JsonValue, canonical_hash, normalize
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError, NotFoundError

PACKET_SCHEMA: Final = "autopack.packet/1"
PACKET_ID = re.compile(r"[0-9a-f]{64}")
MAX_MEDIA_NAME = 120
# Spec keys; anything else in a spec is refused (a typo would be silently dropped).
SPEC_KEYS: Final = frozenset({"provider", "action", "fields", "disclosures", "compliance"})
PACKET_KEYS: Final = frozenset(
    {"schema", "provider", "action", "run", "fields", "disclosures", "compliance", "media"}
    | {"policy_refs"}
)


class PacketError(InvalidInputError):
    default_code = ErrorCode.INVALID_PACKET


class PacketNotFoundError(NotFoundError):
    default_code = ErrorCode.PACKET_NOT_FOUND


@dataclass(frozen=True, slots=True)
class PacketProfile:
    """What one provider's packet-taking action requires."""

    action: str
    # disclosure -> allowed values; an empty tuple means "true or false".
    disclosures: Mapping[str, tuple[str, ...]]
    # text field -> its limit in characters (the field is required when listed
    # in ``required_fields``).
    text_limits: Mapping[str, int]
    required_fields: tuple[str, ...]
    # MIME types the media must sniff as; the number of media files allowed.
    media_types: tuple[str, ...]
    media_min: int
    media_max: int
    # Where the adapter's payload takes the media: one reference or a list.
    media_field: str
    media_is_list: bool
    # Most tags a packet may carry, and each tag's limit (0: tags not taken).
    max_tags: int = 0
    max_tag_chars: int = 0
    tags_field: str = "tags"


@dataclass(frozen=True, slots=True)
class MediaFact:
    """One media file as the service found it."""

    name: str
    # POSIX path relative to the packet's base (the run directory, else the workspace).
    path: str
    size: int
    sha256: str
    content_type: str


@dataclass(frozen=True, slots=True)
class PolicyRef:
    provider: str
    url: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"provider": self.provider, "url": self.url, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class PacketSpec:
    provider: str
    action: str
    fields: Mapping[str, JsonValue]
    disclosures: Mapping[str, JsonValue]
    compliance: Mapping[str, JsonValue] = field(default_factory=dict)


def _object(value: Any, name: str) -> dict[str, JsonValue]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PacketError(f"{name} must be a JSON object")
    normalized = normalize(dict(value))
    assert isinstance(normalized, dict)
    return normalized


def parse_spec(raw: Any) -> PacketSpec:
    """A spec file's content, checked for shape (the profile checks the values)."""
    if not isinstance(raw, Mapping):
        raise PacketError("a packet spec is a JSON object")
    unknown = sorted(set(raw) - SPEC_KEYS)
    if unknown:
        raise PacketError(
            f"packet spec: unknown keys {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(SPEC_KEYS))}"
        )
    provider, action = raw.get("provider"), raw.get("action")
    if not isinstance(provider, str) or not isinstance(action, str):
        raise PacketError("packet spec: provider and action are required strings")
    return PacketSpec(
        provider=provider,
        action=action,
        fields=_object(raw.get("fields"), "fields"),
        disclosures=_object(raw.get("disclosures"), "disclosures"),
        compliance=_object(raw.get("compliance"), "compliance"),
    )


def check_spec(spec: PacketSpec, profile: PacketProfile) -> None:
    """Every required disclosure, valid values, text within the provider's limits."""
    if spec.action != profile.action:
        raise PacketError(
            f"{spec.provider} takes packets for {profile.action}, not {spec.action}",
            details={"provider": spec.provider, "action": spec.action},
        )
    for name, allowed in profile.disclosures.items():
        value = spec.disclosures.get(name)
        if value is None:
            raise PacketError(
                f"{spec.provider} requires the disclosure {name}: state it in the spec's "
                "disclosures (there is no default)",
                code=ErrorCode.MISSING_DISCLOSURE,
                details={"disclosure": name},
            )
        if allowed and value not in allowed:
            raise PacketError(
                f"disclosure {name} must be one of {', '.join(allowed)}",
                details={"disclosure": name},
            )
        if not allowed and not isinstance(value, bool):
            raise PacketError(f"disclosure {name} must be true or false")
    extra = sorted(set(spec.disclosures) - set(profile.disclosures))
    if extra:
        raise PacketError(f"{spec.provider} takes no disclosure {', '.join(extra)}")
    for name in profile.required_fields:
        value = spec.fields.get(name)
        if not isinstance(value, str) or not value.strip():
            raise PacketError(f"field {name} is required and must be non-empty text")
    for name, limit in profile.text_limits.items():
        value = spec.fields.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise PacketError(f"field {name} must be text")
        if len(value) > limit:
            raise PacketError(
                f"field {name} has {len(value)} characters; {spec.provider} allows {limit}",
                code=ErrorCode.TEXT_OVER_LIMIT,
                details={"field": name, "limit": limit, "length": len(value)},
            )
    tags = spec.fields.get(profile.tags_field)
    if tags is not None:
        if not profile.max_tags:
            raise PacketError(f"{spec.provider} takes no {profile.tags_field}")
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            raise PacketError(f"{profile.tags_field} must be a list of non-empty text")
        if len(tags) > profile.max_tags:
            raise PacketError(
                f"{len(tags)} {profile.tags_field}; {spec.provider} allows {profile.max_tags}",
                code=ErrorCode.TEXT_OVER_LIMIT,
            )
        long = [str(t) for t in tags if len(str(t)) > profile.max_tag_chars]
        if long:
            raise PacketError(
                f"tag {long[0][:40]!r} is over {profile.max_tag_chars} characters",
                code=ErrorCode.TEXT_OVER_LIMIT,
            )
    for reserved in (profile.media_field, *profile.disclosures):
        if reserved in spec.fields:
            raise PacketError(
                f"field {reserved} is set by the packet (media or disclosures), not in fields"
            )


def check_media(media: list[MediaFact], profile: PacketProfile, provider: str) -> None:
    if not profile.media_min <= len(media) <= profile.media_max:
        raise PacketError(
            f"{provider} {profile.action} takes {profile.media_min}..{profile.media_max} "
            f"media files, got {len(media)}"
        )
    for fact in media:
        if fact.content_type not in profile.media_types:
            raise PacketError(
                f"media {fact.name!r} is {fact.content_type} by its content; {provider} "
                f"takes {', '.join(profile.media_types)}",
                code=ErrorCode.MEDIA_TYPE_MISMATCH,
                details={"media": fact.name, "sniffed": fact.content_type},
            )
    names = [fact.name for fact in media]
    if len(set(names)) != len(names):
        raise PacketError("two media files share a name")


def build_packet(
    spec: PacketSpec,
    profile: PacketProfile,
    media: list[MediaFact],
    policy_refs: list[PolicyRef],
    run: Mapping[str, str] | None,
) -> dict[str, JsonValue]:
    """The packet document (its id is ``packet_id`` of it)."""
    check_spec(spec, profile)
    check_media(media, profile, spec.provider)
    document: dict[str, Any] = {
        "schema": PACKET_SCHEMA,
        "provider": spec.provider,
        "action": spec.action,
        "run": dict(run) if run is not None else None,
        "fields": dict(spec.fields),
        "disclosures": dict(spec.disclosures),
        "compliance": dict(spec.compliance),
        "media": [
            {
                "name": m.name,
                "path": m.path,
                "size": m.size,
                "sha256": m.sha256,
                "content_type": m.content_type,
            }
            for m in media
        ],
        "policy_refs": [r.to_dict() for r in sorted(policy_refs, key=lambda r: (r.url, r.sha256))],
    }
    normalized = normalize(document)
    assert isinstance(normalized, dict)
    return normalized


def packet_id(document: Mapping[str, Any]) -> str:
    return canonical_hash(dict(document))


def is_packet(payload: Mapping[str, Any]) -> bool:
    return payload.get("schema") == PACKET_SCHEMA


def validate_packet_id(value: str) -> str:
    if not PACKET_ID.fullmatch(value):
        raise PacketError("a packet id is 64 lower-case hex digits (its SHA-256)")
    return value


def open_packet(document: Any, profile: PacketProfile) -> dict[str, Any]:
    """A packet document checked again as a whole (a payload or a stored file)."""
    if not isinstance(document, Mapping) or not is_packet(document):
        raise PacketError(f"not a packet: its schema must be {PACKET_SCHEMA}")
    unknown = sorted(set(document) - PACKET_KEYS)
    if unknown:
        raise PacketError(f"packet: unknown keys {', '.join(unknown)}")
    spec = parse_spec({k: document.get(k) for k in SPEC_KEYS})
    media_raw = document.get("media")
    if not isinstance(media_raw, list):
        raise PacketError("packet: media must be a list")
    media: list[MediaFact] = []
    for entry in media_raw:
        if not isinstance(entry, Mapping):
            raise PacketError("packet: each media entry is an object")
        try:
            media.append(
                MediaFact(
                    name=str(entry["name"]),
                    path=str(entry["path"]),
                    size=int(entry["size"]),
                    sha256=str(entry["sha256"]),
                    content_type=str(entry["content_type"]),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PacketError(f"packet: a media entry lacks {exc}") from None
    refs = document.get("policy_refs")
    if not isinstance(refs, list) or not all(
        isinstance(r, Mapping) and set(r) == {"provider", "url", "sha256"} for r in refs
    ):
        raise PacketError("packet: policy_refs must be a list of {provider, url, sha256}")
    check_spec(spec, profile)
    check_media(media, profile, spec.provider)
    return dict(document)


def media_workspace_path(document: Mapping[str, Any], path: str) -> str:
    """A packet media path (relative to its run, else the workspace) made relative
    to the workspace, normalised; refuses one that leaves the workspace."""
    run = document.get("run")
    base = PurePosixPath(".")
    if isinstance(run, Mapping):
        base = PurePosixPath(
            ".autonomous_runs", str(run["project"]), "runs", str(run["family"]), str(run["run_id"])
        )
    parts: list[str] = []
    for part in (base / path).parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise PacketError(f"media path {path!r} leaves the workspace")
            parts.pop()
        else:
            parts.append(part)
    if not parts:
        raise PacketError(f"media path {path!r} names no file")
    return "/".join(parts)


def adapter_payload(document: Mapping[str, Any], profile: PacketProfile) -> dict[str, JsonValue]:
    """What the provider's adapter reads: the fields, the disclosures and the media
    references (workspace-relative paths) under the profile's media field."""
    refs = [
        {
            "path": media_workspace_path(document, str(m["path"])),
            "size": m["size"],
            "sha256": m["sha256"],
            "content_type": m["content_type"],
        }
        for m in document["media"]
    ]
    payload: dict[str, Any] = {**document["fields"], **document["disclosures"]}
    if refs or profile.media_min:
        payload[profile.media_field] = refs if profile.media_is_list else refs[0]
    normalized = normalize(payload)
    assert isinstance(normalized, dict)
    return normalized


# -- content sniffing ----------------------------------------------------------------

SNIFF_BYTES: Final = 64


def sniff_content_type(head: bytes) -> str:
    """The media type the first bytes of a file show (application/octet-stream when
    none is recognised): magic numbers, never the file name."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if brand.startswith((b"M4A", b"M4B")):
            return "audio/mp4"
        return "video/mp4"
    return "application/octet-stream"
