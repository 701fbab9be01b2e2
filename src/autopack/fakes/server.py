"""The fakes host: one loopback HTTP server for every provider fake.

Routing: a request goes to the fake whose path prefix matches (the providers'
paths do not overlap: ``/upload/youtube/v3``, ``/v3/application``,
``/admin/api``, ``/v2``...). The control API, loopback only and without auth::

    GET    /_control/health               {"status", "providers": [...], "pid", "in_flight"}
    GET    /_control/faults               {"pending": [fault, ...]}
    POST   /_control/faults               a fault, a list, or {"faults": [...]}: queued
    DELETE /_control/faults               drop every pending fault
    GET    /_control/effects?provider=P   {"effects": [...], "count": n}
    POST   /_control/reset                forget every effect and fault
    *      /_control/<provider>/<action>  the fake's own control (prices, expiry...)

Responses always carry ``Connection: close``. A fake's effect is committed to
the store before its answer is written (``FakeProvider.handle`` returns only
after committing), so ``lost_response`` leaves a committed, unanswered effect.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from autopack.fakes.faults import HOST_KINDS, FaultQueue, FaultSpecError, parse_fault
from autopack.fakes.protocol import (
    BodyTooLargeError,
    FakeProvider,
    FakeRequest,
    FakeResponse,
    Fault,
    json_response,
)
from autopack.fakes.registry import build_fakes
from autopack.fakes.store import FakeStore

READY_PREFIX = "fakes listening on "
CONTROL_PREFIX = "/_control"
MAX_CONTROL_BODY_BYTES = 1024 * 1024


class FakesStartError(Exception):
    """Bad options or an unusable address; the message is one line for the operator."""


@dataclass(frozen=True, slots=True)
class FakesOptions:
    host: str
    port: int
    store: Path
    providers: tuple[str, ...] = ()
    verbose: bool = False


class FakesState:
    def __init__(self, store: FakeStore, fakes: list[FakeProvider], verbose: bool) -> None:
        self.store = store
        self.fakes = {fake.name: fake for fake in fakes}
        self.faults = FaultQueue()
        self.verbose = verbose
        self._lock = threading.Lock()
        self._in_flight = 0
        # Longest prefix first, so a more specific path wins.
        self.routes = sorted(
            ((prefix, fake) for fake in fakes for prefix in fake.prefixes),
            key=lambda item: -len(item[0]),
        )

    @property
    def in_flight(self) -> int:
        """Provider requests being handled now (a test kills a client mid-request)."""
        with self._lock:
            return self._in_flight

    def enter(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta

    def route(self, path: str) -> FakeProvider | None:
        for prefix, fake in self.routes:
            if path.startswith(prefix):
                return fake
        return None


class FakesServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: FakesState) -> None:
        self.state = state
        super().__init__(address, FakesHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class FakesHandler(BaseHTTPRequestHandler):
    server: FakesServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.state.verbose:
            sys.stderr.write(f"fakes: {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    # -- one request ---------------------------------------------------------------

    def _request(self) -> FakeRequest:
        parts = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        return FakeRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            content_length=length,
            stream=self.rfile,
        )

    def _serve(self) -> None:
        request = self._request()
        if request.content_length < 0:
            self._send(json_response(400, {"error": {"message": "bad Content-Length"}}))
            return
        state = self.server.state
        try:
            if request.path.startswith(CONTROL_PREFIX + "/"):
                self._send(self._control(request))
                return
            fake = state.route(request.path)
            if fake is None:
                self._send(json_response(404, {"error": {"message": "no such route"}}))
                return
            fault = state.faults.take(fake.name, request)
            state.enter(1)
            try:
                self._serve_fake(fake, request, fault)
            finally:
                state.enter(-1)
        except BodyTooLargeError as exc:
            self._send(json_response(413, {"error": {"message": str(exc)}}))
        except Exception as exc:  # noqa: BLE001 - a fake's bug answers 500 and is logged
            sys.stderr.write(f"fakes: {request.method} {request.path}: {type(exc).__name__}\n")
            self._send(json_response(500, {"error": {"message": "fake failed"}}))

    def _serve_fake(self, fake: FakeProvider, request: FakeRequest, fault: Fault | None) -> None:
        if fault is None:
            self._send(fake.handle(request, None))
            return
        if fault.kind not in HOST_KINDS:
            self._send(fake.handle(request, fault))
            return
        params: Mapping[str, Any] = fault.params
        if fault.kind == "status":
            self._send(
                json_response(int(params["status"]), params.get("body", {}), params.get("headers"))
            )
            return
        if fault.kind == "delay":
            time.sleep(float(params["seconds"]))
            self._send(fake.handle(request, None))
            return
        if fault.kind == "status_after_commit":
            fake.handle(request, None)
            self._send(
                json_response(int(params["status"]), params.get("body", {}), params.get("headers"))
            )
            return
        # lost_response: the effect is committed, the answer never written.
        fake.handle(request, None)
        self.close_connection = True

    def _control(self, request: FakeRequest) -> FakeResponse:
        state = self.server.state
        name = request.path[len(CONTROL_PREFIX) + 1 :]
        if name == "health" and request.method == "GET":
            return json_response(
                200,
                {
                    "status": "ok",
                    "providers": sorted(state.fakes),
                    "pid": os.getpid(),
                    "in_flight": state.in_flight,
                },
            )
        if name == "faults":
            if request.method == "GET":
                return json_response(200, {"pending": state.faults.pending()})
            if request.method == "DELETE":
                state.faults.clear()
                return json_response(200, {"pending": []})
            if request.method == "POST":
                return self._queue_faults(request)
        if name == "effects" and request.method == "GET":
            provider = request.param("provider")
            fake = state.fakes.get(provider or "")
            if fake is None:
                return json_response(404, {"error": {"message": "unknown provider"}})
            effects = fake.effects()
            return json_response(200, {"effects": effects, "count": len(effects)})
        if name == "reset" and request.method == "POST":
            state.faults.clear()
            state.store.reset()
            return json_response(200, {"status": "reset"})
        provider, _, action = name.partition("/")
        fake = state.fakes.get(provider)
        if fake is not None and action:
            return fake.control(request, action)
        return json_response(404, {"error": {"message": "no such control route"}})

    def _queue_faults(self, request: FakeRequest) -> FakeResponse:
        if request.content_length > MAX_CONTROL_BODY_BYTES:
            return json_response(413, {"error": {"message": "control body too large"}})
        try:
            raw = request.json()
        except ValueError:
            return json_response(400, {"error": {"message": "faults must be JSON"}})
        items = raw.get("faults") if isinstance(raw, dict) and "faults" in raw else raw
        items = items if isinstance(items, list) else [items]
        try:
            parsed = [parse_fault(item, frozenset(self.server.state.fakes)) for item in items]
        except FaultSpecError as exc:
            return json_response(400, {"error": {"message": str(exc)}})
        self.server.state.faults.push(parsed)
        return json_response(200, {"pending": self.server.state.faults.pending()})

    def _send(self, response: FakeResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)
        self.close_connection = True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_server(options: FakesOptions) -> FakesServer:
    """Validate options, open the store, build the fakes, bind (does not serve yet)."""
    if not _is_loopback(options.host):
        raise FakesStartError(
            f"refusing to bind {options.host!r}: the fakes listen on loopback only"
        )
    store = FakeStore(options.store)
    try:
        fakes = build_fakes(list(options.providers), store)
    except ValueError as exc:
        store.close()
        raise FakesStartError(str(exc)) from None
    try:
        return FakesServer((options.host, options.port), FakesState(store, fakes, options.verbose))
    except OSError as exc:
        store.close()
        raise FakesStartError(f"cannot listen on {options.host}:{options.port}: {exc}") from None


def serve(options: FakesOptions) -> None:
    """Run until SIGTERM/SIGINT. Prints the ready line on stdout once listening."""
    server = build_server(options)
    if threading.current_thread() is threading.main_thread():

        def _stop(_signum: int, _frame: object) -> None:
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, _stop)
    host = f"[{options.host}]" if ":" in options.host else options.host
    sys.stdout.write(f"{READY_PREFIX}http://{host}:{server.port}\n")
    sys.stdout.flush()
    names = ", ".join(sorted(server.state.fakes)) or "none"
    sys.stderr.write(f"fakes: serving {names}; store {options.store}; pid {os.getpid()}\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.state.store.close()
