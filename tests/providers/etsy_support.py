"""The Etsy fake on a real HTTP server on 127.0.0.1, for the Etsy tests.

``running_etsy_fake(store_path)`` serves ``autopack.fakes.etsy.EtsyFake`` from a
thread of the test process (a worker subprocess killed mid-request leaves it
running, as a real provider would be). Faults are queued ``Fault`` objects: the
generic kinds are handled here like the fakes host does (``status``: answer
that status with Etsy's error shape, no effect; ``status_after_commit``: let
the fake commit, then answer the status; ``lost_response``: let the fake
commit, then close the connection without an answer; ``delay``: wait
``seconds`` first); any other kind goes to the fake's ``handle``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from autopack.fakes.etsy import EtsyFake
from autopack.fakes.protocol import FakeRequest, FakeResponse, Fault
from autopack.fakes.store import FakeStore

GENERIC = frozenset({"status", "status_after_commit", "lost_response", "delay"})


class EtsyFakeServer:
    def __init__(self, store_path: Path) -> None:
        self.store = FakeStore(store_path)
        self.fake = EtsyFake(self.store)
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v3/application"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.store.close()

    def add_fault(self, kind: str, **params: Any) -> None:
        method = params.pop("method", None)
        path_contains = params.pop("path_contains", None)
        with self._lock:
            self.faults.append(Fault("etsy", kind, method, path_contains, params))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def effects(self) -> list[dict[str, Any]]:
        return self.fake.effects()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if (fault.method is None or fault.method == method) and (
                    fault.path_contains is None or fault.path_contains in path
                ):
                    self.faults.remove(fault)
                    return fault
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
                return

            def _serve(self) -> None:
                split = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append((self.command, split.path, headers))
                length = int(headers.get("content-length", "0") or 0)
                request = FakeRequest(
                    self.command, split.path, parse_qs(split.query), headers, length, self.rfile
                )
                fault = server._take_fault(self.command, split.path)
                if fault is not None and fault.kind == "delay":
                    time.sleep(float(fault.params.get("seconds", 1.0)))
                    fault = None
                if fault is not None and fault.kind == "status":
                    request.read_body()
                    status = int(fault.params.get("status", 500))
                    self._answer(FakeResponse(status, json.dumps({"error": "fault"}).encode()))
                    return
                own = fault if fault is not None and fault.kind not in GENERIC else None
                response = server.fake.handle(request, own)
                if fault is not None and fault.kind == "lost_response":
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault is not None and fault.kind == "status_after_commit":
                    status = int(fault.params.get("status", 500))
                    response = FakeResponse(status, json.dumps({"error": "fault"}).encode())
                self._answer(response)

            def _answer(self, response: FakeResponse) -> None:
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve  # noqa: N815 - stdlib names

        return Handler


@contextmanager
def running_etsy_fake(store_path: Path) -> Iterator[EtsyFakeServer]:
    server = EtsyFakeServer(store_path)
    try:
        yield server
    finally:
        server.close()


def etsy_headers(token: str = "12345678.token", api_key: str = "keystring:secret") -> dict[str, str]:
    return {"x-api-key": api_key, "Authorization": f"Bearer {token}"}


def client() -> httpx.Client:
    return httpx.Client(timeout=10, trust_env=False)
