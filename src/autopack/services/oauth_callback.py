"""The loopback redirect target of an OAuth connect: one request on 127.0.0.1.

``LoopbackCallback`` binds ``127.0.0.1`` (port 0 picks a free one), serves until
the provider redirects the browser to ``/callback?code=...&state=...``, hands the
full callback URL to the waiting caller and answers the browser with a short page
that never echoes the query (it holds the authorization code).
"""

from __future__ import annotations

import hmac
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from autopack.domain.credentials import OAuthConnectError
from autopack.domain.error_codes import ErrorCode

CALLBACK_PATH: Final = "/callback"
LOOPBACK_HOST: Final = "127.0.0.1"
_PAGE: Final = (
    b"<!doctype html><meta charset=utf-8><title>Autopack</title>"
    b"<p>Autopack received the authorization. You can close this window.</p>"
)


class _Handler(BaseHTTPRequestHandler):
    server: _CallbackServer

    def log_message(self, format: str, *args: Any) -> None:
        return  # the query holds the authorization code: never log it

    def do_GET(self) -> None:
        if urlsplit(self.path).path != CALLBACK_PATH:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        state = parse_qs(urlsplit(self.path).query).get("state", [""])[0]
        if not self.server.deliver(f"http://{LOOPBACK_HOST}:{self.server.port}{self.path}", state):
            # Not the authorization we are waiting for (stale tab, another
            # local process): refuse it and keep waiting.
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(_PAGE)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(_PAGE)


class _CallbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__((LOOPBACK_HOST, port), _Handler)
        self._received: str | None = None
        self._event = threading.Event()
        self.expected_state: str | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def deliver(self, url: str, state: str) -> bool:
        if self.expected_state is not None and not hmac.compare_digest(
            state.encode(), self.expected_state.encode()
        ):
            return False
        if not self._event.is_set():
            self._received = url
            self._event.set()
        return True

    def wait(self, timeout: float) -> str | None:
        self._event.wait(timeout)
        return self._received


class LoopbackCallback:
    """Context manager: ``redirect_uri`` while open, ``wait(timeout)`` for the callback."""

    def __init__(self, port: int = 0) -> None:
        try:
            self._server = _CallbackServer(port)
        except OSError as exc:
            raise OAuthConnectError(
                f"cannot listen on {LOOPBACK_HOST}:{port} for the OAuth callback: {exc.strerror}",
                code=ErrorCode.CALLBACK_PORT_UNAVAILABLE,
            ) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def redirect_uri(self) -> str:
        return f"http://{LOOPBACK_HOST}:{self._server.port}{CALLBACK_PATH}"

    def expect_state(self, state: str) -> None:
        """Accept only the callback carrying this OAuth ``state``."""
        self._server.expected_state = state

    def __enter__(self) -> LoopbackCallback:
        self._thread.start()
        return self

    def wait(self, timeout: float) -> str:
        url = self._server.wait(timeout)
        if url is None:
            raise OAuthConnectError(
                f"no OAuth callback within {timeout:g} s", code=ErrorCode.CALLBACK_TIMEOUT
            )
        return url

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
