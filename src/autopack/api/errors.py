"""Domain errors to JSON bodies with stable codes; never a traceback to a client.

The one place an error code's category becomes an HTTP status. Each route
declares the codes it answers (``api.schemas.error_responses``); answering one
it does not declare is a contract breach, reported as a warning (tests turn
warnings into failures, so the declarations and the contract doc cannot drift).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from autopack.domain.error_codes import ErrorCategory, ErrorCode
from autopack.domain.errors import AutopackError

log = logging.getLogger("autopack.api")

# PROTOCOL codes have no fixed status: the web framework chose it.
HTTP_STATUS: Mapping[ErrorCategory, int] = MappingProxyType(
    {
        ErrorCategory.INVALID_INPUT: 400,
        ErrorCategory.UNAUTHENTICATED: 401,
        ErrorCategory.FORBIDDEN: 403,
        ErrorCategory.NOT_FOUND: 404,
        ErrorCategory.CONFLICT: 409,
        ErrorCategory.INVALID_REQUEST: 422,
        ErrorCategory.CONFIGURATION: 500,
        ErrorCategory.CHECK_FAILED: 500,
        ErrorCategory.INTERNAL: 500,
        ErrorCategory.UNAVAILABLE: 503,
    }
)


def http_status(code: ErrorCode) -> int | None:
    """The HTTP status of ``code``; None for a PROTOCOL code (the framework's status)."""
    return HTTP_STATUS.get(code.category)


def error_body(code: ErrorCode, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"code": code.value, "message": message, **extra}}


def error_response(code: ErrorCode, message: str, **extra: object) -> JSONResponse:
    status = http_status(code)
    if status is None:
        raise ValueError(f"{code.value} has no fixed HTTP status")
    return JSONResponse(error_body(code, message, **extra), status_code=status)


# The key of a declared response that lists its error codes (an OpenAPI extension).
ERROR_CODES_KEY = "x-error-codes"


class UndeclaredErrorCodeWarning(UserWarning):
    """A route answered an error code its ``responses=`` do not declare."""


def declared_codes(route: object) -> frozenset[str] | None:
    """The error codes ``route`` declares; None when it declares no responses."""
    responses: dict[Any, Any] | None = getattr(route, "responses", None)
    if not responses:
        return None
    return frozenset(
        code for answer in responses.values() for code in answer.get(ERROR_CODES_KEY, ())
    )


def _report_undeclared(request: Request, code: ErrorCode) -> None:
    route = request.scope.get("route")
    declared = declared_codes(route)
    if declared is not None and code.value not in declared:
        warnings.warn(
            f"{request.method} {getattr(route, 'path', '?')} answered {code.value!r}, "
            "which its responses= do not declare (api.schemas.error_responses)",
            UndeclaredErrorCodeWarning,
            stacklevel=1,
        )


async def _autopack_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AutopackError)
    status = http_status(exc.code)
    assert status is not None  # no AutopackError class has the PROTOCOL category
    _report_undeclared(request, exc.code)
    return JSONResponse({"error": exc.to_dict()}, status_code=status)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    _report_undeclared(request, ErrorCode.INVALID_REQUEST)
    details = [
        {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    return error_response(
        ErrorCode.INVALID_REQUEST, "the request does not match the schema", details=details
    )


_FRAMEWORK_CODES = {404: ErrorCode.ROUTE_NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _FRAMEWORK_CODES.get(exc.status_code, ErrorCode.HTTP_ERROR)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers
    )


def allowed_methods(request: Request) -> list[str]:
    """The methods of the resource this path names, as the OpenAPI schema documents
    them (the route table's one source, DEC-007).

    When a literal path and a template both match (``/api/actions/export`` and
    ``/api/actions/{key}``), the literal one is the resource: only its methods are
    allowed. Starlette's own 405 names only the first partially matching route's
    methods, and FastAPI hides routes inside included routers."""
    paths = request.app.openapi().get("paths", {})
    matching = [
        template
        for template in paths
        if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), request.url.path)
    ]
    if not matching:
        return []
    resource = min(matching, key=lambda template: template.count("{"))
    documented = {method.upper() for method in paths[resource]}
    return [method for method in _METHODS if method in documented]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(ErrorCode.INTERNAL_ERROR, "internal error; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AutopackError, _autopack_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
