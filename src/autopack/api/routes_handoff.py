"""Sub-agent handoff and run memory over HTTP (documented in the API contract).

Outputs are submitted as the raw JSON body: the contract checks the bytes as
sent (a JSON-escaped secret is still a secret), and validation alone decides
acceptance, whoever submits (agent keys included).
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Query, Request

from autopack.api.deps import ActorDep, ServicesDep
from autopack.api.schemas import (
    AcceptedOutput,
    BriefBody,
    HandoffBody,
    MemoryHits,
    NewBrief,
    error_responses,
)
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.domain.principals import Permission
from autopack.services.memory.service import DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY

router = APIRouter(prefix="/api")

_RUN_CODES = (ErrorCode.INVALID_IDENTIFIER, ErrorCode.RUN_NOT_FOUND)


@router.get(
    "/runs/{run_id}/handoff",
    response_model=HandoffBody,
    responses=error_responses(*_RUN_CODES, ErrorCode.INVALID_CONTEXT),
)
def get_handoff(run_id: str, services: ServicesDep) -> dict[str, Any]:
    return services.handoff.show(run_id)


@router.post(
    "/runs/{run_id}/handoff/briefs",
    status_code=201,
    response_model=BriefBody,
    responses=error_responses(
        *_RUN_CODES,
        ErrorCode.FORBIDDEN,
        ErrorCode.INVALID_TASK,
        ErrorCode.INVALID_HANDOFF_TEXT,
        ErrorCode.INVALID_UNICODE,
        ErrorCode.PATH_ESCAPES_RUN,
        ErrorCode.MEMORY_UNAVAILABLE,
        validated=True,
    ),
)
def create_brief(
    run_id: str, body: NewBrief, services: ServicesDep, actor: ActorDep
) -> dict[str, Any]:
    actor.require(Permission.PROPOSE)
    return services.handoff.brief(run_id, body.task, body.goal).to_dict()


@router.post(
    "/runs/{run_id}/handoff/outputs",
    status_code=201,
    response_model=AcceptedOutput,
    responses=error_responses(
        *_RUN_CODES,
        ErrorCode.OUTPUT_REJECTED,
        ErrorCode.PATH_ESCAPES_RUN,
        ErrorCode.MEMORY_UNAVAILABLE,
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The helper's output: JSON matching the published output schema.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def submit_output(run_id: str, request: Request, services: ServicesDep) -> dict[str, Any]:
    data = await request.body()
    result = await anyio.to_thread.run_sync(services.handoff.accept_bytes, run_id, data)
    if not result.accepted:
        raise InvalidInputError(
            f"the output was refused ({len(result.problems)} problem(s)); kept in "
            f"{result.path} with the reasons in {result.reason_path}",
            code=ErrorCode.OUTPUT_REJECTED,
            details=result.to_dict(),
        )
    return result.to_dict()


@router.get(
    "/memory/search",
    response_model=MemoryHits,
    responses=error_responses(
        ErrorCode.INVALID_QUERY,
        ErrorCode.INVALID_IDENTIFIER,
        ErrorCode.MEMORY_UNAVAILABLE,
        validated=True,
    ),
)
def search_memory(
    services: ServicesDep,
    q: Annotated[str, Query(max_length=MAX_QUERY, description="What to search for.")],
    project: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> dict[str, Any]:
    hits = services.memory.search(q, project=project, limit=limit)
    return {"hits": [h.to_dict() for h in hits]}
