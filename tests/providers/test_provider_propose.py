"""Proposing for a registered provider that has no adapter yet is refused by
name, before anything is recorded: exit 2 on the CLI, 400 on the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from autopack.api.app import create_app
from autopack.services.context import Runtime
from conftest import invoke_cli


def _action_rows(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM external_actions")).scalar_one())


@pytest.mark.parametrize("provider", ["youtube"])
def test_cli_refuses_a_provider_without_an_adapter(
    provider: str, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = cli_env / "p.json"
    payload.write_text('{"title": "x"}', encoding="utf-8")
    action = {"youtube": "video.upload", "etsy": "listing.create"}.get(provider, "order.submit")
    code, out, err = invoke_cli(
        [
            *("actions", "propose", "--provider", provider, "--action", action),
            *("--key", "k1", "--payload", str(payload)),
        ],
        capsys,
    )
    assert code == 2, (out, err)
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    assert f"provider '{provider}' has no adapter yet" in err
    assert "sandbox" in err  # names the providers that do have one
    code, out, _ = invoke_cli(["actions", "list", "--json"], capsys)
    assert code == 0
    assert json.loads(out) == []


def test_api_refuses_a_provider_without_an_adapter(runtime: Runtime) -> None:
    app = create_app(runtime=runtime)
    headers = {"X-API-Key": runtime.settings.api_key.get_secret_value()}  # type: ignore[union-attr]
    body = {"provider": "youtube", "action": "video.upload", "key": "y1", "payload_json": "{}"}
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/api/actions", json=body, headers=headers)
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == "provider_not_available"
        assert "no adapter yet" in error["message"]
        r = client.post("/api/actions", json={**body, "provider": "nope"}, headers=headers)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "unknown_provider"
    assert _action_rows(runtime) == 0
