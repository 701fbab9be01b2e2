"""Media files named by a payload: the reference, where it lives, and its bytes.

A payload names a file as ``{"path": "...", "size": N, "sha256": "<hex>",
"content_type": "video/mp4"}``. The path is relative (POSIX separators) to the
media root, the workspace by default, so a render is the same on every machine
and binds the approval to the declared bytes. Dispatch re-hashes the file
before sending anything (a changed byte refuses) and streams it from disk in
pieces; nothing reads a whole file into memory.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError

HASH_BUFFER_BYTES = 1024 * 1024
MAX_MEDIA_BYTES = 256 * 1024**3  # YouTube's own ceiling; no provider takes more
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CONTENT_TYPE = re.compile(r"[a-z]+/[a-z0-9.+\-]+")


class MediaRefError(InvalidInputError):
    default_code = ErrorCode.INVALID_MEDIA_REF


@dataclass(frozen=True, slots=True)
class MediaRef:
    path: str
    size: int
    sha256: str
    content_type: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "content_type": self.content_type,
        }


def parse_media_ref(value: Any, field: str) -> MediaRef:
    """Validate one media reference (pure: the file is not read)."""
    if not isinstance(value, Mapping):
        raise MediaRefError(f"{field} must be an object with path, size, sha256, content_type")
    unknown = sorted(set(value) - {"path", "size", "sha256", "content_type"})
    if unknown:
        raise MediaRefError(f"{field}: unknown fields {', '.join(unknown)}")
    path = value.get("path")
    if not isinstance(path, str) or not path:
        raise MediaRefError(f"{field}.path must be a non-empty relative path")
    posix = PurePosixPath(path)
    if "\\" in path or posix.is_absolute() or ".." in posix.parts or ":" in posix.parts[0]:
        raise MediaRefError(
            f"{field}.path must be relative to the media root, without '..': got {path[:120]!r}"
        )
    size = value.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_MEDIA_BYTES:
        raise MediaRefError(f"{field}.size must be a positive integer of bytes")
    digest = value.get("sha256")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise MediaRefError(f"{field}.sha256 must be 64 lower-case hex digits")
    content_type = value.get("content_type")
    if not isinstance(content_type, str) or not _CONTENT_TYPE.fullmatch(content_type):
        raise MediaRefError(f"{field}.content_type must be a MIME type such as video/mp4")
    return MediaRef(str(posix), size, digest, content_type)


def resolve_media(ref: MediaRef, root: Path) -> Path:
    """The file of ``ref`` under ``root``; refuses a path (or symlink) that escapes it."""
    base = root.resolve()
    target = (base / ref.path).resolve()
    if not target.is_relative_to(base):
        raise MediaRefError(f"media {ref.path!r} resolves outside the media root")
    return target


def hash_file(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of ``path``, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb", buffering=0) as source:
        buffer = bytearray(HASH_BUFFER_BYTES)
        view = memoryview(buffer)
        while read := source.readinto(buffer):
            digest.update(view[:read])
            size += read
    return size, digest.hexdigest()


def media_problem(ref: MediaRef, root: Path) -> str | None:
    """Why the file does not hold the approved bytes, or None when it does."""
    try:
        path = resolve_media(ref, root)
        size, digest = hash_file(path)
    except MediaRefError as exc:
        return str(exc)
    except OSError as exc:
        return f"media {ref.path!r} cannot be read: {exc.strerror or exc}"
    if size != ref.size:
        return f"media {ref.path!r} has {size} bytes, approved were {ref.size}"
    if digest != ref.sha256:
        return f"media {ref.path!r} changed since approval (SHA-256 {digest[:12]}...)"
    return None


def read_range(path: Path, start: int, end: int, piece: int) -> Iterator[bytes]:
    """Bytes ``start`` to ``end`` (exclusive) of ``path``, ``piece`` bytes at a time."""
    with path.open("rb") as source:
        source.seek(start)
        left = end - start
        while left > 0:
            data = source.read(min(piece, left))
            if not data:
                raise OSError(f"{path.name} ended at byte {end - left}, expected {end}")
            left -= len(data)
            yield data
