"""ETag and If-None-Match for the lists the console polls.

A polled list answers with an ``ETag`` (the SHA-256 of its body); a request
whose ``If-None-Match`` names the current one gets ``304 Not Modified`` with no
body, so polling every few seconds costs a query but no transfer or rendering.
The routes that answer this declare ``304`` (``api.schemas.NOT_MODIFIED``); a
test checks the two lists agree.
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autopack.domain.canonical import sha256_hex

POLLED_LISTS: Final = frozenset(
    {"/api/approvals", "/api/actions", "/api/halts", "/api/trading", "/api/trading/requests"}
)


def _matches(if_none_match: str, etag: str) -> bool:
    candidates = {c.strip().removeprefix("W/") for c in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


class ETagMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] not in POLLED_LISTS:
            await self._app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._finish(scope, send, start, b"".join(chunks))
                return
            await send(message)

        await self._app(scope, receive, buffer)

    @staticmethod
    async def _finish(scope: Scope, send: Send, start: Message | None, body: bytes) -> None:
        assert start is not None  # ASGI: the start message comes before any body
        if start["status"] != 200:
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        etag = f'"{sha256_hex(body)}"'
        given = next((v for k, v in scope["headers"] if k == b"if-none-match"), b"")
        headers = [
            (k, v) for k, v in start["headers"] if k.lower() not in (b"etag", b"cache-control")
        ]
        # Revalidate every time: a poll must see a change at once.
        headers += [(b"etag", etag.encode("ascii")), (b"cache-control", b"private, no-cache")]
        if given and _matches(given.decode("latin-1"), etag):
            kept = [
                (k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type")
            ]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})
