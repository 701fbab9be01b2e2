"""Proposing for a provider Autopack does not know is refused by name, before
anything is recorded: exit 2 on the CLI, 400 on the API (a registered provider
without an adapter: tests/providers/test_provider_units.py)."""

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


def test_api_refuses_an_unknown_provider(runtime: Runtime) -> None:
    app = create_app(runtime=runtime)
    headers = {"X-API-Key": runtime.settings.api_key.get_secret_value()}  # type: ignore[union-attr]
    body = {"provider": "nope", "action": "video.upload", "key": "y1", "payload_json": "{}"}
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/api/actions", json=body, headers=headers)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "unknown_provider"
    assert _action_rows(runtime) == 0


def test_cli_refuses_an_unknown_provider(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = cli_env / "p.json"
    payload.write_text('{"title": "x"}', encoding="utf-8")
    code, out, err = invoke_cli(
        [
            *("actions", "propose", "--provider", "nope", "--action", "video.upload"),
            *("--key", "k1", "--payload", str(payload)),
        ],
        capsys,
    )
    assert code == 2, (out, err)
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    assert "unknown provider 'nope'" in err
    assert "sandbox" in err  # names the known providers
    code, out, _ = invoke_cli(["actions", "list", "--json"], capsys)
    assert code == 0
    assert json.loads(out) == []
