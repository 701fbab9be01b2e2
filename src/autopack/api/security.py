"""X-API-Key authentication, default-deny: every caller is a principal.

A pure ASGI middleware guards every route; only the routes in PUBLIC_ROUTES
are reachable without a key. A new route is therefore protected unless
someone adds it here on purpose. The key is a principal's API key (looked up in
the database, in a worker thread) or the bootstrap admin key
(``AUTOPACK_API_KEY``); the authenticated ``Actor`` is put in the request state,
where ``api.deps.ActorDep`` reads it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Final

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from autopack.domain.error_codes import ErrorCode
from autopack.domain.principals import Actor, Role, Via

# Who the bootstrap key acts as: an admin without a principal row.
BOOTSTRAP_ACTOR: Final = Actor(name="bootstrap-admin", role=Role.ADMIN, via=Via.API)

API_KEY_HEADER = "X-API-Key"
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset({("GET", "/health"), ("HEAD", "/health")})


class ApiKeyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        bootstrap_key: str | None,
        authenticate: Callable[[str], Actor | None],
    ) -> None:
        self._app = app
        self._key = bootstrap_key.encode("utf-8") if bootstrap_key else None
        self._authenticate = authenticate

    async def _actor(self, given: bytes) -> Actor | None:
        if self._key is not None and secrets.compare_digest(given, self._key):
            return BOOTSTRAP_ACTOR
        try:
            token = given.decode("ascii")
        except UnicodeDecodeError:
            return None
        # A database read: off the event loop.
        return await anyio.to_thread.run_sync(self._authenticate, token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in PUBLIC_ROUTES:
            await self._app(scope, receive, send)
            return
        header = API_KEY_HEADER.lower().encode("latin-1")
        given = next((v for k, v in scope["headers"] if k == header), b"")
        actor = await self._actor(given) if given else None
        if actor is not None:
            scope.setdefault("state", {})["actor"] = actor
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
