"""X-API-Key authentication, default-deny.

A pure ASGI middleware guards every route; only the routes in PUBLIC_ROUTES
are reachable without the key. A new route is therefore protected unless
someone adds it here on purpose.
"""

from __future__ import annotations

import json
import secrets

from starlette.types import ASGIApp, Receive, Scope, Send

from autopack.domain.error_codes import ErrorCode

API_KEY_HEADER = "X-API-Key"
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset({("GET", "/health"), ("HEAD", "/health")})


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self._app = app
        self._key = api_key.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in PUBLIC_ROUTES:
            await self._app(scope, receive, send)
            return
        header = API_KEY_HEADER.lower().encode("latin-1")
        given = next((v for k, v in scope["headers"] if k == header), b"")
        if given and secrets.compare_digest(given, self._key):
            await self._app(scope, receive, send)
            return
        code, message = (
            (ErrorCode.INVALID_API_KEY, "the X-API-Key header is wrong")
            if given
            else (ErrorCode.MISSING_API_KEY, "send the API key in the X-API-Key header")
        )
        body = json.dumps({"error": {"code": code.value, "message": message}}).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode("ascii")),
                    (b"www-authenticate", b"ApiKey"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
