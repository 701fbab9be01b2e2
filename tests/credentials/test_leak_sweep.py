"""Leak sweep: after a full credential lifecycle, no secret in any encoding anywhere.

Scanned: every column of every table except ``credentials.secret_ciphertext``
(and, on SQLite, the raw database and WAL files byte for byte), every file in the
workspace (re-auth tasks, run artifacts), every log record, every CLI output and
every API response.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select

from autopack.api.app import create_app
from autopack.domain.credentials import CredentialNeedsReauthError, RefreshTransientError
from autopack.domain.principals import parse_key
from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService, runtime_redactor
from credentials.cred_support import (
    API_KEY,
    FakeOAuth,
    cli_environment,
    connect,
    encodings,
    invoke,
)

ALPACA_SECRET = "alpaca-leak-secret-" + "Vb2n" * 6


def _database_text(runtime: Runtime) -> str:
    metadata = MetaData()
    metadata.reflect(runtime.engine)
    parts: list[str] = []
    with runtime.engine.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [
                c
                for c in table.columns
                if not (table.name == "credentials" and c.name == "secret_ciphertext")
            ]
            for row in conn.execute(select(*columns)):
                parts.append(json.dumps([str(v) for v in row]))
    return "\n".join(parts)


def _files_text(workspace: Path) -> str:
    chunks: list[str] = []
    for path in sorted(workspace.rglob("*")):
        if path.is_file():
            chunks.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(chunks)


def test_leak_sweep_after_full_lifecycle(
    service: CredentialService,
    fake_oauth: FakeOAuth,
    cred_runtime: Runtime,
    workspace: Path,
    database_url: str,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    for provider, account in (("youtube", "chan1"), ("etsy", "shop1"), ("shopify", "store1")):
        connect(service, fake_oauth, provider, account)
    service.add_api_key(
        "alpaca", "paper1", key_id="PKLEAKKEYID00001", secret=ALPACA_SECRET, environment="paper"
    )
    base = cred_runtime.clock
    for hours in (1, 2, 3):

        def later(h: int = hours) -> datetime:
            return base() + timedelta(hours=h)

        cred_runtime.clock = later
        for provider, account in (("youtube", "chan1"), ("etsy", "shop1"), ("shopify", "store1")):
            service.access_token(provider, account)
    fake_oauth.fault(kind="status", status=503, count=service.policy.max_attempts)
    with pytest.raises(RefreshTransientError):
        service.refresh("shopify", "store1")
    fake_oauth.fault(kind="lost_after_commit", grant="refresh_token")
    with pytest.raises(CredentialNeedsReauthError):
        service.refresh("etsy", "shop1")
    with TestClient(create_app(runtime=cred_runtime)) as client:
        client.headers["X-API-Key"] = API_KEY
        for path in (
            "/api/auth/oauth/health",
            "/api/auth/oauth/health/etsy",
            "/api/auth/oauth/health/alpaca",
            "/api/auth/oauth/events?limit=1000",
        ):
            outputs.append(client.get(path).text)
        outputs.append(client.post("/api/auth/oauth/refresh/youtube").text)
        outputs.append(client.post("/api/auth/oauth/refresh/etsy").text)
        # A principal's API key: shown once in this answer (not swept), then used.
        made = client.post("/api/principals", json={"name": "sweep-bot", "role": "agent"})
        principal_key = made.json()["api_key"]
        outputs.append(client.get("/api/principals").text)
        outputs.append(client.get("/api/runs", headers={"X-API-Key": principal_key}).text)
        rotated = client.post("/api/principals/sweep-bot/rotate-key")
        outputs.append(client.get("/api/runs", headers={"X-API-Key": principal_key}).text)
        principal_keys = {principal_key, rotated.json()["api_key"]}
    cli_environment(monkeypatch, workspace, database_url, fake_oauth.url)
    for args in (
        ["credentials", "list", "--json"],
        ["credentials", "health", "--json"],
        ["credentials", "health"],
        ["credentials", "events", "--json", "--limit", "1000"],
        ["credentials", "refresh", "shopify", "--account", "store1", "--json"],
    ):
        code, out, err = invoke(args, capsys)
        assert code in (0, 2), err
        outputs.extend([out, err])

    secrets = service.known_secrets()
    # Every token ever issued to us (rotated ones too) is known to this process.
    assert len(secrets) >= 3 * 4 + 2
    assert ALPACA_SECRET in secrets
    haystacks = {
        "database": _database_text(cred_runtime),
        "workspace files": _files_text(workspace),
        "logs": caplog.text,
        "cli and api output": "\n".join(outputs),
    }
    if backend == "sqlite":
        db_file = Path(database_url.removeprefix("sqlite:///"))
        raw = b"".join(
            p.read_bytes() for p in db_file.parent.glob(db_file.name + "*") if p.is_file()
        )
        haystacks["raw sqlite files"] = raw.decode("latin-1")
    assert (workspace / ".autonomous_runs/_autopack/reauth/etsy/shop1.md").is_file()
    # Principal keys are never stored or logged in clear, nor their secret halves.
    # The secret half is split off by the key format itself: it is urlsafe base64
    # and may hold "_", so the text after the last "_" can be a chance substring.
    parsed = [parse_key(k) for k in principal_keys]
    assert all(p is not None for p in parsed)
    secret_halves = {p[1] for p in parsed if p is not None}
    swept = set(secrets) | principal_keys | secret_halves
    hits = [
        (where, form[:6])
        for secret in swept
        for form in encodings(secret)
        for where, text in haystacks.items()
        if form in text
    ]
    assert hits == []

    # The runtime redactor masks every stored secret in every encoding.
    redactor = runtime_redactor(cred_runtime)
    with CredentialService(cred_runtime) as fresh:
        stored = fresh.known_secrets()
    assert ALPACA_SECRET in stored
    for secret in stored:
        for form in encodings(secret):
            assert form not in redactor.redact_text(f"prefix {form} suffix"), form[:6]
