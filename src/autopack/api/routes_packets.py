from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from autopack.api.deps import PacketServiceDep, RuntimeDep
from autopack.api.schemas import PacketBody, error_responses
from autopack.domain.error_codes import ErrorCode

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
