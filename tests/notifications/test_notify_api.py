"""GET /api/notifications on SQLite and PostgreSQL with a real receiver on
127.0.0.1: what `autopack notify status` shows (counts, last delivery, last
failure by class), for operators and admins only; the webhook by its origin,
never its path, never the secret, never a recorded error's text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from receiver_support import SECRET, Receiver, running_receiver

from autopack.api.app import create_app
from autopack.services.context import Runtime
from autopack.services.halts import HaltService
from autopack.services.notifications.delivery import notification_duty
from autopack.services.notifications.overview import error_class, webhook_origin
from autopack.services.runtime import build_runtime
from conftest import make_settings, principal_headers

SECRET_PATH = "/services/T0001/B0002/slackpathsecret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


def _runtime(workspace: Path, database_url: str, url: str | None, **extra: Any) -> Runtime:
    values: dict[str, Any] = {"notify_backoff_seconds": 0, "notify_timeout_seconds": 2, **extra}
    if url is not None:
        values.update(notify_webhook_url=url, notify_secret=SECRET)
    return build_runtime(make_settings(workspace, database_url, **values))


def _status(client: TestClient, headers: dict[str, str]) -> Any:
    return client.get("/api/notifications", headers=headers)


def test_status_shows_counts_last_delivery_and_failure_class_never_a_secret(
    workspace: Path, database_url: str, receiver: Receiver
) -> None:
    url = receiver.url.rstrip("/") + SECRET_PATH
    runtime = _runtime(workspace, database_url, url, notify_max_attempts=2)
    receiver.statuses.extend([500, 500])
    try:
        duty = notification_duty(runtime, owner="test")
        assert duty is not None
        try:
            HaltService(runtime).engage("all", reason="first", actor="alice")
            for _ in range(3):  # two refused attempts: dead
                duty.deliverer.run_once()
            HaltService(runtime).engage("provider:sandbox", reason="second", actor="alice")
            assert duty.deliverer.run_once() == {"delivered": 1, "failed": 0}
        finally:
            duty.close()
        with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as client:
            operator = principal_headers(runtime, "olga", "operator")
            answer = _status(client, operator)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            host = receiver.url.split("//", 1)[1].split("/", 1)[0]
            assert body["webhook"] == {
                "configured": True,
                "origin": f"http://{host}",
                "format": "json",
            }
            assert body["counts"] == {"pending": 0, "delivered": 1, "dead": 1}
            assert (body["in_flight"], body["retrying"]) == (0, 0)
            assert body["last_delivered_at"] is not None
            failure = body["last_failure"]
            assert (failure["error_class"], failure["status_code"]) == ("rejected", 500)
            (dead,) = body["dead"]
            assert dead["id"] == failure["id"]
            assert (dead["kind"], dead["attempts"], dead["error_class"]) == (
                "halt_engaged",
                2,
                "rejected",
            )
            text = answer.text
            for hidden in ("slackpathsecret", SECRET_PATH, SECRET, "answered HTTP"):
                assert hidden not in text
            admin = principal_headers(runtime, "ada", "admin")
            assert _status(client, admin).json() == body
            agent = _status(client, principal_headers(runtime, "bot", "agent"))
            assert (agent.status_code, agent.json()["error"]["code"]) == (403, "forbidden")
            assert _status(client, {}).status_code == 401
    finally:
        runtime.close()


def test_without_a_webhook_the_status_says_so(workspace: Path, database_url: str) -> None:
    runtime = _runtime(workspace, database_url, None)
    try:
        with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as client:
            body = _status(client, principal_headers(runtime, "olga", "operator")).json()
        assert body == {
            "webhook": {"configured": False, "origin": None, "format": "json"},
            "counts": {"pending": 0, "delivered": 0, "dead": 0},
            "in_flight": 0,
            "retrying": 0,
            "last_delivered_at": None,
            "last_failure": None,
            "dead": [],
        }
    finally:
        runtime.close()


def test_an_unreachable_receiver_is_classed_unreachable(workspace: Path, database_url: str) -> None:
    from net_support import free_port

    runtime = _runtime(workspace, database_url, f"http://127.0.0.1:{free_port()}{SECRET_PATH}")
    try:
        HaltService(runtime).engage("all", reason="r", actor="alice")
        duty = notification_duty(runtime, owner="test")
        assert duty is not None
        try:
            assert duty.deliverer.run_once() == {"delivered": 0, "failed": 1}
        finally:
            duty.close()
        with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as client:
            body = _status(client, principal_headers(runtime, "olga", "operator")).json()
        assert body["counts"]["pending"] == 1
        assert body["retrying"] == 1
        assert body["last_failure"]["error_class"] == "unreachable"
        assert body["last_failure"]["status_code"] is None
        assert "slackpathsecret" not in json.dumps(body)
    finally:
        runtime.close()


def test_origin_and_error_class_rules() -> None:
    assert webhook_origin(None) is None
    assert webhook_origin("https://u:p@hooks.example.com:8443/a/b?c=d") == (
        "https://hooks.example.com:8443"
    )
    assert webhook_origin("http://[::1]:9000/x") == "http://[::1]:9000"
    assert error_class(None, None) is None
    assert error_class(503, "the receiver answered HTTP 503") == "rejected"
    assert error_class(None, "ConnectError: refused") == "unreachable"
    assert error_class(None, "the last attempt's lease expired without an answer") == "no_answer"
