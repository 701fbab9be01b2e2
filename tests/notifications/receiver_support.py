"""A real webhook receiver on 127.0.0.1 for the notification tests.

It records every request (headers and exact body bytes), answers each with the
next scripted status (200 once the script is empty), and can hold a request
open until the test lets it go (to kill a deliverer mid-delivery).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from autopack.domain.canonical import parse_json_strict
from autopack.domain.notifications import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)

SECRET = "notify-test-secret-0123456789abcdef"
HOLD_SECONDS = 30.0  # the longest a held request is kept open


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def id(self) -> str:
        return self.headers[ID_HEADER.lower()]

    @property
    def json(self) -> object:
        return parse_json_strict(self.body)

    def signed_by(self, secret: str) -> bool:
        return verify_signature(
            secret,
            int(self.headers[TIMESTAMP_HEADER.lower()]),
            self.body,
            self.headers[SIGNATURE_HEADER.lower()],
        )


@dataclass
class Receiver:
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: deque[int] = field(default_factory=deque)
    hold_next: bool = False
    # Called with each request before it is answered (e.g. to stop a deliverer).
    on_request: Callable[[], None] | None = None
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        with self.lock:
            return [r.id for r in self.requests]

    def distinct_ids(self) -> set[str]:
        return set(self.ids())


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                hold = receiver.hold_next
                receiver.hold_next = False
                status = receiver.statuses.popleft() if receiver.statuses else 200
            if receiver.on_request is not None:
                receiver.on_request()
            if hold:
                receiver.held.set()
                receiver.release.wait(HOLD_SECONDS)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the sender died while we held its request

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook/abc"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
