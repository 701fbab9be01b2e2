"""Console login: a principal's key for a session cookie with CSRF double-submit;
ETag/304 on the polled lists; the built console served at / with security headers.
Every test runs on SQLite and PostgreSQL (the ``backend`` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from autopack.api.app import create_app
from autopack.api.console import SECURITY_HEADERS
from autopack.api.etag import POLLED_LISTS
from autopack.domain.principals import cli_actor
from autopack.domain.sessions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, SESSION_LIFETIME
from autopack.services.context import Runtime
from autopack.services.principals import PrincipalService
from autopack.services.runtime import build_runtime
from conftest import make_settings

BOOTSTRAP = "test-key-" + "k" * 40


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as test_client:
        yield test_client


def _key(runtime: Runtime, name: str, role: str) -> str:
    token: str = PrincipalService(runtime).add(name, role=role, actor=cli_actor("t"))["api_key"]
    return token


def _login(client: TestClient, key: str) -> str:
    answer = client.post("/api/session", json={"api_key": key})
    assert answer.status_code == 201, answer.text
    csrf: str = answer.json()["csrf_token"]
    assert client.cookies.get(CSRF_COOKIE) == csrf
    return csrf


def test_login_sets_strict_httponly_cookies_and_says_who(
    client: TestClient, runtime: Runtime
) -> None:
    key = _key(runtime, "alice", "operator")
    answer = client.post("/api/session", json={"api_key": key})
    assert answer.status_code == 201
    body = answer.json()
    assert body["principal"] == "alice"
    assert body["role"] == "operator"
    assert "decide" in body["permissions"]
    assert body["authenticated_by"] == "session"
    cookies = {c.split("=", 1)[0]: c.lower() for c in answer.headers.get_list("set-cookie")}
    assert "httponly" in cookies[SESSION_COOKIE]
    assert "samesite=strict" in cookies[SESSION_COOKIE]
    assert "httponly" not in cookies[CSRF_COOKIE]
    assert "samesite=strict" in cookies[CSRF_COOKIE]
    # Plain HTTP (the test client): no Secure flag, or the browser would drop the cookie.
    assert "secure" not in cookies[SESSION_COOKIE]
    assert key not in answer.text  # the key is never echoed back
    who = client.get("/api/session")
    assert who.status_code == 200
    assert who.json()["principal"] == "alice"
    assert who.json()["expires_at"] is not None
    # The session works on every protected route, with the same role checks.
    assert client.get("/api/approvals").status_code == 200


def test_secure_flag_over_https(runtime: Runtime) -> None:
    key = _key(runtime, "alice", "operator")
    app = create_app(runtime=runtime)
    with TestClient(app, base_url="https://console.test") as client:
        answer = client.post("/api/session", json={"api_key": key})
    cookies = [c.lower() for c in answer.headers.get_list("set-cookie")]
    assert all("secure" in c for c in cookies)


def test_only_hashes_are_stored(client: TestClient, runtime: Runtime) -> None:
    _login(client, _key(runtime, "alice", "operator"))
    token = client.cookies.get(SESSION_COOKIE)
    assert token
    with runtime.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT token_hash, csrf_hash FROM console_sessions").all()
    assert len(rows) == 1
    assert token not in rows[0]
    assert client.cookies.get(CSRF_COOKIE) not in rows[0]


def test_wrong_or_bootstrap_key_opens_no_session(client: TestClient, runtime: Runtime) -> None:
    key = _key(runtime, "alice", "operator")
    PrincipalService(runtime).rotate_key("alice", actor=cli_actor("t"))
    for wrong in ("apk_000000000000_" + "a" * 43, key[:-1] + ("b" if key[-1] != "b" else "c"), key):
        answer = client.post("/api/session", json={"api_key": wrong})
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "invalid_api_key"
    for shapeless in (BOOTSTRAP, "x", ""):
        answer = client.post("/api/session", json={"api_key": shapeless})
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "not_a_principal_key"
        assert "bootstrap key" in answer.json()["error"]["message"]
    assert client.post("/api/session", json={}).status_code == 422
    garbled = client.post(
        "/api/session", content=b"\x80\x81", headers={"Content-Type": "application/json"}
    )
    assert garbled.status_code == 400  # declared: a body that is not JSON is refused
    assert client.cookies.get(SESSION_COOKIE) is None


def test_writes_with_the_cookie_need_the_csrf_header(client: TestClient, runtime: Runtime) -> None:
    csrf = _login(client, _key(runtime, "alice", "operator"))
    halt = {"scope": "all", "reason": "freeze"}
    missing = client.post("/api/halts", json=halt)
    assert missing.status_code == 403
    assert missing.json()["error"]["code"] == "csrf_token_invalid"
    forged = client.post("/api/halts", json=halt, headers={CSRF_HEADER: "A" * 43})
    assert forged.json()["error"]["code"] == "csrf_token_invalid"
    done = client.post("/api/halts", json=halt, headers={CSRF_HEADER: csrf})
    assert done.status_code == 201
    assert done.json()["engaged_by"] == "alice"
    # Reads need no token.
    assert client.get("/api/halts").status_code == 200


def test_api_key_requests_need_no_csrf_token(client: TestClient, runtime: Runtime) -> None:
    key = _key(runtime, "alice", "operator")
    answer = client.post(
        "/api/halts", json={"scope": "all", "reason": "freeze"}, headers={"X-API-Key": key}
    )
    assert answer.status_code == 201
    who = client.get("/api/session", headers={"X-API-Key": key}).json()
    assert who["authenticated_by"] == "api_key"
    assert who["expires_at"] is None


def test_roles_are_enforced_for_sessions(client: TestClient, runtime: Runtime) -> None:
    csrf = _login(client, _key(runtime, "bot", "agent"))
    assert client.get("/api/session").json()["permissions"] == ["propose"]
    listed = client.get("/api/approvals")
    assert listed.status_code == 403
    assert listed.json()["error"]["code"] == "forbidden"
    approve = client.post(
        "/api/approvals/1/approve", json={"hash": "0" * 64}, headers={CSRF_HEADER: csrf}
    )
    assert approve.status_code == 403
    assert approve.json()["error"]["code"] == "forbidden"


def test_logout_ends_the_session_at_once(client: TestClient, runtime: Runtime) -> None:
    csrf = _login(client, _key(runtime, "alice", "operator"))
    token = client.cookies.get(SESSION_COOKIE)
    assert client.delete("/api/session").status_code == 403  # a write: CSRF applies
    ended = client.delete("/api/session", headers={CSRF_HEADER: csrf})
    assert ended.status_code == 200
    assert ended.json() == {"ended": True}
    assert client.cookies.get(SESSION_COOKIE) is None
    client.cookies.set(SESSION_COOKIE, token or "")
    replay = client.get("/api/session")
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "invalid_session"


def test_revoking_or_rotating_the_key_ends_its_sessions(
    client: TestClient, runtime: Runtime
) -> None:
    principals = PrincipalService(runtime)
    _login(client, _key(runtime, "alice", "operator"))
    assert client.get("/api/session").status_code == 200
    principals.rotate_key("alice", actor=cli_actor("t"))
    assert client.get("/api/session").json()["error"]["code"] == "invalid_session"
    _login(client, _key(runtime, "carol", "operator"))
    principals.revoke("carol", actor=cli_actor("t"))
    assert client.get("/api/session").status_code == 401


def test_sessions_expire(client: TestClient, runtime: Runtime) -> None:
    start = datetime.now(UTC)
    runtime.clock = lambda: start
    _login(client, _key(runtime, "alice", "operator"))
    runtime.clock = lambda: start + SESSION_LIFETIME - timedelta(seconds=1)
    assert client.get("/api/session").status_code == 200
    runtime.clock = lambda: start + SESSION_LIFETIME
    expired = client.get("/api/session")
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "invalid_session"


def test_a_cookie_that_is_not_ours_is_invalid_session(client: TestClient) -> None:
    for token in ("short", "A" * 43):
        client.cookies.set(SESSION_COOKIE, token)
        answer = client.get("/api/actions")
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "invalid_session"
    client.cookies.clear()
    assert client.get("/api/actions").json()["error"]["code"] == "missing_api_key"


# -- ETag ------------------------------------------------------------------------------


def test_polled_lists_answer_304_until_they_change(client: TestClient) -> None:
    key = {"X-API-Key": BOOTSTRAP}
    for path in sorted(POLLED_LISTS):
        first = client.get(path, headers=key)
        assert first.status_code == 200
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "private, no-cache"
        again = client.get(path, headers={**key, "If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == etag
        other = client.get(path, headers={**key, "If-None-Match": '"stale"'})
        assert other.status_code == 200
    before = client.get("/api/halts", headers=key).headers["etag"]
    client.post("/api/halts", json={"scope": "all", "reason": "x"}, headers=key)
    after = client.get("/api/halts", headers={**key, "If-None-Match": before})
    assert after.status_code == 200
    assert after.headers["etag"] != before


def test_exactly_the_polled_lists_declare_304(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]  # the TestClient holds our app
    declaring = {
        path
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if method == "get" and "304" in operation["responses"]
    }
    assert declaring == POLLED_LISTS


def test_errors_carry_no_etag(client: TestClient) -> None:
    answer = client.get("/api/actions?status=nope", headers={"X-API-Key": BOOTSTRAP})
    assert answer.status_code == 400
    assert "etag" not in answer.headers


# -- the built console at / ------------------------------------------------------------


def test_the_built_console_is_served_with_security_headers(
    workspace: Path, database_url: str
) -> None:
    build = workspace / "console"
    (build / "assets").mkdir(parents=True)
    (build / "index.html").write_text("<!doctype html><title>Autopack</title>", "utf-8")
    (build / "assets" / "app-1a2b.js").write_text("console.log(1)", "utf-8")
    rt = build_runtime(make_settings(workspace, database_url, api_key=BOOTSTRAP, console_dir=build))
    try:
        with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as client:
            page = client.get("/")
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            for name, value in SECURITY_HEADERS:
                assert page.headers[name] == value
            assert "unsafe-inline" not in page.headers["content-security-policy"]
            script = client.get("/assets/app-1a2b.js")
            assert script.headers["content-type"].startswith("text/javascript")
            assert "immutable" in script.headers["cache-control"]
            assert page.headers["cache-control"] == "no-cache"
            # Nothing outside the build, and the API stays default-deny.
            assert client.get("/../autopack.db").status_code == 401
            assert client.get("/assets/%2e%2e/%2e%2e/x").status_code == 401
            assert client.get("/api/actions").status_code == 401
            assert client.get("/nope").status_code == 401
            assert client.head("/").status_code == 200
    finally:
        rt.close()


def test_without_a_build_slash_is_the_api(workspace: Path, database_url: str) -> None:
    missing = workspace / "no-console-here"
    rt = build_runtime(
        make_settings(workspace, database_url, api_key=BOOTSTRAP, console_dir=missing)
    )
    try:
        with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as client:
            assert client.get("/").status_code == 401
            assert client.get("/", headers={"X-API-Key": BOOTSTRAP}).status_code == 404
    finally:
        rt.close()
