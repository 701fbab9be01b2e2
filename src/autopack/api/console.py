"""The operator console, served by the API at ``/`` (one origin) when it is built.

``npm run build`` writes the console to ``AUTOPACK_CONSOLE_DIR`` (default
``dist/console``). The console routes with the URL fragment (``/#/inbox``), so
only ``/`` and the files of the build are served, with the same security
headers as the production nginx (``nginx.conf``; a docs contract test keeps
the two equal); every other path still goes to the API and its default-deny
authentication. Without a build, ``/`` is the API's as before.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Final

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

# One source for these values; nginx.conf repeats them (checked by tests/docs).
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final[tuple[tuple[str, str], ...]] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
INDEX: Final = "index.html"
# Files under assets/ carry a content hash in their name: cached for good.
IMMUTABLE_PREFIX: Final = "assets/"


def console_file(root: Path, path: str) -> Path | None:
    """The build file a request path names, or None (outside the build, or missing)."""
    relative = path.lstrip("/") or INDEX
    if relative.startswith("api/") or relative == "health":
        return None
    base = root.resolve()
    try:
        candidate = (base / relative).resolve()
    except (OSError, ValueError):
        return None
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate


class ConsoleMiddleware:
    def __init__(self, app: ASGIApp, root: Path) -> None:
        self._app = app
        self._root = root

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self._app(scope, receive, send)
            return
        found = await anyio.to_thread.run_sync(console_file, self._root, scope["path"])
        if found is None:
            await self._app(scope, receive, send)
            return
        body = await anyio.Path(found).read_bytes()
        kind = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
            kind += "; charset=utf-8"
        relative = found.relative_to(self._root.resolve()).as_posix()
        cache = (
            "public, max-age=31536000, immutable"
            if relative.startswith(IMMUTABLE_PREFIX)
            else "no-cache"
        )
        headers = [
            (b"content-type", kind.encode("latin-1")),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"cache-control", cache.encode("ascii")),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
