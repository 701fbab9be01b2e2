"""CLI and HTTP API of the credential store (and the fake OAuth server's CLI entry)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from autopack.api.app import create_app
from autopack.fake_oauth.server import READY_PREFIX
from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService
from credentials.cred_support import (
    API_KEY,
    SECRET_KEY,
    FakeOAuth,
    cli_environment,
    connect,
    invoke,
    start_process,
)

ALPACA_SECRET = "alpaca-cli-secret-" + "Kd8s" * 6


def test_cli_add_key_list_health_events_remove(
    fake_oauth: FakeOAuth,
    workspace: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli_environment(monkeypatch, workspace, database_url, fake_oauth.url)
    base = ["credentials", "add-key", "--provider", "alpaca", "--account", "paper1"]
    code, out, err = invoke([*base, "--key-id", "PKCLIKEY000001", "--json"], capsys, "")
    assert code == 2
    assert "stdin" in err
    code, out, err = invoke(
        [*base, "--key-id", "PKCLIKEY000001", "--json"], capsys, ALPACA_SECRET + "\n"
    )
    assert code == 0, err
    assert json.loads(out)["status"] == "present"
    code, out, _ = invoke(["credentials", "list"], capsys)
    assert code == 0
    assert "alpaca/paper1  api_key  paper  present" in out
    code, out, _ = invoke(["credentials", "health", "--json", "--check"], capsys)
    assert code == 0
    assert ALPACA_SECRET not in out
    assert "PKCLIKEY000001" not in out
    code, out, _ = invoke(["credentials", "events", "--json"], capsys)
    assert code == 0
    assert [e["event"] for e in json.loads(out)] == ["key_added"]
    code, _, err = invoke(["credentials", "refresh", "alpaca", "--account", "paper1"], capsys)
    assert code == 2
    assert "add-key" in err
    code, _, err = invoke(["credentials", "connect", "nosuch", "--account", "a"], capsys)
    assert code == 2
    assert "unknown credential provider" in err
    code, out, _ = invoke(["credentials", "remove", "alpaca", "--account", "paper1"], capsys)
    assert code == 0
    code, out, _ = invoke(["credentials", "list"], capsys)
    assert out.strip() == "no credentials"


def test_cli_health_check_fails_on_paused_account(
    fake_oauth: FakeOAuth,
    service: CredentialService,
    workspace: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    connect(service, fake_oauth, "etsy", "shop1")
    cli_environment(monkeypatch, workspace, database_url, fake_oauth.url)
    code, out, err = invoke(["credentials", "refresh", "etsy", "--account", "shop1"], capsys)
    assert code == 0, err
    fake_oauth.control("POST", "/revoke", {"provider": "etsy"})
    code, out, err = invoke(["credentials", "refresh", "etsy", "--account", "shop1"], capsys)
    assert code == 2
    assert "connect etsy --account shop1" in err
    code, out, err = invoke(["credentials", "health", "--check"], capsys)
    assert code == 1
    assert "etsy/shop1" in err
    assert "needs_reauth" in out
    assert "DISPATCH PAUSED" in out


def test_cli_rotate_key_reads_old_key_from_stdin(
    fake_oauth: FakeOAuth,
    service: CredentialService,
    workspace: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    connect(service, fake_oauth, "shopify", "store1")
    cli_environment(monkeypatch, workspace, database_url, fake_oauth.url)
    new_key = "rotated-key-material-" + "Ht6w" * 8
    monkeypatch.setenv("AUTOPACK_SECRET_KEY", new_key)
    code, out, err = invoke(["credentials", "rotate-key", "--json"], capsys, SECRET_KEY + "\n")
    assert code == 0, err
    assert json.loads(out)["reencrypted"] == 1
    code, out, err = invoke(["credentials", "refresh", "shopify", "--account", "store1"], capsys)
    assert code == 0, err


def _env(workspace: Path, database_url: str, fake_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    env.update(
        AUTOPACK_WORKSPACE=str(workspace),
        AUTOPACK_DATABASE_URL=database_url,
        AUTOPACK_SECRET_KEY=SECRET_KEY,
        AUTOPACK_OAUTH_SERVER_URL=fake_url,
    )
    return env


def test_fake_oauth_cli_entry_serves() -> None:
    """`autopack fake-oauth serve --port 0` is a real process that prints its URL."""
    server, url = start_process(
        [sys.executable, "-m", "autopack", "fake-oauth", "serve", "--port", "0"], READY_PREFIX
    )
    try:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/_control/health", timeout=10).json()["status"] == "ok"
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()


def test_cli_connect_end_to_end_process(
    workspace: Path, database_url: str, service: CredentialService, fake_oauth: FakeOAuth
) -> None:
    """`autopack credentials connect` as a real process: PKCE, loopback callback, exchange."""
    url = fake_oauth.url
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autopack",
            "credentials",
            "connect",
            "youtube",
            "--account",
            "chan1",
            "--no-open",
            "--timeout",
            "30",
        ],
        env=_env(workspace, database_url, url),
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("Open this URL")
        authorize_url = proc.stdout.readline().strip()
        assert authorize_url.startswith(f"{url}/youtube/authorize?")
        assert "code_challenge_method=S256" in authorize_url
        assert fake_oauth.authorize(authorize_url).status_code == 200
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "connected: youtube/chan1  oauth2  production  present" in out
    assert fake_oauth.counters()["counters"]["code_exchanges"] == 1
    health = service.health_one("youtube", "chan1")
    assert health.has_refresh_token
    assert [w["code"] for w in health.warnings] == ["google_testing_refresh_expiry"]


@pytest.fixture
def client(cred_runtime: Runtime) -> Any:
    with TestClient(create_app(runtime=cred_runtime)) as test_client:
        test_client.headers["X-API-Key"] = API_KEY
        yield test_client


def test_api_health_refresh_events(
    client: TestClient, service: CredentialService, fake_oauth: FakeOAuth
) -> None:
    assert client.get("/api/auth/oauth/health").json() == {
        "status": "missing",
        "providers": {},
        "credentials": [],
    }
    connect(service, fake_oauth, "etsy", "shop1")
    connect(service, fake_oauth, "etsy", "shop2")
    body = client.get("/api/auth/oauth/health").json()
    assert body["status"] == "present"
    assert body["providers"] == {"etsy": "present"}
    one = client.get("/api/auth/oauth/health/etsy", params={"account": "shop1"}).json()
    assert [c["account"] for c in one["credentials"]] == ["shop1"]
    missing = client.get("/api/auth/oauth/health/youtube").json()
    assert missing == {"provider": "youtube", "status": "missing", "credentials": []}
    bad = client.get("/api/auth/oauth/health/nosuch")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "unknown_credential_provider"
    ambiguous = client.post("/api/auth/oauth/refresh/etsy")
    assert ambiguous.status_code == 400
    assert ambiguous.json()["error"]["code"] == "account_required"
    refreshed = client.post("/api/auth/oauth/refresh/etsy", params={"account": "shop1"})
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_count"] == 1
    fake_oauth.control("POST", "/revoke", {"provider": "etsy"})
    refused = client.post("/api/auth/oauth/refresh/etsy", params={"account": "shop2"})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "credential_needs_reauth"
    body = client.get("/api/auth/oauth/health").json()
    assert body["status"] == "needs_reauth"
    events = client.get("/api/auth/oauth/events", params={"provider": "etsy"}).json()["events"]
    assert [e["event"] for e in events][:2] == ["paused", "refreshed"]
    assert client.get("/api/auth/oauth/health", headers={"X-API-Key": ""}).status_code == 401


def test_cli_operator_pause_and_resume(
    fake_oauth: FakeOAuth,
    service: CredentialService,
    workspace: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from credentials.cred_support import credential_hold

    connect(service, fake_oauth, "shopify", "store1")
    cli_environment(monkeypatch, workspace, database_url, fake_oauth.url)
    code, out, err = invoke(["credentials", "pause", "shopify", "--account", "store1"], capsys)
    assert code == 0, err
    assert "shopify/store1  oauth2  production  paused" in out
    reason = credential_hold(service.rt, "shopify", "store1")
    assert reason is not None
    assert "paused (operator)" in reason
    code, out, err = invoke(["credentials", "resume", "shopify", "--account", "store1"], capsys)
    assert code == 0, err
    assert "present" in out
    events = [e["event"] for e in service.events("shopify", "store1")]
    assert events[:2] == ["resumed", "paused"]
