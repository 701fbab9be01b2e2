from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from autopack.api.deps import RuntimeDep
from autopack.api.schemas import HealthBody
from autopack.services.health import check_health

router = APIRouter()


@router.get(
    "/health",
    response_model=HealthBody,
    response_model_exclude_unset=True,
    responses={503: {"model": HealthBody, "description": "database unreachable or behind"}},
)
def health(runtime: RuntimeDep, response: Response) -> dict[str, Any]:
    report = check_health(runtime)
    response.status_code = 200 if report.healthy else 503
    return report.to_dict()


@router.head("/health", responses={503: {"description": "database unreachable or behind"}})
def health_head(runtime: RuntimeDep) -> Response:
    """The same check for load balancers that probe with HEAD: status only, no body."""
    report = check_health(runtime)
    # The same headers as GET would send (content type included), without the body.
    return Response(status_code=200 if report.healthy else 503, media_type="application/json")
