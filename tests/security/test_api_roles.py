"""Who may do what over HTTP: roles, identities taken from the key (never from a
body), self-approval by principal, the two-person rule, revoked and rotated keys
(both backends)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from autopack.api.app import create_app
from autopack.domain.layout import project_policy_path
from autopack.services.context import Runtime
from conftest import principal_headers

PROPOSAL = {"provider": "sandbox", "action": "video.upload", "payload_json": '{"title": "Hi"}'}


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def bootstrap(runtime: Runtime) -> dict[str, str]:
    return {"X-API-Key": runtime.settings.api_key.get_secret_value()}  # type: ignore[union-attr]


def _propose(client: TestClient, headers: dict[str, str], key: str, **extra: Any) -> Any:
    response = client.post("/api/actions", json={**PROPOSAL, "key": key, **extra}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["action"]


def _code(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_an_agent_key_cannot_approve_reject_halt_or_read_credentials(
    runtime: Runtime, client: TestClient
) -> None:
    agent = principal_headers(runtime, "publisher-bot", "agent")
    action = _propose(client, agent, "v1")
    assert action["requested_by"] == "publisher-bot"
    approval = action["approval_id"]
    refusals = [
        client.post(
            f"/api/approvals/{approval}/approve",
            json={"hash": action["payload_hash"]},
            headers=agent,
        ),
        client.post(f"/api/approvals/{approval}/reject", json={}, headers=agent),
        client.get("/api/approvals", headers=agent),
        client.get(f"/api/approvals/{approval}", headers=agent),
        client.post("/api/halts", json={"scope": "all", "reason": "mine"}, headers=agent),
        client.get("/api/halts", headers=agent),
        client.get("/api/auth/oauth/health", headers=agent),
        client.get("/api/actions/verify-chain", headers=agent),
        client.post("/api/actions/reconcile", headers=agent),
        client.post("/api/actions/v1/resolve", json={"outcome": "failed"}, headers=agent),
        client.get("/api/principals", headers=agent),
        client.post("/api/principals", json={"name": "x", "role": "admin"}, headers=agent),
    ]
    assert [_code(r) for r in refusals] == [(403, "forbidden")] * len(refusals)
    detail = client.get("/api/actions/v1", headers=agent).json()
    assert detail["action"]["status"] == "awaiting_approval"


def test_nobody_acts_in_another_persons_name(runtime: Runtime, client: TestClient) -> None:
    agent = principal_headers(runtime, "publisher-bot", "agent")
    alice = principal_headers(runtime, "alice", "operator")
    action = _propose(client, agent, "v2")
    named = [
        client.post(
            "/api/actions", json={**PROPOSAL, "key": "v3", "requested_by": "alice"}, headers=agent
        ),
        client.post(
            f"/api/approvals/{action['approval_id']}/approve",
            json={"hash": action["payload_hash"], "approver": "alice"},
            headers=agent,
        ),
        client.post(
            f"/api/approvals/{action['approval_id']}/approve",
            json={"hash": action["payload_hash"], "approver": "bob"},
            headers=alice,
        ),
        client.post(
            "/api/halts", json={"scope": "all", "reason": "r", "actor": "bob"}, headers=alice
        ),
    ]
    assert [_code(r) for r in named] == [(403, "identity_mismatch")] * len(named)
    approved = client.post(
        f"/api/approvals/{action['approval_id']}/approve",
        json={"hash": action["payload_hash"], "approver": "alice"},
        headers=alice,
    )
    assert approved.status_code == 200, approved.text
    decision = approved.json()["decisions"][0]
    assert (decision["person"], decision["via"]) == ("alice", "api")
    assert decision["principal_id"] is not None


def test_an_operator_cannot_approve_its_own_proposal_unless_policy_allows(
    runtime: Runtime, client: TestClient
) -> None:
    alice = principal_headers(runtime, "alice", "operator")
    own = _propose(client, alice, "own-1", project="demo")
    response = client.post(
        f"/api/approvals/{own['approval_id']}/approve",
        json={"hash": own["payload_hash"]},
        headers=alice,
    )
    assert _code(response) == (409, "self_approval_refused")
    policy = project_policy_path(runtime.workspace, "demo")
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(json.dumps({"allow_self_approval": True}), encoding="utf-8")
    response = client.post(
        f"/api/approvals/{own['approval_id']}/approve",
        json={"hash": own["payload_hash"]},
        headers=alice,
    )
    assert response.status_code == 200, response.text


def test_two_operators_must_approve_under_the_two_person_rule(
    runtime: Runtime, client: TestClient
) -> None:
    policy = project_policy_path(runtime.workspace, "demo")
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(json.dumps({"two_person": [{"category": "publish"}]}), encoding="utf-8")
    agent = principal_headers(runtime, "publisher-bot", "agent")
    alice = principal_headers(runtime, "alice", "operator")
    bob = principal_headers(runtime, "bob", "operator")
    action = _propose(client, agent, "launch", project="demo")
    path = f"/api/approvals/{action['approval_id']}/approve"
    first = client.post(path, json={"hash": action["payload_hash"]}, headers=alice)
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["required_approvals"]) == ("pending", 2)
    again = client.post(path, json={"hash": action["payload_hash"]}, headers=alice)
    assert _code(again) == (409, "second_approver_required")
    second = client.post(path, json={"hash": action["payload_hash"]}, headers=bob)
    assert second.json()["status"] == "approved"
    assert [d["person"] for d in second.json()["decisions"]] == ["alice", "bob"]


def test_an_agent_reads_only_its_own_actions(runtime: Runtime, client: TestClient) -> None:
    first = principal_headers(runtime, "bot-a", "agent")
    second = principal_headers(runtime, "bot-b", "agent")
    _propose(client, first, "a-1")
    _propose(client, second, "b-1")
    listed = client.get("/api/actions", headers=first).json()["actions"]
    assert [a["key"] for a in listed] == ["a-1"]
    # Another principal's action looks like an unknown key: no probing of keys.
    assert _code(client.get("/api/actions/b-1", headers=first)) == (404, "action_not_found")
    assert _code(client.get("/api/actions/nope", headers=first)) == (404, "action_not_found")
    refused = client.post("/api/actions/b-1/cancel", json={}, headers=first)
    assert _code(refused) == (403, "forbidden")
    own = client.post("/api/actions/a-1/cancel", json={"reason": "not needed"}, headers=first)
    assert own.status_code == 200, own.text
    assert own.json()["status"] == "cancelled"
    assert client.get("/api/actions/a-1", headers=first).status_code == 200


def test_revoked_and_rotated_keys_get_401_and_keys_are_never_logged(
    runtime: Runtime, client: TestClient, bootstrap: dict[str, str]
) -> None:
    made = client.post(
        "/api/principals", json={"name": "ops", "role": "operator"}, headers=bootstrap
    )
    assert made.status_code == 201, made.text
    token = made.json()["api_key"]
    ops = {"X-API-Key": token}
    assert client.get("/api/approvals", headers=ops).status_code == 200
    listed = client.get("/api/principals", headers=bootstrap)
    assert token not in listed.text
    assert token not in runtime.log_redactor().redact_text(f"request with X-API-Key {token}")

    operator = principal_headers(runtime, "boss", "operator")
    assert _code(
        client.post("/api/principals", json={"name": "x", "role": "admin"}, headers=operator)
    ) == (403, "forbidden")

    rotated = client.post("/api/principals/ops/rotate-key", headers=bootstrap)
    assert rotated.status_code == 200, rotated.text
    assert _code(client.get("/api/approvals", headers=ops)) == (401, "invalid_api_key")
    fresh = {"X-API-Key": rotated.json()["api_key"]}
    assert client.get("/api/approvals", headers=fresh).status_code == 200

    revoked = client.delete("/api/principals/ops", headers=bootstrap)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert _code(client.get("/api/approvals", headers=fresh)) == (401, "invalid_api_key")
    assert _code(client.delete("/api/principals/ops", headers=bootstrap)) == (
        409,
        "principal_revoked",
    )
    assert _code(client.delete("/api/principals/nobody", headers=bootstrap)) == (
        404,
        "principal_not_found",
    )


def test_a_key_from_another_database_or_a_forged_one_gets_401(
    runtime: Runtime, client: TestClient, tmp_path: Path
) -> None:
    real = principal_headers(runtime, "ops", "operator")["X-API-Key"]
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    for key in (forged, "apk_000000000000_" + "A" * 43, "not-a-key"):
        response = client.get("/api/approvals", headers={"X-API-Key": key})
        assert _code(response) == (401, "invalid_api_key"), key
    # A header that is not even ASCII (UTF-8 bytes on the wire).
    response = client.get("/api/approvals", headers=[(b"x-api-key", "\u00e9t\u00e9".encode())])
    assert _code(response) == (401, "invalid_api_key")


def test_who_may_call_runs_credentials_and_principals(
    runtime: Runtime, client: TestClient, bootstrap: dict[str, str]
) -> None:
    agent = principal_headers(runtime, "bot", "agent")
    operator = principal_headers(runtime, "ops", "operator")
    made = client.post("/api/runs", json={"project": "demo", "family": "f"}, headers=agent)
    assert made.status_code == 201, made.text  # runs are open to every role
    assert client.get("/api/runs", headers=agent).status_code == 200
    for response in (
        client.get("/api/auth/oauth/health", headers=operator),
        client.post("/api/principals/bot/rotate-key", headers=operator),
        client.delete("/api/principals/bot", headers=operator),
    ):
        assert _code(response) == (403, "forbidden")
    assert client.get("/api/auth/oauth/health", headers=bootstrap).status_code == 200
    for reserved in ("agent", "bootstrap-admin", "system"):
        response = client.post(
            "/api/principals", json={"name": reserved, "role": "agent"}, headers=bootstrap
        )
        assert _code(response) == (400, "invalid_principal_name"), reserved
