"""A local HTTP server on 127.0.0.1 that plays a provider's policy site.

Each path serves the HTML a test sets, with an ETag derived from the body and
a fixed Last-Modified; a request carrying the current ETag gets 304. Paths can
fail (any status), redirect in a loop, or be larger than the monitor's cap.
Every request is recorded with its conditional headers.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_MODIFIED = "Mon, 07 Dec 2026 06:00:00 GMT"


@dataclass
class PolicySite:
    base: str = ""
    pages: dict[str, str] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    @staticmethod
    def etag(body: str) -> str:
        return '"' + hashlib.sha256(body.encode()).hexdigest()[:16] + '"'


def _handler(site: PolicySite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            with site.lock:
                site.requests.append((self.path, inm, ims))
                status = site.failures.get(self.path)
                body = site.pages.get(self.path)
            if self.path.startswith("/loop"):
                self.send_response(302)
                self.send_header("Location", f"/loop{len(site.requests)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if status is not None or body is None:
                self.send_response(status or 404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = site.etag(body)
            if inm == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            data = body.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", LAST_MODIFIED)
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def serve_policy_site() -> Iterator[PolicySite]:
    site = PolicySite()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
