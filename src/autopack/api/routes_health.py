from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from autopack.api.deps import RuntimeDep
from autopack.services.health import check_health

router = APIRouter()


@router.get("/health")
def health(runtime: RuntimeDep) -> JSONResponse:
    report = check_health(runtime)
    return JSONResponse(report.to_dict(), status_code=200 if report.healthy else 503)
