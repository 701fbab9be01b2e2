"""Domain errors to JSON bodies with stable codes; never a traceback to a client."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from autopack.domain.errors import AutopackError

log = logging.getLogger("autopack.api")


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    body: dict[str, object] = {"code": code, "message": message, **extra}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


async def _autopack_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AutopackError)
    return JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    return error_response(
        422, "invalid_request", "the request does not match the schema", details=details
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "route_not_found", 405: "method_not_allowed"}
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return error_response(
        exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail), headers=headers
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path, found by asking each route whether
    it would fully match the request with that method. Starlette's own 405 names only
    the first matching route's methods, and GET and HEAD /health are two routes."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal error; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AutopackError, _autopack_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
