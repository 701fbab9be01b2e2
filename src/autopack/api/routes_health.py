from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from autopack.api.deps import RuntimeDep
from autopack.services.health import check_health

router = APIRouter()


@router.get("/health")
def health(runtime: RuntimeDep) -> JSONResponse:
    report = check_health(runtime)
    return JSONResponse(report.to_dict(), status_code=200 if report.healthy else 503)


@router.head("/health")
def health_head(runtime: RuntimeDep) -> Response:
    """The same check for load balancers that probe with HEAD: status only, no body."""
    report = check_health(runtime)
    return Response(status_code=200 if report.healthy else 503)
