"""A publish packet's media bytes, for the console's preview.

The file is named by the packet (never by a path from the request): the media
entry is looked up by its name in the stored, id-checked packet, and its path is
resolved under the workspace (a path or symlink leading out is refused). The
bytes are copied once into a spooled buffer while hashed; only when that copy
hashes to the packet's recorded SHA-256 (and sniffs as the recorded type) is it
served, so the bytes served are exactly the bytes checked, even if the file
changes meanwhile. Only types a browser shows inline, from a fixed list, are
served.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConflictError, InvalidInputError, NotFoundError
from autopack.domain.packets import SNIFF_BYTES, media_workspace_path, sniff_content_type
from autopack.providers._media import HASH_BUFFER_BYTES, MediaRef, resolve_media
from autopack.services.packets import PacketService

# What the console previews (<img>, <video>): fixed, never taken from a file name.
PREVIEW_TYPES: Final = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "video/mp4", "video/webm"}
)
# Larger files are not previewed (each preview copies the bytes once).
MAX_PREVIEW_BYTES: Final = 512 * 1024 * 1024
# Up to this size the checked copy stays in memory; beyond, in a temporary file.
SPOOL_MEMORY_BYTES: Final = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class MediaPreview:
    name: str
    content_type: str
    size: int
    sha256: str
    checked: IO[bytes]  # the verified copy, positioned at its start

    def chunks(self) -> Iterator[bytes]:
        """The verified bytes, then the copy is closed."""
        try:
            while piece := self.checked.read(HASH_BUFFER_BYTES):
                yield piece
        finally:
            self.checked.close()


def _entry(document: dict[str, Any], name: str, packet_id: str) -> dict[str, Any]:
    for entry in document["media"]:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    raise NotFoundError(
        f"packet {packet_id[:12]}... has no media file named {name[:80]!r}",
        code=ErrorCode.MEDIA_NOT_IN_PACKET,
    )


class PacketMedia:
    def __init__(self, packets: PacketService, workspace: Path) -> None:
        self._packets = packets
        self._workspace = workspace.resolve()

    def preview(self, packet_id: str, name: str) -> MediaPreview:
        """The checked bytes of media ``name`` of packet ``packet_id``."""
        document = self._packets.show(packet_id).document
        entry = _entry(document, name, packet_id)
        content_type, size, digest = (
            str(entry["content_type"]),
            int(entry["size"]),
            str(entry["sha256"]),
        )
        if content_type not in PREVIEW_TYPES:
            raise InvalidInputError(
                f"media {name!r} is {content_type}: the console previews only "
                f"{', '.join(sorted(PREVIEW_TYPES))}",
                code=ErrorCode.MEDIA_NOT_PREVIEWABLE,
            )
        if size > MAX_PREVIEW_BYTES:
            raise InvalidInputError(
                f"media {name!r} has {size} bytes: previews stop at {MAX_PREVIEW_BYTES}",
                code=ErrorCode.MEDIA_NOT_PREVIEWABLE,
            )
        relative = media_workspace_path(document, str(entry["path"]))
        path = resolve_media(MediaRef(relative, size, digest, content_type), self._workspace)
        checked = self._checked_copy(path, name, size, digest, content_type)
        return MediaPreview(name, content_type, size, digest, checked)

    def _checked_copy(
        self, path: Path, name: str, size: int, digest: str, content_type: str
    ) -> IO[bytes]:
        copy: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 - handed to the response, closed by MediaPreview.chunks
        try:
            hasher = hashlib.sha256()
            copied = 0
            head = b""
            try:
                with path.open("rb") as source:
                    # One byte past the recorded size is enough to know it grew.
                    while copied <= size and (piece := source.read(HASH_BUFFER_BYTES)):
                        if len(head) < SNIFF_BYTES:
                            head += piece[: SNIFF_BYTES - len(head)]
                        hasher.update(piece)
                        copy.write(piece)
                        copied += len(piece)
            except OSError as exc:
                raise InvalidInputError(
                    f"media {name!r} cannot be read: {exc.strerror or exc}",
                    code=ErrorCode.MEDIA_UNREADABLE,
                    details={"media": name},
                ) from None
            if copied != size or hasher.hexdigest() != digest:
                raise ConflictError(
                    f"media {name!r} changed since the packet was built (its bytes no longer "
                    "hash to the packet's SHA-256): it is not served; rebuild the packet",
                    code=ErrorCode.MEDIA_CHANGED,
                    details={"media": name, "recorded_sha256": digest},
                )
            if sniff_content_type(head) != content_type:
                raise InvalidInputError(
                    f"media {name!r} does not look like {content_type} by its content",
                    code=ErrorCode.MEDIA_TYPE_MISMATCH,
                    details={"media": name},
                )
            copy.seek(0)
            return copy
        except BaseException:
            copy.close()
            raise
