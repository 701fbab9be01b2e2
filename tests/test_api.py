"""HTTP API through FastAPI's test client: auth, health, runs, error bodies."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from autopack.api.app import create_app, route_table
from autopack.api.security import PUBLIC_ROUTES
from autopack.domain.errors import ConfigurationError, UnavailableError
from autopack.services.context import Runtime
from autopack.services.runtime import build_runtime
from autopack.settings import Settings
from conftest import make_settings

KEY = {"X-API-Key": "test-key-" + "k" * 40}


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime=runtime)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_health_is_public_and_reports_schema(client: TestClient, runtime: Runtime) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["reachable"] is True
    assert body["database"]["at_head"] is True
    assert body["database"]["backend"] == runtime.engine.dialect.name
    assert body["version"]


def test_every_other_route_needs_the_key(client: TestClient, app: FastAPI) -> None:
    routes = route_table(app) - PUBLIC_ROUTES
    assert ("POST", "/api/runs") in routes
    for method, path in sorted(routes):
        concrete = re.sub(r"\{[^}]+\}", "x1", path)
        response = client.request(method, concrete)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "missing_api_key"
    wrong = client.get("/api/runs", headers={"X-API-Key": "wrong"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert client.get("/api/runs", headers=KEY).status_code == 200


def test_unknown_routes_are_denied_without_key(client: TestClient) -> None:
    assert client.get("/nope").status_code == 401
    response = client.get("/nope", headers=KEY)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "route_not_found"


def test_runs_roundtrip(client: TestClient, workspace: Path) -> None:
    created = client.post("/api/runs", json={"project": "demo", "family": "publish"}, headers=KEY)
    assert created.status_code == 201
    run = created.json()
    assert (Path(run["directory"]) / "run.json").is_file()
    assert Path(run["directory"]).is_relative_to(workspace)
    listed = client.get("/api/runs", headers=KEY).json()["runs"]
    assert [r["run_id"] for r in listed] == [run["run_id"]]
    shown = client.get(f"/api/runs/{run['run_id']}", headers=KEY)
    assert shown.json() == run


def test_domain_errors_have_stable_codes(client: TestClient) -> None:
    bad = client.post("/api/runs", json={"project": "../x", "family": "f"}, headers=KEY)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_identifier"
    missing = client.get("/api/runs/nope", headers=KEY)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "run_not_found"
    client.post("/api/runs", json={"project": "a", "family": "f", "run_id": "r1"}, headers=KEY)
    dup = client.post(
        "/api/runs", json={"project": "a", "family": "f", "run_id": "r1"}, headers=KEY
    )
    assert dup.status_code == 409
    assert dup.json()["error"]["code"] == "run_exists"
    schema = client.post("/api/runs", json={"project": "a"}, headers=KEY)
    assert schema.status_code == 422
    assert schema.json()["error"]["code"] == "invalid_request"
    extra = client.post("/api/runs", json={"project": "a", "family": "f", "x": 1}, headers=KEY)
    assert extra.status_code == 422


def test_unexpected_errors_never_leak_a_traceback(app: FastAPI, client: TestClient) -> None:
    router = APIRouter()

    @router.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    app.include_router(router)
    response = client.get("/api/boom", headers=KEY)
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "internal error; see the server log"}
    }
    assert "Traceback" not in response.text


def test_health_is_503_when_schema_is_behind(workspace: Path, empty_database_url: str) -> None:
    rt = build_runtime(make_settings(workspace, empty_database_url, api_key=KEY["X-API-Key"]))
    try:
        app = create_app(runtime=rt)
        with pytest.raises(UnavailableError, match="autopack db upgrade"):  # noqa: SIM117
            with TestClient(app):
                pass
        # Without the startup check (health probe while a migration is pending):
        response = TestClient(app).get("/health")
        assert response.status_code == 503
        assert response.json()["database"]["at_head"] is False
    finally:
        rt.close()


def test_development_generates_and_prints_a_key_once(
    workspace: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = build_runtime(make_settings(workspace, database_url))
    try:
        app = create_app(runtime=rt)
        generated = app.state.api_key
        assert len(generated) >= 32
        with TestClient(app) as test_client:
            assert test_client.get("/api/runs", headers={"X-API-Key": generated}).status_code == 200
        printed = capsys.readouterr().err
        assert printed.count(generated) == 1
    finally:
        rt.close()


def test_production_without_key_refuses_to_build(workspace: Path, database_url: str) -> None:
    settings: Settings = make_settings(workspace, database_url, env="production")
    with pytest.raises(ConfigurationError) as info:
        create_app(settings=settings)
    assert info.value.code == "missing_secret"


def test_route_table_lists_the_known_routes(app: FastAPI) -> None:
    assert {
        ("GET", "/health"),
        ("GET", "/api/runs"),
        ("POST", "/api/runs"),
        ("GET", "/api/runs/{run_id}"),
        ("GET", "/api/openapi.json"),
    } <= route_table(app)


def test_health_is_503_when_database_is_unreachable(workspace: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    rt = build_runtime(make_settings(workspace, url, api_key=KEY["X-API-Key"]))
    try:
        response = TestClient(create_app(runtime=rt)).get("/health")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["database"]["reachable"] is False
        assert "Traceback" not in response.text
    finally:
        rt.close()


def test_services_live_as_long_as_the_app(app: FastAPI) -> None:
    """Built once by the lifespan, shared by every request, closed on shutdown.

    On PostgreSQL the ledger reserves approval ids in blocks; a ledger service per
    request threw each block away, so two proposals got ids 64 apart."""
    listing = {"provider": "sandbox", "action": "listing.create", "payload_json": '{"t": "Mug"}'}
    assert getattr(app.state, "services", None) is None
    with TestClient(app) as client:
        services = app.state.services
        first = client.post("/api/actions", json={**listing, "key": "l1"}, headers=KEY)
        second = client.post("/api/actions", json={**listing, "key": "l2"}, headers=KEY)
        assert first.status_code == second.status_code == 201, (first.text, second.text)
        assert app.state.services is services
        adapter = services.registry.get("sandbox")
        # The response model keeps the wire names of an event ("from", "to").
        events = client.get("/api/actions/l1", headers=KEY).json()["events"]
        assert set(events[0]) == {"seq", "event", "from", "to", "fencing", "actor", "at"} | {
            "data",
            "hash",
        }
    ids = [r.json()["action"]["approval_id"] for r in (first, second)]
    assert ids[1] == ids[0] + 1, ids
    assert app.state.services is None
    # Closed with the app: the sandbox adapter's HTTP client and the token client.
    assert adapter._client.is_closed
    assert services.credentials.endpoint._http is None
