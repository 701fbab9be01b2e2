"""``multipart/form-data`` for uploadListingImage: a deterministic boundary, the
exact framing bytes, and the image streamed from disk between them.

The boundary is derived from the hash of the rendered part description (fields
plus the media reference, whose SHA-256 names the bytes), so the render shows
the Content-Type header that will be sent and stays byte-identical across runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from autopack.domain.canonical import JsonValue, canonical_hash
from autopack.providers._media import MediaRef, read_range

BOUNDARY_PREFIX = "autopack-"
BOUNDARY_HEX = 32
FILE_FIELD = "image"
STREAM_PIECE_BYTES = 256 * 1024


def boundary_for(body: JsonValue) -> str:
    return BOUNDARY_PREFIX + canonical_hash(body)[:BOUNDARY_HEX]


def content_type(boundary: str) -> str:
    return f"multipart/form-data; boundary={boundary}"


@dataclass(frozen=True, slots=True)
class MultipartBody:
    """The framing around one file part; ``length`` is the exact Content-Length."""

    head: bytes
    tail: bytes
    media: MediaRef

    @property
    def length(self) -> int:
        return len(self.head) + self.media.size + len(self.tail)

    def stream(self, path: Path) -> Iterator[bytes]:
        yield self.head
        yield from read_range(path, 0, self.media.size, STREAM_PIECE_BYTES)
        yield self.tail


def build(
    boundary: str, fields: Mapping[str, str], media: MediaRef, filename: str
) -> MultipartBody:
    """Text fields first (in the given order), then the file part."""
    head = bytearray()
    for name, value in fields.items():
        head += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        head += value.encode("utf-8") + b"\r\n"
    head += (
        f"--{boundary}\r\nContent-Disposition: form-data; "
        f'name="{FILE_FIELD}"; filename="{filename}"\r\n'
        f"Content-Type: {media.content_type}\r\n\r\n"
    ).encode()
    return MultipartBody(bytes(head), f"\r\n--{boundary}--\r\n".encode(), media)
