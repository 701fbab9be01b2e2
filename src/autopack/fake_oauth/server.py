"""A fake OAuth 2.0 authorization server: a local process for tests and the demo.

Provider routes (``<provider>`` is any identifier: youtube, etsy, shopify, ...)::

    GET  /<provider>/authorize   auto-approves; redirects to a loopback redirect_uri
                                 with ?code=...&state=...; PKCE S256 is required
    POST /<provider>/token       grant_type=authorization_code (checks the code
                                 verifier) or refresh_token (single use, rotating)
    GET  /<provider>/userinfo    Bearer access token -> {"family": ..., "provider": ...}

Refresh tokens belong to a *family* (one per authorization). Rotation (default on,
off for ``youtube`` like Google) issues a new refresh token on each use; presenting
an already-used one revokes the whole family (reuse detection, as real providers
do) and answers ``invalid_grant``.

Control routes (loopback only)::

    GET    /_control/health      {"status": "ok", "pid": ...}
    GET    /_control/counters    refresh requests in total and per family,
                                 revocations, invalid_grant answers, codes, faults
    POST   /_control/faults      a fault or a list; each applies to the next
                                 ``count`` token requests matching ``grant``:
                                   {"kind": "status", "status": 503, "count": 5,
                                    "grant": "refresh_token", "retry_after": 1}
                                   {"kind": "lost_after_commit", "count": 1}
                                   {"kind": "delay", "seconds": 0.5, "count": 1}
                                   {"kind": "deny", "count": 1}   (authorize -> access_denied)
    DELETE /_control/faults      drop pending faults
    POST   /_control/config      {"access_ttl": s, "refresh_ttl": s|null,
                                  "rotate": {"<provider>": bool}}
    POST   /_control/revoke      {"provider": p} or {"family": f}: revoke (user
                                  removed the app's access)
    POST   /_control/reset       forget everything (config back to defaults)
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

READY_PREFIX: Final = "fake-oauth listening on "
CONTROL_PREFIX: Final = "/_control"
DEFAULT_ACCESS_TTL: Final = 3600
DEFAULT_NON_ROTATING: Final = frozenset({"youtube"})
MAX_BODY: Final = 64 * 1024
FAULT_KINDS: Final = frozenset({"status", "lost_after_commit", "delay", "deny"})


class _Reject(Exception):  # noqa: N818 - control flow inside the handler only
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def _token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(24)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _is_loopback_redirect(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


@dataclass
class Family:
    id: str
    provider: str
    client_id: str
    scope: str
    current_refresh: str
    refresh_issued: float
    revoked: bool = False
    revoked_reason: str | None = None
    refresh_requests: int = 0


@dataclass
class Fault:
    kind: str
    count: int
    grant: str = "any"
    status: int = 503
    retry_after: int | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "count": self.count,
            "grant": self.grant,
            "status": self.status,
            "retry_after": self.retry_after,
            "seconds": self.seconds,
        }


def parse_fault(raw: Any) -> Fault:
    if not isinstance(raw, Mapping) or raw.get("kind") not in FAULT_KINDS:
        raise _Reject(400, "invalid_request", f"fault kind must be one of {sorted(FAULT_KINDS)}")
    try:
        fault = Fault(
            kind=str(raw["kind"]),
            count=int(raw.get("count", 1)),
            grant=str(raw.get("grant", "any")),
            status=int(raw.get("status", 503)),
            retry_after=None if raw.get("retry_after") is None else int(raw["retry_after"]),
            seconds=float(raw.get("seconds", 0.0)),
        )
    except (TypeError, ValueError) as exc:
        raise _Reject(400, "invalid_request", f"bad fault: {exc}") from None
    if fault.count < 1 or fault.grant not in ("any", "authorization_code", "refresh_token"):
        raise _Reject(
            400, "invalid_request", "count >= 1; grant any|authorization_code|refresh_token"
        )
    return fault


@dataclass
class OAuthState:
    access_ttl: int = DEFAULT_ACCESS_TTL
    refresh_ttl: int | None = None
    rotate: dict[str, bool] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    families: dict[str, Family] = field(default_factory=dict)
    # Every refresh token ever issued -> its family (old ones detect reuse).
    refresh_index: dict[str, str] = field(default_factory=dict)
    access_index: dict[str, tuple[str, float]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    revocations: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bump(self, name: str, by: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + by

    def rotates(self, provider: str) -> bool:
        return self.rotate.get(provider, provider not in DEFAULT_NON_ROTATING)

    def take_fault(self, grant: str, kinds: frozenset[str]) -> Fault | None:
        for fault in self.faults:
            if fault.kind in kinds and fault.grant in ("any", grant):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                self.bump(f"faults_{fault.kind}")
                return fault
        return None

    def revoke(self, family: Family, reason: str) -> None:
        if not family.revoked:
            family.revoked = True
            family.revoked_reason = reason
            self.revocations.append({"family": family.id, "reason": reason})

    def snapshot(self) -> dict[str, Any]:
        return {
            "counters": dict(sorted(self.counters.items())),
            "refresh_requests": self.counters.get("refresh_requests", 0),
            "refresh_requests_by_family": {
                f.id: f.refresh_requests for f in self.families.values()
            },
            "families": {
                f.id: {
                    "provider": f.provider,
                    "revoked": f.revoked,
                    "revoked_reason": f.revoked_reason,
                    "refresh_requests": f.refresh_requests,
                }
                for f in self.families.values()
            },
            "revocations": list(self.revocations),
            "invalid_grant": self.counters.get("invalid_grant", 0),
            "pending_faults": [f.to_dict() for f in self.faults],
        }


class OAuthHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AutopackFakeOAuth/1"
    server: FakeOAuthServer

    @property
    def state(self) -> OAuthState:
        return self.server.state

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- plumbing --------------------------------------------------------------

    def _send(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.close_connection = True
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass

    def _json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload, sort_keys=True).encode("utf-8")
        self._send(status, data, {"Content-Type": "application/json", **(headers or {})})

    def _drop(self) -> None:
        """Close without a response: the client never learns what was committed."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise _Reject(413, "invalid_request", "body too large")
        return self.rfile.read(length) if length else b""

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/")
        try:
            if path.startswith(CONTROL_PREFIX + "/") or path == CONTROL_PREFIX:
                self._control(method, path[len(CONTROL_PREFIX) :], self._body())
                return
            segments = [s for s in path.split("/") if s]
            if len(segments) != 2:
                raise _Reject(404, "not_found", f"no route {path}")
            provider, action = segments
            if method == "GET" and action == "authorize":
                self._authorize(provider, parse_qs(parts.query))
            elif method == "POST" and action == "token":
                form = parse_qs(self._body().decode("utf-8", "replace"))
                self._token(provider, {k: v[0] for k, v in form.items()})
            elif method == "GET" and action == "userinfo":
                self._userinfo(provider)
            else:
                raise _Reject(404, "not_found", f"no route {method} {path}")
        except _Reject as exc:
            self._json(exc.status, {"error": exc.error, "error_description": exc.description})

    # -- authorization endpoint ------------------------------------------------

    def _authorize(self, provider: str, query: dict[str, list[str]]) -> None:
        q = {k: v[0] for k, v in query.items()}
        redirect_uri = q.get("redirect_uri", "")
        if not _is_loopback_redirect(redirect_uri):
            raise _Reject(400, "invalid_request", "redirect_uri must be http on loopback")
        params: dict[str, str] = {}
        if q.get("state"):
            params["state"] = q["state"]
        with self.state.lock:
            self.state.bump("authorize_requests")
            denied = self.state.take_fault("authorization_code", frozenset({"deny"}))
        if denied is not None:
            params["error"] = "access_denied"
        elif q.get("response_type") != "code" or not q.get("client_id"):
            params["error"] = "invalid_request"
        elif q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            params["error"] = "invalid_request"
            params["error_description"] = "PKCE with code_challenge_method=S256 is required"
        else:
            code = _token("code-")
            with self.state.lock:
                self.state.codes[code] = {
                    "provider": provider,
                    "client_id": q["client_id"],
                    "redirect_uri": redirect_uri,
                    "challenge": q["code_challenge"],
                    "scope": q.get("scope", ""),
                    "used": False,
                }
                self.state.bump("codes_issued")
            params["code"] = code
        split = urlsplit(redirect_uri)
        query_text = split.query + ("&" if split.query else "") + urlencode(params)
        location = urlunsplit((split.scheme, split.netloc, split.path, query_text, ""))
        self._send(302, b"", {"Location": location})

    # -- token endpoint ----------------------------------------------------------

    def _issue(self, family: Family, *, rotate: bool) -> dict[str, Any]:
        state = self.state
        access = _token("fake-at-")
        state.access_index[access] = (family.id, time.time() + state.access_ttl)
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": state.access_ttl,
            "scope": family.scope,
        }
        if rotate:
            refresh = _token("fake-rt-")
            family.current_refresh = refresh
            family.refresh_issued = time.time()
            state.refresh_index[refresh] = family.id
            body["refresh_token"] = refresh
        return body

    def _token(self, provider: str, form: dict[str, str]) -> None:
        grant = form.get("grant_type", "")
        state = self.state
        with state.lock:
            state.bump("token_requests")
            if grant == "refresh_token":
                state.bump("refresh_requests")
                family_id = state.refresh_index.get(form.get("refresh_token", ""))
                if family_id is not None:
                    state.families[family_id].refresh_requests += 1
            fault = state.take_fault(grant, frozenset({"status", "lost_after_commit", "delay"}))
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            error = "rate_limited" if fault.status == 429 else "server_error"
            self._json(fault.status, {"error": error}, headers)
            return
        with state.lock:
            if grant == "authorization_code":
                body = self._exchange_code(provider, form)
            elif grant == "refresh_token":
                body = self._refresh(provider, form)
            else:
                raise _Reject(400, "unsupported_grant_type", f"grant_type {grant!r}")
        if fault is not None and fault.kind == "lost_after_commit":
            self._drop()
            return
        self._json(200, body)

    def _exchange_code(self, provider: str, form: dict[str, str]) -> dict[str, Any]:
        state = self.state
        code = state.codes.get(form.get("code", ""))
        if code is None or code["used"] or code["provider"] != provider:
            state.bump("invalid_grant")
            raise _Reject(400, "invalid_grant", "unknown or used authorization code")
        code["used"] = True
        if form.get("redirect_uri") != code["redirect_uri"]:
            state.bump("invalid_grant")
            raise _Reject(400, "invalid_grant", "redirect_uri does not match")
        if form.get("client_id", code["client_id"]) != code["client_id"]:
            raise _Reject(401, "invalid_client", "client_id does not match")
        verifier = form.get("code_verifier", "")
        if not 43 <= len(verifier) <= 128 or s256(verifier) != code["challenge"]:
            state.bump("pkce_failures")
            state.bump("invalid_grant")
            raise _Reject(400, "invalid_grant", "PKCE verification failed")
        family = Family(
            id=f"fam-{len(state.families) + 1}",
            provider=provider,
            client_id=code["client_id"],
            scope=code["scope"],
            current_refresh="",
            refresh_issued=time.time(),
        )
        state.families[family.id] = family
        state.bump("code_exchanges")
        return self._issue(family, rotate=True)

    def _refresh(self, provider: str, form: dict[str, str]) -> dict[str, Any]:
        state = self.state
        token = form.get("refresh_token", "")
        family_id = state.refresh_index.get(token)
        family = state.families.get(family_id) if family_id else None
        if family is None or family.provider != provider:
            state.bump("invalid_grant")
            raise _Reject(400, "invalid_grant", "unknown refresh token")
        if family.revoked:
            state.bump("invalid_grant")
            raise _Reject(400, "invalid_grant", "token family revoked")
        if token != family.current_refresh:
            state.revoke(family, "reuse")
            state.bump("invalid_grant")
            raise _Reject(400, "invalid_grant", "refresh token reused: family revoked")
        if (
            state.refresh_ttl is not None
            and time.time() - family.refresh_issued > state.refresh_ttl
        ):
            state.bump("invalid_grant")
            raise _Reject(400, "invalid_grant", "refresh token expired")
        state.bump("refreshes_granted")
        return self._issue(family, rotate=state.rotates(provider))

    def _userinfo(self, provider: str) -> None:
        auth = self.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        with self.state.lock:
            entry = self.state.access_index.get(token)
            family = self.state.families.get(entry[0]) if entry else None
            if entry is None or family is None or family.provider != provider:
                raise _Reject(401, "invalid_token", "unknown access token")
            if family.revoked or entry[1] < time.time():
                raise _Reject(401, "invalid_token", "access token revoked or expired")
        self._json(200, {"family": family.id, "provider": provider, "scope": family.scope})

    # -- control ------------------------------------------------------------------

    def _control(self, method: str, path: str, raw: bytes) -> None:
        state = self.state
        try:
            body: Any = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            raise _Reject(400, "invalid_request", "control body is not JSON") from None
        with state.lock:
            if method == "GET" and path == "/health":
                self._json(200, {"status": "ok", "pid": os.getpid()})
            elif method == "GET" and path == "/counters":
                self._json(200, state.snapshot())
            elif method == "POST" and path == "/faults":
                items = body if isinstance(body, list) else [body]
                state.faults.extend(parse_fault(item) for item in items)
                self._json(200, {"pending": [f.to_dict() for f in state.faults]})
            elif method == "DELETE" and path == "/faults":
                state.faults.clear()
                self._json(200, {"pending": []})
            elif method == "POST" and path == "/config":
                self._config(body if isinstance(body, dict) else {})
            elif method == "POST" and path == "/revoke":
                request = body if isinstance(body, dict) else {}
                revoked = []
                for family in state.families.values():
                    if family.id == request.get("family") or family.provider == request.get(
                        "provider"
                    ):
                        state.revoke(family, "control")
                        revoked.append(family.id)
                self._json(200, {"revoked": revoked})
            elif method == "POST" and path == "/reset":
                fresh = OAuthState()
                for name in ("access_ttl", "refresh_ttl", "rotate", "codes", "families"):
                    setattr(state, name, getattr(fresh, name))
                for name in ("refresh_index", "access_index", "faults", "counters"):
                    setattr(state, name, getattr(fresh, name))
                state.revocations = []
                self._json(200, {"reset": True})
            else:
                raise _Reject(404, "not_found", f"no control route {method} {path}")

    def _config(self, body: dict[str, Any]) -> None:
        state = self.state
        if "access_ttl" in body:
            state.access_ttl = int(body["access_ttl"])
        if "refresh_ttl" in body:
            state.refresh_ttl = None if body["refresh_ttl"] is None else int(body["refresh_ttl"])
        if isinstance(body.get("rotate"), dict):
            state.rotate.update({str(k): bool(v) for k, v in body["rotate"].items()})
        self._json(
            200,
            {
                "access_ttl": state.access_ttl,
                "refresh_ttl": state.refresh_ttl,
                "rotate": state.rotate,
            },
        )


class FakeOAuthServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, host: str, port: int, *, verbose: bool = False) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fake OAuth server binds loopback only")
        self.state = OAuthState()
        self.verbose = verbose
        super().__init__((host, port), OAuthHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    access_ttl: int = DEFAULT_ACCESS_TTL,
    refresh_ttl: int | None = None,
    verbose: bool = False,
) -> None:
    """Run until SIGTERM/SIGINT; prints the ready line on stdout once listening."""
    server = FakeOAuthServer(host, port, verbose=verbose)
    server.state.access_ttl = access_ttl
    server.state.refresh_ttl = refresh_ttl
    if threading.current_thread() is threading.main_thread():

        def _stop(_signum: int, _frame: object) -> None:
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, _stop)
    shown = f"[{host}]" if ":" in host else host
    sys.stdout.write(f"{READY_PREFIX}http://{shown}:{server.port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
