from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import StreamingResponse

from autopack.api.deps import PacketServiceDep, RuntimeDep
from autopack.api.schemas import PacketBody, error_responses
from autopack.domain.error_codes import ErrorCode
from autopack.domain.packets import MAX_MEDIA_NAME
from autopack.services.packet_media import PREVIEW_TYPES, PacketMedia

router = APIRouter(prefix="/api/packets")


@router.get(
    "/{packet_id}",
    response_model=PacketBody,
    response_model_by_alias=True,
    responses=error_responses(ErrorCode.INVALID_PACKET, ErrorCode.PACKET_NOT_FOUND),
)
def get_packet(packet_id: str, packets: PacketServiceDep, runtime: RuntimeDep) -> dict[str, Any]:
    """One publish packet by its id: text, media (names, sizes, hashes), disclosures
    and policy refs. A file whose content no longer hashes to its id is refused."""
    return packets.show(packet_id).to_dict(runtime.settings.workspace_path.resolve())


MediaName = Annotated[
    str, Path(min_length=1, max_length=MAX_MEDIA_NAME, description="A media name of the packet.")
]
# The 200 answer is the media bytes, in one of these types only.
MEDIA_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The media bytes, checked against the packet's SHA-256.",
        "content": {
            content_type: {"schema": {"type": "string", "format": "binary"}}
            for content_type in sorted(PREVIEW_TYPES)
        },
    }
}


@router.get(
    "/{packet_id}/media/{name}",
    response_class=StreamingResponse,
    responses={
        **MEDIA_RESPONSE,
        **error_responses(
            ErrorCode.INVALID_PACKET,
            ErrorCode.INVALID_MEDIA_REF,
            ErrorCode.MEDIA_UNREADABLE,
            ErrorCode.MEDIA_TYPE_MISMATCH,
            ErrorCode.MEDIA_NOT_PREVIEWABLE,
            ErrorCode.PACKET_NOT_FOUND,
            ErrorCode.MEDIA_NOT_IN_PACKET,
            ErrorCode.MEDIA_CHANGED,
            validated=True,
        ),
    },
)
def get_packet_media(
    packet_id: str, name: MediaName, packets: PacketServiceDep, runtime: RuntimeDep
) -> StreamingResponse:
    """The bytes of one media file of a packet, named as the packet names it, served
    only when they still hash to the packet's SHA-256 (for the console's preview)."""
    preview = PacketMedia(packets, runtime.settings.workspace_path).preview(packet_id, name)
    return StreamingResponse(
        preview.chunks(),
        media_type=preview.content_type,
        headers={
            "Content-Length": str(preview.size),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "X-Autopack-Media-SHA256": preview.sha256,
        },
    )
