"""Handoff and run memory over HTTP: agents may submit outputs; validation alone decides."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from handoff_support import STORED_SECRET, dump, fix_clock, new_run, output_for

from autopack.api.app import create_app
from autopack.services.context import Runtime
from autopack.services.ledger import LedgerService
from conftest import principal_headers

ADMIN = {"X-API-Key": "test-key-" + "k" * 40}


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    fix_clock(runtime)
    runtime.note_secrets([STORED_SECRET])
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as test_client:
        yield test_client


def test_briefs_outputs_and_the_handoff_view(client: TestClient, runtime: Runtime) -> None:
    ref = new_run(runtime, "r1")
    agent = principal_headers(runtime, "helper-bot", "agent")
    made = client.post(
        "/api/runs/r1/handoff/briefs", json={"task": "review", "goal": "Review it"}, headers=agent
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["json_path"] == f"handoff/briefs/{body['id']}.json"
    again = client.post(
        "/api/runs/r1/handoff/briefs", json={"task": "review", "goal": "Review it"}, headers=ADMIN
    )
    assert again.json()["id"] == body["id"]
    action = {"provider": "sandbox", "action": "video.upload", "payload": {}, "rationale": "r"}
    document = output_for(runtime, ref, body["brief"], proposed_actions=[action])
    accepted = client.post(
        "/api/runs/r1/handoff/outputs",
        content=dump(document),
        headers={**agent, "Content-Type": "application/json"},
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["accepted"] is True
    assert accepted.json()["proposed_actions"] == 1
    assert LedgerService(runtime).list() == []
    leaked = output_for(
        runtime, ref, body["brief"], summary=base64.b64encode(STORED_SECRET.encode()).decode()
    )
    refused = client.post("/api/runs/r1/handoff/outputs", content=dump(leaked), headers=agent)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "output_rejected"
    assert "secret" in {p["code"] for p in error["details"]["problems"]}
    assert STORED_SECRET not in refused.text
    view = client.get("/api/runs/r1/handoff", headers=agent)
    assert view.status_code == 200
    shown = view.json()
    assert shown["context"]["run"]["run_id"] == "r1"
    assert shown["briefs"] == [body["json_path"]]
    assert shown["outputs"][0]["proposed_actions"] == [action]
    assert len(shown["rejected"]) == 1


def test_bad_requests_are_4xx(client: TestClient, runtime: Runtime) -> None:
    new_run(runtime, "r1")
    assert client.get("/api/runs/nope/handoff", headers=ADMIN).status_code == 404
    assert client.get("/api/runs/..x/handoff", headers=ADMIN).status_code == 400
    bad_task = client.post(
        "/api/runs/r1/handoff/briefs", json={"task": "act", "goal": "g"}, headers=ADMIN
    )
    assert bad_task.status_code == 422
    empty = client.post(
        "/api/runs/r1/handoff/briefs", json={"task": "plan", "goal": "  "}, headers=ADMIN
    )
    assert empty.status_code == 400
    assert empty.json()["error"]["code"] == "invalid_handoff_text"
    garbage = client.post("/api/runs/r1/handoff/outputs", content=b"\xff not json", headers=ADMIN)
    assert garbage.status_code == 400
    assert garbage.json()["error"]["code"] == "output_rejected"
    assert client.get("/api/memory/search", headers=ADMIN).status_code == 422
    words = client.get("/api/memory/search", params={"q": "the"}, headers=ADMIN)
    assert words.status_code == 400
    assert words.json()["error"]["code"] == "invalid_query"


def test_memory_search(client: TestClient, runtime: Runtime) -> None:
    new_run(runtime, "r1", project="shop")
    new_run(runtime, "r2", project="desk")
    client.post(
        "/api/runs/r1/handoff/briefs", json={"task": "plan", "goal": "tulip listing"}, headers=ADMIN
    )
    client.post(
        "/api/runs/r2/handoff/briefs", json={"task": "plan", "goal": "paper orders"}, headers=ADMIN
    )
    found = client.get("/api/memory/search", params={"q": "tulip"}, headers=ADMIN)
    assert found.status_code == 200
    hits = found.json()["hits"]
    assert hits[0]["run_id"] == "r1"
    assert hits[0]["rank"] == 1
    only = client.get(
        "/api/memory/search", params={"q": "tulip", "project": "desk", "limit": 5}, headers=ADMIN
    )
    assert all(h["project"] == "desk" for h in only.json()["hits"])
