from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from autopack.api.deps import RunServiceDep
from autopack.api.schemas import RunBody, RunList, error_responses
from autopack.domain.error_codes import ErrorCode
from autopack.services.runs import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT

router = APIRouter(prefix="/api/runs")


class NewRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str
    family: str
    run_id: str | None = None


@router.post(
    "",
    status_code=201,
    response_model=RunBody,
    responses=error_responses(ErrorCode.INVALID_IDENTIFIER, ErrorCode.RUN_EXISTS, validated=True),
)
def create_run(body: NewRun, runs: RunServiceDep) -> dict[str, Any]:
    return runs.create(body.project, body.family, body.run_id).to_dict()


@router.get(
    "",
    response_model=RunList,
    responses=error_responses(ErrorCode.INVALID_IDENTIFIER, validated=True),
)
def list_runs(
    runs: RunServiceDep,
    project: str | None = None,
    family: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = DEFAULT_LIST_LIMIT,
) -> dict[str, Any]:
    return {"runs": [r.to_dict() for r in runs.list(project, family, limit)]}


@router.get(
    "/{run_id}",
    response_model=RunBody,
    responses=error_responses(ErrorCode.INVALID_IDENTIFIER, ErrorCode.RUN_NOT_FOUND),
)
def get_run(run_id: str, runs: RunServiceDep) -> dict[str, Any]:
    return runs.get(run_id).to_dict()
