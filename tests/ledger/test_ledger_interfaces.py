"""The ledger through the CLI and the HTTP API (thin layers over the services)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from autopack.api.app import create_app
from autopack.services.context import Runtime
from conftest import invoke_cli, principal_headers
from sandbox_support import SandboxProcess, running_sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProcess]:
    with running_sandbox(tmp_path / "sbx", mode="idempotent") as sbx:
        yield sbx


def _ledger_rows(database_url: str) -> tuple[int, int]:
    from autopack.db.engine import create_db_engine

    engine = create_db_engine(database_url)
    try:
        with engine.connect() as conn:
            return (
                conn.execute(text("SELECT count(*) FROM external_actions")).scalar_one(),
                conn.execute(text("SELECT count(*) FROM external_action_events")).scalar_one(),
            )
    finally:
        engine.dispose()


def test_cli_end_to_end(
    cli_env: Path,
    sandbox: SandboxProcess,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AUTOPACK_SANDBOX_URL", sandbox.url)
    payload = cli_env / "p.json"
    payload.write_text('{"title": "Hello", "description": "caf\\u00e9"}', encoding="utf-8")
    code, out, err = invoke_cli(
        ["runs", "new", "--project", "demo", "--family", "pub", "--run-id", "r1"], capsys
    )
    assert code == 0, err
    base = [
        "actions",
        "propose",
        "--provider",
        "sandbox",
        "--action",
        "video.upload",
        "--key",
        "v1",
        "--payload",
        str(payload),
        "--run-id",
        "r1",
    ]
    code, out, err = invoke_cli([*base, "--json"], capsys)
    assert code == 0, err
    proposal = json.loads(out)
    out.encode("ascii")
    action = proposal["action"]
    assert action["status"] == "awaiting_approval"
    assert proposal["created"]
    approval_id, digest = action["approval_id"], action["payload_hash"]

    # Bad input: one line, exit 2, ledger unchanged.
    before = _ledger_rows(database_url)
    bad = cli_env / "bad.json"
    cases = {
        "malformed": "{not json",
        "float": '{"title": "x", "n": 1.5}',
        "conflict": '{"title": "other"}',
    }
    for name, body in cases.items():
        bad.write_text(body, encoding="utf-8")
        args = [*base[:-4], "--payload", str(bad), "--run-id", "r1"]
        code, out, err = invoke_cli(args, capsys)
        assert code == 2, (name, out, err)
        assert len(err.strip().splitlines()) == 1
        assert err.startswith("error: ")
    bad.write_text('{"title": "' + "x" * 300_000 + '"}', encoding="utf-8")
    code, _, err = invoke_cli([*base[:-4], "--payload", str(bad)], capsys)
    assert code == 2
    assert "limit" in err
    code, _, err = invoke_cli(
        [
            "actions",
            "propose",
            "--provider",
            "nope",
            "--action",
            "a",
            "--key",
            "x",
            "--payload",
            str(payload),
        ],
        capsys,
    )
    assert code == 2
    assert "unknown provider" in err
    code, _, err = invoke_cli(
        ["approvals", "approve", str(approval_id), "--hash", "0" * 64, "--as", "alice"], capsys
    )
    assert code == 2
    assert "hash does not match" in err
    assert _ledger_rows(database_url) == before

    code, out, _ = invoke_cli(["approvals", "list"], capsys)
    assert code == 0
    assert "v1" in out
    code, out, err = invoke_cli(
        ["approvals", "approve", str(approval_id), "--hash", digest, "--as", "alice"], capsys
    )
    assert code == 0, err
    code, out, err = invoke_cli(["worker", "--once"], capsys)
    assert code == 0, err
    assert "v1: succeeded" in out
    code, out, _ = invoke_cli(["actions", "show", "v1"], capsys)
    assert code == 0
    assert "status: succeeded" in out
    assert "approval: " in out
    assert "by alice" in out
    assert "dispatch_succeeded" in out
    code, out, _ = invoke_cli(["actions", "list", "--status", "succeeded"], capsys)
    assert code == 0
    assert out.startswith("v1  succeeded")
    code, out, _ = invoke_cli(["actions", "verify-chain"], capsys)
    assert code == 0
    assert out.startswith("ok:")
    code, out, _ = invoke_cli(["actions", "reconcile"], capsys)
    assert code == 0
    code, out, _ = invoke_cli(["actions", "export", "--run-id", "r1"], capsys)
    assert code == 0
    exported = Path(out.strip())
    assert exported.relative_to(cli_env).as_posix() == (
        ".autonomous_runs/demo/runs/pub/r1/ledger/actions.json"
    )
    code, _, err = invoke_cli(["actions", "cancel", "v1"], capsys)
    assert code == 2
    assert "only" in err
    assert len(sandbox.effects()) == 1


def test_api_end_to_end(runtime: Runtime, sandbox: SandboxProcess) -> None:
    from autopack.settings import Settings

    runtime.settings = Settings(
        _env_file=None,
        **{**runtime.settings.model_dump(), "sandbox_url": sandbox.url},
    )
    app = create_app(runtime=runtime)
    headers = principal_headers(runtime, "shop-bot", "agent")  # proposes
    alice = principal_headers(runtime, "alice", "operator")
    bob = principal_headers(runtime, "bob", "operator")
    with TestClient(app, raise_server_exceptions=False) as client:
        body = {
            "provider": "sandbox",
            "action": "listing.create",
            "key": "l1",
            "payload_json": '{"title": "Mug"}',
        }
        r = client.post("/api/actions", json=body, headers=headers)
        assert r.status_code == 201, r.text
        action = r.json()["action"]
        assert client.post("/api/actions", json=body, headers=headers).json()["created"] is False
        r = client.post(
            "/api/actions", json={**body, "payload_json": '{"title": "Cup"}'}, headers=headers
        )
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "idempotency_conflict"
        r = client.post(
            "/api/actions", json={**body, "payload_json": '{"p": 0.5}'}, headers=headers
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "float_not_allowed"
        r = client.get("/api/approvals", headers=alice)
        assert [a["id"] for a in r.json()["approvals"]] == [action["approval_id"]]
        r = client.post(
            f"/api/approvals/{action['approval_id']}/approve",
            json={"hash": "f" * 64, "approver": "alice"},
            headers=alice,
        )
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "approval_hash_mismatch"
        r = client.post(
            f"/api/approvals/{action['approval_id']}/approve",
            json={"hash": action["payload_hash"]},
            headers=alice,
        )
        assert r.status_code == 200, r.text
        r = client.get(f"/api/approvals/{action['approval_id']}", headers=alice)
        assert r.json()["status"] == "approved"
        from autopack.services.executor import Executor
        from autopack.services.providers import ProviderRegistry

        registry = ProviderRegistry(runtime.settings)
        try:
            Executor(runtime, registry).run_once()
        finally:
            registry.close()
        r = client.get("/api/actions/l1", headers=headers)
        detail = r.json()
        assert detail["action"]["status"] == "succeeded"
        assert detail["approval"]["decided_by"] == "alice"
        assert [e["event"] for e in detail["events"]][-1] == "dispatch_succeeded"
        assert client.get("/api/actions?status=succeeded", headers=headers).json()["actions"]
        assert client.get("/api/actions/verify-chain", headers=alice).json()["ok"]
        assert client.post("/api/actions/reconcile", headers=alice).status_code == 200
        r = client.post("/api/actions/l1/cancel", json={}, headers=headers)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "not_cancellable"
        client.post(
            "/api/runs", json={"project": "demo", "family": "f", "run_id": "r9"}, headers=headers
        )
        r = client.post("/api/actions/export", json={"run_id": "r9"}, headers=alice)
        assert r.status_code == 200
        assert r.json()["document"]["actions"] == []
        r = client.post("/api/actions", json={**body, "key": "l2"}, headers=headers)
        r = client.post(
            "/api/actions/l2/cancel", json={"reason": "changed my mind"}, headers=headers
        )
        assert r.json()["status"] == "cancelled"
        rej = client.post("/api/actions", json={**body, "key": "l3"}, headers=headers).json()
        r = client.post(
            f"/api/approvals/{rej['action']['approval_id']}/reject",
            json={"rejecter": "bob"},
            headers=bob,
        )
        assert r.status_code == 200
        assert r.json()["status"] == "rejected"
        assert client.get("/api/actions/nope", headers=headers).status_code == 404
    assert len(sandbox.effects()) == 1


def test_an_unknown_status_filter_is_refused_with_the_allowed_values(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = invoke_cli(["actions", "list", "--status", "done"], capsys)
    assert code == 2, (out, err)
    assert "unknown status 'done'" in err
    assert "awaiting_approval" in err
    assert "needs_attention" in err
    code, out, err = invoke_cli(["approvals", "list", "--status", "ok"], capsys)
    assert code == 2, (out, err)
    assert "unknown approval status 'ok'" in err
    assert "pending" in err
    assert "approved" in err


def test_api_refuses_an_unknown_status_filter(runtime: Runtime) -> None:
    app = create_app(runtime=runtime)
    headers = {"X-API-Key": runtime.settings.api_key.get_secret_value()}  # type: ignore[union-attr]
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/api/actions?status=done", "/api/approvals?status=ok"):
            r = client.get(path, headers=headers)
            assert r.status_code == 400, (path, r.text)
            assert r.json()["error"]["code"] == "invalid_status", r.text
