"""Approvals and actions lists page with a keyset cursor, and a page costs a fixed
number of SQL statements whatever its size (no N+1), on SQLite and PostgreSQL:
counted with a SQLAlchemy ``before_cursor_execute`` listener."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ledger_support import Clock
from sqlalchemy import event

from autopack.api.app import create_app
from autopack.domain.errors import InvalidInputError
from autopack.domain.pages import encode_cursor
from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime
from autopack.services.ledger import IntentRequest, LedgerService
from conftest import invoke_cli

KEYS = 23
NOW = datetime.now(UTC)


@contextmanager
def counted(rt: Runtime) -> Iterator[list[str]]:
    statements: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(rt.engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(rt.engine, "before_cursor_execute", listener)


@pytest.fixture
def filled(runtime: Runtime) -> Runtime:
    """23 pending approvals (one a batch of two actions); several share a timestamp,
    so the keyset's tie-break on the id is exercised."""
    clock = Clock()
    runtime.clock = clock
    ledger = LedgerService(runtime)
    for n in range(KEYS):
        if n % 3 == 0:
            clock.advance(seconds=1)
        ledger.propose(
            IntentRequest(
                provider="sandbox", action="video.upload", key=f"p-{n:02d}", payload={"n": n}
            )
        )
    clock.advance(seconds=1)
    ApprovalService(runtime).request_batch(["p-00", "p-01"], requested_by="carol")
    return runtime


def test_an_approvals_page_costs_two_statements_whatever_its_size(filled: Runtime) -> None:
    approvals = ApprovalService(filled)
    counts = []
    for limit in (1, 5, 21):
        with counted(filled) as statements:
            items, _ = approvals.page("pending", limit)
        assert len(items) == limit
        counts.append(len(statements))
    assert counts == [2, 2, 2]
    with counted(filled) as statements:
        items, _ = approvals.page(None, 1000)
    assert len(statements) == 2
    batch = items[-1]
    assert [a["key"] for a in batch["actions"]] == ["p-00", "p-01"]


def test_an_actions_page_costs_one_statement(filled: Runtime) -> None:
    ledger = LedgerService(filled)
    for limit in (1, 10, 100):
        with counted(filled) as statements:
            ledger.page(limit=limit, cursor=None)
        assert len(statements) == 1


def walk(fetch: Any, limit: int) -> list[Any]:
    seen: list[Any] = []
    cursor = None
    for _ in range(100):
        items, cursor = fetch(limit, cursor)
        assert len(items) <= limit
        seen += items
        if cursor is None:
            return seen
        assert len(items) == limit
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize("limit", [1, 4, 7, 22, 100])
def test_walking_the_pages_gives_every_row_once_in_order(filled: Runtime, limit: int) -> None:
    approvals = ApprovalService(filled)
    everything, last = approvals.page(None, 1000)
    assert last is None
    pages = walk(lambda n, c: approvals.page(None, n, c), limit)
    assert [a["id"] for a in pages] == [a["id"] for a in everything]
    assert len(everything) == KEYS + 1
    keys = [(a["created_at"], a["id"]) for a in everything]
    assert keys == sorted(keys)  # oldest first
    ledger = LedgerService(filled)
    actions = walk(lambda n, c: ledger.page(limit=n, cursor=c), limit)
    assert sorted(r.key for r in actions) == [f"p-{n:02d}" for n in range(KEYS)]
    order = [(r.created_at, r.key) for r in actions]
    assert order == sorted(order, key=lambda p: (-p[0].timestamp(), p[1]))  # newest first


def test_rows_added_meanwhile_do_not_shift_a_later_page(filled: Runtime) -> None:
    approvals = ApprovalService(filled)
    first, cursor = approvals.page("pending", 5)
    assert cursor is not None
    LedgerService(filled).propose(
        IntentRequest(provider="sandbox", action="video.upload", key="late", payload={"n": -1})
    )
    rest = walk(lambda n, c: approvals.page("pending", n, c or cursor), 50)
    ids = [a["id"] for a in first + rest]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        "e30",  # {}
        encode_cursor("actions", NOW, "k"),
        encode_cursor("approvals", NOW, 1)[:-3],
        "x" * 700,
    ],
)
def test_a_cursor_the_list_did_not_hand_out_is_refused(filled: Runtime, cursor: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        ApprovalService(filled).page("pending", 5, cursor)
    assert caught.value.code == "invalid_cursor"


def test_api_pages_and_refuses_bad_cursors(filled: Runtime) -> None:
    headers = {"X-API-Key": filled.settings.api_key.get_secret_value()}  # type: ignore[union-attr]
    with TestClient(create_app(runtime=filled), raise_server_exceptions=False) as client:
        answer = client.get("/api/approvals", params={"limit": 10}, headers=headers)
        assert answer.status_code == 200
        body = answer.json()
        assert len(body["approvals"]) == 10
        nxt = client.get(
            "/api/approvals", params={"limit": 100, "cursor": body["next_cursor"]}, headers=headers
        ).json()
        assert nxt["next_cursor"] is None
        assert (
            len(body["approvals"]) + len(nxt["approvals"]) == KEYS - 2 + 1
        )  # batch superseded two
        actions = client.get("/api/actions", params={"limit": 20}, headers=headers).json()
        assert len(actions["actions"]) == 20
        tail = client.get(
            "/api/actions", params={"cursor": actions["next_cursor"]}, headers=headers
        ).json()
        assert len(tail["actions"]) == KEYS - 20
        assert tail["next_cursor"] is None
        for path in ("/api/approvals", "/api/actions"):
            bad = client.get(path, params={"cursor": "nope"}, headers=headers)
            assert bad.status_code == 400
            assert bad.json()["error"]["code"] == "invalid_cursor"


def test_cli_prints_the_next_page_command_and_refuses_a_bad_cursor(
    filled: Runtime, cli_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = invoke_cli(["approvals", "list", "--limit", "3"], capsys)
    assert code == 0
    assert out.count("\n") >= 3
    assert err.startswith("more: --cursor ")
    cursor = err.split()[-1]
    code, out, err = invoke_cli(["approvals", "list", "--limit", "100", "--cursor", cursor], capsys)
    assert code == 0
    assert err == ""
    code, out, err = invoke_cli(["actions", "list", "--limit", "5", "--json"], capsys)
    assert code == 0
    assert len(json.loads(out)) == 5
    assert err.startswith("more: --cursor ")
    for command in (["approvals", "list"], ["actions", "list"]):
        code, _, err = invoke_cli([*command, "--cursor", "bogus"], capsys)
        assert code == 2
        assert "invalid cursor" in err
