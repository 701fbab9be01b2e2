"""Dependencies as typed aliases, so routes declare what they need in one word."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from autopack.services.context import Runtime
from autopack.services.runs import RunService


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_run_service(runtime: RuntimeDep) -> RunService:
    return RunService(runtime)


RunServiceDep = Annotated[RunService, Depends(get_run_service)]
