"""Trading over HTTP against the Alpaca fake (its own process, over loopback):
roles, the kill switch with flatten, the two-person promotion, loosening as a
request, and bad input as 4xx (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from autopack.api.app import create_app
from autopack.services.context import Runtime
from autopack.services.runtime import build_runtime
from conftest import make_settings, principal_headers
from fakes_support import FakesProcess, running_fakes
from trading_support import (
    STRATEGY,
    STRATEGY_HASH,
    order,
    paper_broker_get,
    ready_trading,
    send_order,
)

ADMIN = {"X-API-Key": "test-key-" + "k" * 40}


@pytest.fixture
def fakes(tmp_path: Path) -> Iterator[FakesProcess]:
    with running_fakes(tmp_path, "alpaca") as running:
        running.control("POST", "/alpaca/prices", {"prices": {"AAPL": "100", "MSFT": "50"}})
        yield running
        assert running.stderr_problems() == []


@pytest.fixture
def rt(workspace: Path, database_url: str, fakes: FakesProcess) -> Iterator[Runtime]:
    runtime = build_runtime(
        make_settings(
            workspace,
            database_url,
            api_key=ADMIN["X-API-Key"],
            alpaca_paper_url=f"{fakes.url}/alpaca/paper",
            alpaca_live_url=f"{fakes.url}/alpaca/live",
        )
    )
    yield runtime
    runtime.close()


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as test_client:
        yield test_client


def broker_get(fakes: FakesProcess, path: str, **params: str) -> Any:
    return paper_broker_get(fakes.url, path, **params)


def code(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_an_agent_key_cannot_change_limits_approve_or_kill(rt: Runtime, client: TestClient) -> None:
    ready_trading(rt)
    agent = principal_headers(rt, "trader-bot", "agent")
    operator = principal_headers(rt, "olga", "operator")
    asked = client.post(
        "/api/trading/accounts/main/limits",
        json={"limits": {"max_orders_per_day": 2000}},
        headers=operator,
    ).json()
    request = asked["request"]
    base = "/api/trading/accounts/main"
    refusals = [
        client.post(f"{base}/limits", json={"limits": {"max_orders_per_day": 5}}, headers=agent),
        client.post(f"{base}/kill", json={"reason": "mine", "flatten": True}, headers=agent),
        client.post(f"{base}/reduce", json={"reason": "mine"}, headers=agent),
        client.post(f"{base}/resume", json={"reason": "mine"}, headers=agent),
        client.post(f"{base}/promotions", json={"strategy": STRATEGY}, headers=agent),
        client.post(f"{base}/sync", headers=agent),
        client.post(
            f"/api/trading/requests/{request['id']}/approve",
            json={"hash": request["payload_hash"]},
            headers=agent,
        ),
        client.post(
            f"/api/trading/requests/{request['id']}/reject", json={"reason": "no"}, headers=agent
        ),
        client.post(
            "/api/trading/strategies", json={"name": "x", "sha256": "a" * 64}, headers=agent
        ),
        client.get("/api/trading", headers=agent),
        client.get(base, headers=agent),
        client.get(f"{base}/events", headers=agent),
        client.get("/api/trading/requests", headers=agent),
        client.get("/api/trading/strategies", headers=agent),
    ]
    assert [code(r) for r in refusals] == [(403, "forbidden")] * len(refusals)
    status = client.get(base, headers=operator).json()
    assert status["state"] == "active"
    assert status["limits"]["account"]["limits"]["max_orders_per_day"] == 1000
    assert (
        client.get(f"/api/trading/requests/{request['id']}", headers=operator).json()["status"]
        == "pending"
    )


def test_an_operator_kills_with_flatten(
    rt: Runtime, client: TestClient, fakes: FakesProcess
) -> None:
    ready_trading(rt, limits={"max_position_qty": "50", "symbols": "AAPL,MSFT"})
    send_order(rt, "buy-filled", order(qty="3", limit_price="100"))
    send_order(rt, "buy-open", order(qty="1", limit_price="90"))
    assert len(broker_get(fakes, "/v2/orders", status="open")) == 1
    operator = principal_headers(rt, "olga", "operator")
    synced = client.post("/api/trading/accounts/main/sync", headers=operator)
    assert synced.status_code == 200, synced.text
    assert synced.json()["ok"] is True
    assert synced.json()["positions"] == 1

    killed = client.post(
        "/api/trading/accounts/main/kill",
        json={"reason": "runaway strategy", "flatten": True},
        headers=operator,
    )
    assert killed.status_code == 200, killed.text
    body = killed.json()
    assert body["ok"] is True, body
    assert [(s["step"], s["status"]) for s in body["steps"]] == [
        ("cancel-orders", "succeeded"),
        ("close-positions", "succeeded"),
        ("suspend", "succeeded"),
    ]
    assert broker_get(fakes, "/v2/orders", status="open") == []
    assert broker_get(fakes, "/v2/account/configurations")["suspend_trade"] is True
    status = client.get("/api/trading/accounts/main", headers=operator).json()
    assert (status["state"], status["state_reason"], status["state_by"]) == (
        "halted",
        "runaway strategy",
        "olga",
    )
    events = client.get("/api/trading/accounts/main/events", headers=operator).json()["events"]
    killed_event = next(e for e in events if e["event"] == "killed")
    assert (killed_event["actor"], killed_event["via"]) == ("olga", "api")
    assert killed_event["data"]["flatten"] is True
    # Each broker step is a ledger action the operator can follow.
    step = client.get(f"/api/actions/{body['steps'][0]['key']}", headers=operator).json()
    assert step["action"]["status"] == "succeeded"
    # Killing again is not refused (the switch always works) and stays HALTED.
    again = client.post(
        "/api/trading/accounts/main/kill", json={"reason": "again"}, headers=operator
    )
    assert again.status_code == 200
    assert [s["step"] for s in again.json()["steps"]] == ["cancel-orders", "suspend"]


def test_a_promotion_needs_two_distinct_operators(rt: Runtime, client: TestClient) -> None:
    olga = principal_headers(rt, "olga", "operator")
    oscar = principal_headers(rt, "oscar", "operator")
    otto = principal_headers(rt, "otto", "operator")
    registered = client.post(
        "/api/trading/strategies", json={"name": STRATEGY, "sha256": STRATEGY_HASH}, headers=olga
    )
    assert registered.status_code == 200, registered.text
    assert registered.json()["applied"] is True
    assert registered.json()["strategy"]["registered_by"] == "olga"
    listed = client.get("/api/trading/strategies", headers=oscar).json()["strategies"]
    assert [s["name"] for s in listed] == [STRATEGY]
    # No limits yet: nothing to bind a promotion to.
    early = client.post(
        "/api/trading/accounts/main/promotions", json={"strategy": STRATEGY}, headers=olga
    )
    assert code(early) == (409, "trading_limits_missing")
    first = client.post(
        "/api/trading/accounts/main/limits",
        json={"limits": {"max_position_qty": "10"}},
        headers=olga,
    ).json()
    assert first["applied"] is False
    limits_request = first["request"]
    applied = client.post(
        f"/api/trading/requests/{limits_request['id']}/approve",
        json={"hash": limits_request["payload_hash"]},
        headers=oscar,
    )
    assert applied.json()["status"] == "applied", applied.text

    asked = client.post(
        "/api/trading/accounts/main/promotions",
        json={"strategy": STRATEGY, "expires_in_days": 3},
        headers=olga,
    )
    assert asked.status_code == 200, asked.text
    request = asked.json()["request"]
    assert (request["kind"], request["required_approvals"]) == ("promote", 2)
    approve = f"/api/trading/requests/{request['id']}/approve"
    decision = {"hash": request["payload_hash"]}
    assert code(client.post(approve, json=decision, headers=olga)) == (
        409,
        "second_approver_required",
    )
    wrong = client.post(approve, json={"hash": "0" * 64}, headers=oscar)
    assert code(wrong) == (409, "trading_request_hash")
    once = client.post(approve, json=decision, headers=oscar)
    assert once.status_code == 200
    assert once.json()["status"] == "pending"
    assert [a["approver"] for a in once.json()["approvals"]] == ["oscar"]
    assert code(client.post(approve, json=decision, headers=oscar)) == (
        409,
        "second_approver_required",
    )
    twice = client.post(approve, json=decision, headers=otto)
    assert twice.json()["status"] == "applied", twice.text
    assert twice.json()["voided_because"] is None
    (promotion,) = client.get("/api/trading/accounts/main", headers=olga).json()["promotions"]
    assert (promotion["strategy"], promotion["expired"]) == (STRATEGY, False)
    assert code(client.post(approve, json=decision, headers=otto)) == (
        409,
        "trading_request_decided",
    )


def test_loosening_via_the_api_becomes_a_request(rt: Runtime, client: TestClient) -> None:
    ready_trading(rt, limits={"max_position_qty": "10", "max_orders_per_day": 100})
    olga = principal_headers(rt, "olga", "operator")
    oscar = principal_headers(rt, "oscar", "operator")
    url = "/api/trading/accounts/main/limits"
    tighter = client.post(url, json={"limits": {"max_position_qty": "5"}}, headers=olga)
    assert tighter.status_code == 200, tighter.text
    assert tighter.json()["applied"] is True
    assert tighter.json()["limits"]["max_position_qty"] == "5"
    version = tighter.json()["version"]
    same = client.post(url, json={"limits": {"max_position_qty": "5"}}, headers=olga)
    assert code(same) == (409, "trading_no_change")

    looser = client.post(
        url, json={"limits": {"max_position_qty": "20", "max_orders_per_day": None}}, headers=olga
    )
    assert looser.status_code == 200, looser.text
    body = looser.json()
    assert body["applied"] is False
    assert sorted(body["loosened"]) == ["max_orders_per_day", "max_position_qty"]
    request = body["request"]
    assert (request["kind"], request["status"], request["requested_by"]) == (
        "limits",
        "pending",
        "olga",
    )
    status = client.get("/api/trading/accounts/main", headers=olga).json()
    assert status["limits"]["account"]["version"] == version
    assert status["limits"]["account"]["limits"]["max_position_qty"] == "5"
    assert status["pending_requests"] == 1
    pending = client.get("/api/trading/requests", headers=oscar)
    assert [r["id"] for r in pending.json()["requests"]] == [request["id"]]
    etag = pending.headers["etag"]
    unchanged = client.get("/api/trading/requests", headers={**oscar, "If-None-Match": etag})
    assert unchanged.status_code == 304

    rejected = client.post(
        f"/api/trading/requests/{request['id']}/reject",
        json={"reason": "too loose"},
        headers=oscar,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert "too loose" in rejected.json()["decision"]
    assert client.get("/api/trading/requests", headers=oscar).json()["requests"] == []
    everything = client.get("/api/trading/requests", params={"all": "true"}, headers=oscar)
    assert request["id"] in [r["id"] for r in everything.json()["requests"]]
    # A strategy's own set: tightening below the account's applies at once.
    narrowed = client.post(
        url, json={"strategy": STRATEGY, "limits": {"symbols": ["AAPL"]}}, headers=olga
    )
    assert narrowed.status_code == 200, narrowed.text
    assert client.get("/api/trading/accounts/main", headers=olga).json()["limits"][STRATEGY][
        "limits"
    ]["symbols"] == ["AAPL"]


def test_reduce_resume_and_a_failed_broker_read(rt: Runtime, client: TestClient) -> None:
    # "spare" has limits but no stored key: its broker read fails.
    ready_trading(rt, "spare", key=None)
    olga = principal_headers(rt, "olga", "operator")
    oscar = principal_headers(rt, "oscar", "operator")
    failed = client.post("/api/trading/accounts/spare/sync", headers=olga)
    assert failed.status_code == 200, failed.text
    assert failed.json()["ok"] is False
    assert failed.json()["error"]
    broker = client.get("/api/trading/accounts/spare", headers=olga).json()["broker"]
    assert broker["read_error"] == failed.json()["error"]

    reduced = client.post(
        "/api/trading/accounts/spare/reduce", json={"reason": "wind down"}, headers=olga
    )
    assert reduced.status_code == 200, reduced.text
    assert reduced.json()["state"] == "reducing"
    again = client.post(
        "/api/trading/accounts/spare/reduce", json={"reason": "wind down"}, headers=olga
    )
    assert code(again) == (409, "trading_no_change")
    asked = client.post(
        "/api/trading/accounts/spare/resume", json={"reason": "all clear"}, headers=olga
    )
    assert asked.status_code == 200, asked.text
    request = asked.json()["request"]
    assert (request["kind"], request["payload"]["to"]) == ("resume", "active")
    approved = client.post(
        f"/api/trading/requests/{request['id']}/approve",
        json={"hash": request["payload_hash"]},
        headers=oscar,
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "applied"
    # Lifting the broker's suspension is a step too; without a key it waits.
    (lift,) = approved.json()["steps"]
    assert (lift["step"], lift["ok"]) == ("lift-suspension", False)
    assert client.get("/api/trading/accounts/spare", headers=olga).json()["state"] == "active"
    accounts = client.get("/api/trading", headers=olga).json()["accounts"]
    assert [a["account"] for a in accounts] == ["spare"]


BAD_INPUT: list[tuple[str, str, Any, tuple[int, str]]] = [
    ("GET", "/api/trading/accounts/nope", None, (404, "trading_account_not_found")),
    ("GET", "/api/trading/accounts/Bad!", None, (400, "invalid_account")),
    ("GET", "/api/trading/accounts/" + "a" * 65, None, (422, "invalid_request")),
    ("GET", "/api/trading/accounts/nope/events", None, (404, "trading_account_not_found")),
    ("GET", "/api/trading/accounts/main/events?limit=0", None, (422, "invalid_request")),
    ("POST", "/api/trading/accounts/nope/sync", None, (404, "trading_account_not_found")),
    ("POST", "/api/trading/accounts/main/limits", {"limits": {}}, (400, "invalid_trading_limits")),
    (
        "POST",
        "/api/trading/accounts/main/limits",
        {"limits": {"max_leverage": "2"}},
        (400, "invalid_trading_limits"),
    ),
    (
        "POST",
        "/api/trading/accounts/main/limits",
        {"limits": {"max_position_qty": "-1"}},
        (400, "invalid_trading_limits"),
    ),
    (
        "POST",
        "/api/trading/accounts/main/limits",
        {"limits": {"max_orders_per_day": 1.5}},
        (422, "invalid_request"),
    ),
    (
        "POST",
        "/api/trading/accounts/main/limits",
        {"limits": {"\ud800": "1"}},
        (400, "invalid_unicode"),
    ),
    (
        "POST",
        "/api/trading/accounts/main/limits",
        {"limits": {"symbols": ["\udfff"]}},
        (400, "invalid_unicode"),
    ),
    (
        "POST",
        "/api/trading/accounts/main/limits",
        {"strategy": "Bad Name", "limits": {"max_position_qty": "1"}},
        (400, "invalid_strategy"),
    ),
    ("POST", "/api/trading/accounts/main/kill", {"reason": " "}, (400, "invalid_reason")),
    ("POST", "/api/trading/accounts/main/kill", {"reason": "\ud800"}, (400, "invalid_unicode")),
    ("POST", "/api/trading/accounts/main/kill", {}, (422, "invalid_request")),
    ("POST", "/api/trading/accounts/x%20y/kill", {"reason": "r"}, (400, "invalid_account")),
    (
        "POST",
        "/api/trading/accounts/main/resume",
        {"reason": "r", "to": "sideways"},
        (400, "invalid_trading_state"),
    ),
    (
        "POST",
        "/api/trading/accounts/main/promotions",
        {"strategy": "ghost"},
        (404, "strategy_not_found"),
    ),
    (
        "POST",
        "/api/trading/accounts/main/promotions",
        {"strategy": STRATEGY, "expires_in_days": 0},
        (422, "invalid_request"),
    ),
    ("POST", "/api/trading/strategies", {"name": "m", "sha256": "xyz"}, (400, "invalid_strategy")),
    (
        "POST",
        "/api/trading/strategies",
        {"name": STRATEGY, "sha256": STRATEGY_HASH},
        (409, "trading_no_change"),
    ),
    ("GET", "/api/trading/requests/0", None, (422, "invalid_request")),
    ("GET", "/api/trading/requests/99", None, (404, "trading_request_not_found")),
    ("GET", "/api/trading/requests?all=maybe", None, (422, "invalid_request")),
    (
        "POST",
        "/api/trading/requests/99/approve",
        {"hash": "a" * 64},
        (404, "trading_request_not_found"),
    ),
    ("POST", "/api/trading/requests/1/approve", {"hash": "A" * 64}, (400, "invalid_trading_hash")),
    ("POST", "/api/trading/requests/1/approve", {"hash": "a" * 65}, (422, "invalid_request")),
    (
        "POST",
        "/api/trading/requests/99/reject",
        {"reason": "no"},
        (404, "trading_request_not_found"),
    ),
    ("POST", "/api/trading/requests/1/reject", {"reason": ""}, (400, "invalid_reason")),
]


def test_bad_input_is_a_4xx_with_the_error_body(rt: Runtime, client: TestClient) -> None:
    ready_trading(rt)
    for method, path, body, expected in BAD_INPUT:
        # json.dumps escapes lone surrogates (\\ud800), as a client would send them.
        content = None if body is None else json.dumps(body)
        response = client.request(
            method, path, content=content, headers={**ADMIN, "Content-Type": "application/json"}
        )
        assert code(response) == expected, (method, path, response.text)
