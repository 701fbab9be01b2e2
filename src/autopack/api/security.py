"""X-API-Key or console-session authentication, default-deny: every caller is a
principal.

A pure ASGI middleware guards every route; only the routes in PUBLIC_ROUTES
are reachable without a key. A new route is therefore protected unless
someone adds it here on purpose. The key is a principal's API key (looked up in
the database, in a worker thread) or the bootstrap admin key
(``AUTOPACK_API_KEY``). Without a key, the console's session cookie is accepted
(``services.sessions``); a write authenticated by the cookie must echo the CSRF
cookie in the ``X-CSRF-Token`` header (double-submit), so another site cannot
make the browser write. The authenticated ``Actor`` is put in the request
state, where ``api.deps.ActorDep`` reads it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Final

import anyio.to_thread
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from autopack.domain.error_codes import ErrorCode
from autopack.domain.principals import Actor, Role, Via
from autopack.domain.sessions import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SAFE_METHODS,
    SESSION_COOKIE,
    csrf_ok,
)
from autopack.services.sessions import SessionIdentity

# Who the bootstrap key acts as: an admin without a principal row.
BOOTSTRAP_ACTOR: Final = Actor(name="bootstrap-admin", role=Role.ADMIN, via=Via.API)

API_KEY_HEADER = "X-API-Key"
# Logging in is public: its body carries the key it exchanges for a session.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {("GET", "/health"), ("HEAD", "/health"), ("POST", "/api/session")}
)


class ApiKeyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        bootstrap_key: str | None,
        authenticate: Callable[[str], Actor | None],
        identify_session: Callable[[str], SessionIdentity | None],
    ) -> None:
        self._app = app
        self._key = bootstrap_key.encode("utf-8") if bootstrap_key else None
        self._authenticate = authenticate
        self._identify_session = identify_session

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
        given = _header(scope, API_KEY_HEADER)
        if given:
            actor = await self._actor(given)
            if actor is None:
                await _refuse(send, 401, ErrorCode.INVALID_API_KEY, "the X-API-Key header is wrong")
                return
            await self._pass(scope, receive, send, actor, "api_key", None)
            return
        cookies = cookie_parser(_header(scope, "cookie").decode("latin-1"))
        token = cookies.get(SESSION_COOKIE)
        if not token:
            await _refuse(
                send, 401, ErrorCode.MISSING_API_KEY, "send the API key in the X-API-Key header"
            )
            return
        # A database read: off the event loop.
        session = await anyio.to_thread.run_sync(self._identify_session, token)
        if session is None:
            await _refuse(
                send,
                401,
                ErrorCode.INVALID_SESSION,
                "the console session is unknown, expired or ended: log in again",
            )
            return
        if scope["method"] not in SAFE_METHODS and not csrf_ok(
            _header(scope, CSRF_HEADER).decode("latin-1"),
            cookies.get(CSRF_COOKIE),
            session.csrf_hash,
        ):
            await _refuse(
                send,
                403,
                ErrorCode.CSRF_TOKEN_INVALID,
                f"a write with the session cookie needs the {CSRF_HEADER} header "
                f"equal to the {CSRF_COOKIE} cookie",
            )
            return
        await self._pass(scope, receive, send, session.actor, "session", session.expires_at)

    async def _pass(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        actor: Actor,
        how: str,
        expires_at: str | None,
    ) -> None:
        state = scope.setdefault("state", {})
        state["actor"] = actor
        state["authenticated_by"] = how  # "api_key" or "session" (GET /api/session says which)
        state["session_expires_at"] = expires_at
        await self._app(scope, receive, send)


def _header(scope: Scope, name: str) -> bytes:
    wanted = name.lower().encode("latin-1")
    return next((v for k, v in scope["headers"] if k == wanted), b"")


async def _refuse(send: Send, status: int, code: ErrorCode, message: str) -> None:
    body = json.dumps({"error": {"code": code.value, "message": message}}).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"ApiKey"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
