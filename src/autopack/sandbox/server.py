"""The sandbox provider: a local HTTP server with provider-like shapes and fault injection.

Public API (what adapters call)::

    POST /v1/<kind>                     create; JSON object body; optional Idempotency-Key
    GET  /v1/<kind>/<id>                read one object
    GET  /v1/<kind>?client_ref=M        lookup by the marker in the body (501 in mode none)
    GET  /v1/<kind>?idempotency_key=K   lookup by key (mode idempotent records keys)

Control API (tests and demos; loopback only, no auth)::

    GET    /_control/health             {"status", "mode", "start_mode", "pid", "in_flight", ...}
    GET    /_control/mode               {"mode": ...}
    POST   /_control/mode               {"mode": "idempotent"|"lookup_only"|"none"}
    GET    /_control/faults             {"pending": [fault, ...]}
    POST   /_control/faults             a fault, a list, or {"faults": [...]}: appended
    DELETE /_control/faults             drop every pending fault
    GET    /_control/effects            {"effects": [...], "count": n}; filters: kind,
                                        client_ref, idempotency_key
    GET    /_control/requests           {"requests": [...]}: every create/lookup seen
    POST   /_control/reset              forget effects, requests, faults; restore start mode

Every effect is committed to the store (fsync'd) before any response byte is
written. Responses always carry ``Connection: close``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from autopack.domain.canonical import CanonicalizationError, canonical_hash
from autopack.domain.sandbox_protocol import (
    API_PREFIX,
    CONTROL_PREFIX,
    FAULT_HEADER,
    IDEMPOTENCY_HEADER,
    KINDS,
    LOOKUP_BY_KEY,
    LOOKUP_BY_MARKER,
    MARKER_FIELD,
    MAX_BODY_BYTES,
    READY_PREFIX,
    REPLAYED_HEADER,
    REQUIRED_FIELDS,
    FaultKind,
    Mode,
)
from autopack.sandbox.faults import Fault, FaultQueue, FaultSpecError, parse_fault, parse_faults
from autopack.sandbox.store import SandboxStore

MAX_KEY_LENGTH = 255
CRASH_EXIT_CODE = 70
# Lookup faults that answer without looking anything up.
_LOOKUP_FAILURES = frozenset(
    {FaultKind.HTTP_5XX, FaultKind.HTTP_4XX, FaultKind.HTTP_429, FaultKind.LOST_RESPONSE}
)


class _Reject(Exception):  # noqa: N818 - control flow inside the handler, never escapes
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class SandboxState:
    """Everything the handlers share. The mode and faults live in memory."""

    store: SandboxStore
    start_mode: Mode
    token: str | None = None
    verbose: bool = False
    faults: FaultQueue = field(default_factory=FaultQueue)
    mode: Mode = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _in_flight: int = 0

    def __post_init__(self) -> None:
        self.mode = self.start_mode

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AutopackSandbox/1"
    server: SandboxServer

    # --- plumbing -------------------------------------------------------------

    @property
    def state(self) -> SandboxState:
        return self.server.state

    def log_message(self, format: str, *args: Any) -> None:
        if self.state.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _send_json(
        self, status: int, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
        self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client went away; whatever was committed stays committed

    def _drop_connection(self, *, reset: bool) -> None:
        """Close the socket without a response: FIN, or RST when ``reset``."""
        self.close_connection = True
        sock = self.connection
        with contextlib.suppress(OSError):
            if reset:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.rfile.close()
                sock.close()
            else:
                sock.shutdown(socket.SHUT_RDWR)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise _Reject(411, "length_required", "send a Content-Length body")
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise _Reject(411, "length_required", "send a Content-Length body")
        try:
            length = int(length_text)
        except ValueError:
            raise _Reject(400, "bad_length", "Content-Length is not a number") from None
        if length < 0:
            raise _Reject(400, "bad_length", "Content-Length is negative")
        if length > MAX_BODY_BYTES:
            raise _Reject(413, "too_large", f"body larger than {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length)

    def _read_json(self) -> Any:
        raw = self._read_body()
        try:
            return json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Reject(400, "invalid_json", f"body is not JSON: {exc}") from None

    def _handle(self, method: str) -> None:
        self.state.enter()
        try:
            self._route(method)
        except _Reject as rej:
            self._send_json(rej.status, _error(rej.code, rej.message))
        except Exception as exc:  # noqa: BLE001 - a server answers 500, it does not die
            self._send_json(500, _error("internal", f"{type(exc).__name__}: {exc}"))
        finally:
            self.state.leave()

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            self._control(method, path[len(CONTROL_PREFIX) :], query)
            return
        parts = path.split("/")
        if len(parts) not in (3, 4) or "/" + parts[1] != API_PREFIX:
            raise _Reject(404, "not_found", f"no route {path}")
        kind = parts[2]
        if kind not in KINDS:
            raise _Reject(404, "unknown_kind", f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
        self._authorize()
        if len(parts) == 4:
            if method != "GET":
                raise _Reject(405, "method_not_allowed", f"{method} not allowed here")
            self._get(kind, parts[3])
        elif method == "POST":
            self._create(kind)
        elif method == "GET":
            self._lookup(kind, query)
        else:
            raise _Reject(405, "method_not_allowed", f"{method} not allowed here")

    def _authorize(self) -> None:
        token = self.state.token
        if token is None:
            return
        if self.headers.get("Authorization") != f"Bearer {token}":
            raise _Reject(401, "unauthenticated", "missing or wrong bearer token")

    def _fault_for(self, op: str, values: list[str | None]) -> Fault | None:
        header = self.headers.get(FAULT_HEADER)
        if header:
            try:
                return parse_fault(json.loads(header))
            except (json.JSONDecodeError, FaultSpecError) as exc:
                raise _Reject(400, "invalid_fault", f"{FAULT_HEADER}: {exc}") from None
        return self.state.faults.take(op, values)

    def _refusing_fault(self, fault: Fault | None) -> _Reject | None:
        """Faults that answer before any work, with no effect."""
        if fault is None:
            return None
        if fault.kind is FaultKind.HTTP_5XX:
            return _Reject(fault.effective_status, "unavailable", "injected fault: no effect")
        if fault.kind is FaultKind.HTTP_4XX:
            return _Reject(fault.effective_status, "rejected", "injected fault: no effect")
        return None

    # --- public API -----------------------------------------------------------

    def _create(self, kind: str) -> None:
        payload = self._read_json()
        if not isinstance(payload, dict):
            raise _Reject(422, "invalid_body", "the body must be a JSON object")
        marker = payload.get(MARKER_FIELD)
        key = self.headers.get(IDEMPOTENCY_HEADER)
        fault = self._fault_for("create", [key, marker if isinstance(marker, str) else None])
        fault_name = fault.kind.value if fault else None
        store = self.state.store

        def refuse(rej: _Reject, result: str) -> _Reject:
            store.log_request(
                op="create",
                kind=kind,
                result=result,
                idempotency_key=key,
                client_ref=marker if isinstance(marker, str) else None,
                fault=fault_name,
            )
            return rej

        if fault is not None and fault.kind is FaultKind.DELAY and not fault.after_commit:
            time.sleep(fault.seconds)
        if fault is not None and fault.kind is FaultKind.HTTP_429:
            store.log_request(
                op="create",
                kind=kind,
                result="throttled",
                idempotency_key=key,
                client_ref=marker if isinstance(marker, str) else None,
                fault=fault_name,
            )
            self._send_json(
                429,
                _error("rate_limited", "injected fault: no effect"),
                {"Retry-After": fault.retry_after},
            )
            return
        rejection = self._refusing_fault(fault)
        if rejection is not None:
            raise refuse(rejection, "refused")
        if marker is not None and not isinstance(marker, str):
            raise refuse(
                _Reject(422, "invalid_body", f"{MARKER_FIELD} must be a string"), "invalid"
            )
        missing = [name for name in REQUIRED_FIELDS[kind] if name not in payload]
        if missing:
            raise refuse(
                _Reject(422, "invalid_body", f"missing required field(s): {', '.join(missing)}"),
                "invalid",
            )
        if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise refuse(
                _Reject(400, "invalid_key", f"{IDEMPOTENCY_HEADER} must be 1..255 characters"),
                "invalid",
            )
        try:
            body_hash = canonical_hash(
                json.loads(json.dumps(payload), parse_float=Decimal, parse_int=int)
            )
        except CanonicalizationError as exc:
            raise refuse(_Reject(422, "invalid_body", exc.message), "invalid") from None
        honoured_key = key if self.state.mode is Mode.IDEMPOTENT else None
        result = store.create(
            kind=kind,
            body=json.dumps(payload, sort_keys=True, separators=(",", ":")),
            body_hash=body_hash,
            client_ref=marker,
            idempotency_key=honoured_key,
            fault=fault_name,
        )
        # ---- committed: everything below happens after the effect is durable ----
        if result.conflict:
            raise _Reject(
                422,
                "idempotency_conflict",
                f"{IDEMPOTENCY_HEADER} already used with a different request",
            )
        if fault is not None:
            if fault.kind is FaultKind.CRASH_AFTER_COMMIT:
                os._exit(CRASH_EXIT_CODE)
            if fault.kind is FaultKind.DELAY and fault.after_commit:
                time.sleep(fault.seconds)
            if fault.kind is FaultKind.LOST_RESPONSE:
                self._drop_connection(reset=fault.reset)
                return
            if fault.kind is FaultKind.HTTP_5XX_AFTER_COMMIT:
                raise _Reject(fault.effective_status, "internal", "injected fault after commit")
        body = result.effect.to_object()
        if fault is not None and fault.kind is FaultKind.LEAK_SECRET:
            body["access_token"] = fault.secret
        headers = {REPLAYED_HEADER: "true"} if result.replayed else {}
        self._send_json(200 if result.replayed else 201, body, headers)

    def _lookup(self, kind: str, query: Mapping[str, str]) -> None:
        marker = query.get(LOOKUP_BY_MARKER)
        key = query.get(LOOKUP_BY_KEY)
        if (marker is None) == (key is None):
            raise _Reject(
                400, "bad_query", f"give exactly one of {LOOKUP_BY_MARKER}, {LOOKUP_BY_KEY}"
            )
        fault = self._fault_for("lookup", [marker, key])
        fault_name = fault.kind.value if fault else None
        store = self.state.store
        if fault is not None and fault.kind in _LOOKUP_FAILURES:
            result = "faulted"
        elif self.state.mode is Mode.NONE:
            result = "unsupported"
        else:
            result = "answered"
        store.log_request(
            op="lookup",
            kind=kind,
            result=result,
            idempotency_key=key,
            client_ref=marker,
            fault=fault_name,
        )
        if fault is not None and fault.kind is FaultKind.DELAY:
            time.sleep(fault.seconds)
        if fault is not None and fault.kind is FaultKind.HTTP_429:
            self._send_json(
                429, _error("rate_limited", "injected fault"), {"Retry-After": fault.retry_after}
            )
            return
        rejection = self._refusing_fault(fault)
        if rejection is not None:
            raise rejection
        if fault is not None and fault.kind is FaultKind.LOST_RESPONSE:
            self._drop_connection(reset=fault.reset)
            return
        if self.state.mode is Mode.NONE:
            raise _Reject(501, "not_implemented", "this provider cannot look objects up")
        effects = store.find(kind=kind, client_ref=marker, idempotency_key=key)
        body: dict[str, Any] = {
            "data": [effect.to_object() for effect in effects],
            "count": len(effects),
        }
        if fault is not None and fault.kind is FaultKind.LEAK_SECRET:
            body["access_token"] = fault.secret
        self._send_json(200, body)

    def _get(self, kind: str, object_id: str) -> None:
        effect = self.state.store.get(kind, object_id)
        if effect is None:
            raise _Reject(404, "not_found", f"no {kind[:-1]} {object_id!r}")
        self._send_json(200, effect.to_object())

    # --- control API ----------------------------------------------------------

    def _control(self, method: str, sub: str, query: Mapping[str, str]) -> None:
        state = self.state
        if (method, sub) == ("GET", "/health"):
            self._send_json(
                200,
                {
                    "status": "ok",
                    "mode": state.mode.value,
                    "start_mode": state.start_mode.value,
                    "pid": os.getpid(),
                    "in_flight": state.in_flight - 1,  # not counting this request
                    "pending_faults": len(state.faults.pending()),
                },
            )
        elif sub == "/mode" and method in ("GET", "POST"):
            if method == "POST":
                body = self._read_json()
                try:
                    state.mode = Mode(str(body.get("mode") if isinstance(body, dict) else None))
                except ValueError:
                    allowed = ", ".join(m.value for m in Mode)
                    raise _Reject(400, "bad_mode", f"mode must be one of: {allowed}") from None
            self._send_json(200, {"mode": state.mode.value})
        elif sub == "/faults" and method in ("GET", "POST", "DELETE"):
            if method == "POST":
                try:
                    state.faults.push(parse_faults(self._read_json()))
                except FaultSpecError as exc:
                    raise _Reject(400, "invalid_fault", str(exc)) from None
            elif method == "DELETE":
                state.faults.clear()
            self._send_json(200, {"pending": [f.to_dict() for f in state.faults.pending()]})
        elif (method, sub) == ("GET", "/effects"):
            effects = state.store.find(
                kind=query.get("kind"),
                client_ref=query.get("client_ref"),
                idempotency_key=query.get("idempotency_key"),
            )
            self._send_json(200, {"effects": [e.to_dict() for e in effects], "count": len(effects)})
        elif (method, sub) == ("GET", "/requests"):
            self._send_json(200, {"requests": state.store.requests()})
        elif (method, sub) == ("POST", "/reset"):
            state.faults.clear()
            state.store.reset()
            state.mode = state.start_mode
            self._send_json(200, {"status": "reset", "mode": state.mode.value})
        else:
            raise _Reject(404, "not_found", f"no control route {method} {sub or '/'}")


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: SandboxState) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.state = state
        super().__init__(address, SandboxHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@dataclass(frozen=True, slots=True)
class ServeOptions:
    host: str
    port: int
    mode: Mode
    store: Path
    fault_plan: Path | None = None
    token: str | None = None
    verbose: bool = False


class SandboxStartError(Exception):
    """Bad options or an unusable address; the message is one line for the operator."""


def read_token(path: Path | None) -> str | None:
    """The bearer token in ``path`` (surrounding whitespace ignored)."""
    if path is None:
        return None
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SandboxStartError(f"cannot read token file {path}: {exc}") from None
    if not token:
        raise SandboxStartError(f"token file {path} is empty")
    return token


def build_server(options: ServeOptions) -> SandboxServer:
    """Validate options, open the store, bind and listen (does not serve yet)."""
    if not _is_loopback(options.host):
        raise SandboxStartError(
            f"refusing to bind {options.host!r}: the sandbox listens on loopback only"
        )
    faults: list[Fault] = []
    if options.fault_plan is not None:
        try:
            faults = parse_faults(json.loads(options.fault_plan.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, FaultSpecError) as exc:
            raise SandboxStartError(f"fault plan {options.fault_plan}: {exc}") from None
    state = SandboxState(
        store=SandboxStore(options.store),
        start_mode=options.mode,
        token=options.token,
        verbose=options.verbose,
    )
    state.faults.push(faults)
    try:
        return SandboxServer((options.host, options.port), state)
    except OSError as exc:
        raise SandboxStartError(f"cannot listen on {options.host}:{options.port}: {exc}") from None


def serve(options: ServeOptions) -> None:
    """Run until SIGTERM/SIGINT. Prints the ready line on stdout once listening."""
    server = build_server(options)
    host = f"[{options.host}]" if ":" in options.host else options.host
    if threading.current_thread() is threading.main_thread():

        def _stop(_signum: int, _frame: object) -> None:
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, _stop)
    sys.stdout.write(f"{READY_PREFIX}http://{host}:{server.port}\n")
    sys.stdout.flush()
    sys.stderr.write(
        f"sandbox: mode {options.mode.value}, store {options.store}, pid {os.getpid()}\n"
    )
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
