"""Helpers shared by the credential tests: the fake OAuth server as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from autopack.fake_oauth.server import READY_PREFIX
from autopack.services.context import Runtime

SECRET_KEY = "cred-test-secret-" + "Zq9x" * 10
API_KEY = "cred-test-api-key-" + "Wm3v" * 10


def start_process(
    args: list[str], ready_prefix: str, timeout: float = 20.0
) -> tuple[subprocess.Popen[str], str]:
    """Start ``args``; wait for the first stdout line starting with ``ready_prefix``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = proc.stdout.readline()
    if not line.startswith(ready_prefix) or time.monotonic() > deadline:
        proc.kill()
        raise AssertionError(f"process did not start: {line!r}")
    return proc, line[len(ready_prefix) :].strip()


class FakeOAuth:
    """Handle on a running fake OAuth server process."""

    def __init__(self, url: str) -> None:
        self.url = url
        # One client: building one per call costs a TLS context (tens of ms).
        self._http = httpx.Client(timeout=10)

    def close(self) -> None:
        self._http.close()

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, f"{self.url}/_control{path}", json=body)
        response.raise_for_status()
        return response.json()

    def counters(self) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", "/counters")
        return result

    def fault(self, **fault: Any) -> None:
        self.control("POST", "/faults", fault)

    def reset(self) -> None:
        self.control("POST", "/reset")

    def authorize(self, url: str) -> httpx.Response:
        """Follow the authorize URL like a browser that auto-approves."""
        return self._http.get(url, follow_redirects=True)


@contextmanager
def fake_oauth_process() -> Iterator[FakeOAuth]:
    proc, url = start_process(
        [sys.executable, "-m", "autopack.fake_oauth", "--port", "0"], READY_PREFIX
    )
    server = FakeOAuth(url)
    try:
        yield server
    finally:
        server.close()
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def connect(service: Any, fake: FakeOAuth, provider: str, account: str) -> Any:
    """Full authorization code + PKCE round trip through a loopback callback."""
    from autopack.services.oauth_callback import LoopbackCallback

    with LoopbackCallback() as callback:
        pending = service.begin_connect(provider, account, callback.redirect_uri)
        callback.expect_state(pending.state)
        stray = httpx.get(f"{callback.redirect_uri}?code=x&state=not-ours", timeout=10)
        assert stray.status_code == 400
        landed = fake.authorize(pending.authorize_url)
        assert landed.status_code == 200, landed.text
        url = callback.wait(10)
    return service.complete_connect(pending, url)


def invoke(args: list[str], capsys: Any, stdin: str | None = None) -> tuple[int, str, str]:
    """Run `autopack ARGS` in-process (stdin optional); returns (exit code, out, err)."""
    import io

    from autopack.cli import main

    capsys.readouterr()
    saved = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin = saved
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def encodings(secret: str) -> set[str]:
    """Every form a secret may take on the way out: raw, base64, URL, JSON-escaped."""
    import base64
    import json
    from urllib.parse import quote, quote_plus

    raw = secret.encode("utf-8")
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(raw).decode("ascii")
        forms.update({text, text.rstrip("=")})
    forms.add(json.dumps(json.dumps(secret))[1:-1])
    return forms


def cli_environment(monkeypatch: Any, workspace: Any, database_url: str, fake_url: str) -> None:
    for key in list(os.environ):
        if key.startswith("AUTOPACK_") and key != "AUTOPACK_TEST_PG_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("AUTOPACK_WORKSPACE", str(workspace))
    monkeypatch.setenv("AUTOPACK_DATABASE_URL", database_url)
    monkeypatch.setenv("AUTOPACK_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("AUTOPACK_OAUTH_SERVER_URL", fake_url)
    monkeypatch.chdir(workspace)


def credential_hold(runtime: Runtime, provider: str, account: str) -> str | None:
    """What the dispatch pipeline's credentials gate says for this account: the hold
    message, or None when it allows dispatch (the gate every claim path runs)."""
    from datetime import UTC, datetime

    from autopack.domain.gates import ActionFacts, GateFacts, Verdict
    from autopack.domain.gates.credentials import CredentialsGate
    from autopack.services.gates import GateService
    from autopack.services.ledger import make_store

    gates = GateService(make_store(runtime))
    with runtime.engine.connect() as conn:
        facts = GateFacts(
            now=datetime.now(UTC),
            action=ActionFacts(provider, "any.action", account, "other", "0" * 64, 0),
            approval=None,
            credential=gates.credential(conn, provider, account),
        )
    result = CredentialsGate().check(facts)
    return result.message if result.verdict is Verdict.HOLD else None


def credential_ready(runtime: Runtime, provider: str, account: str) -> bool:
    """The claim query's SQL pre-filter for this provider account."""
    from sqlalchemy import literal, select

    from autopack.services.gates import GateService
    from autopack.services.ledger import make_store

    clause = GateService(make_store(runtime)).hold_free_clause(
        literal(provider), literal(account), category=literal("other"), now=runtime.clock()
    )
    with runtime.engine.connect() as conn:
        return bool(conn.execute(select(clause)).scalar_one())
