"""Durable halts: the service, and end to end through the CLI, the API, the worker
and the sandbox's own record of what it did (both backends)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from autopack.api.app import create_app
from autopack.domain.errors import ConflictError, InvalidInputError, NotFoundError
from autopack.services.context import Runtime
from autopack.services.halts import HaltService
from autopack.services.runtime import build_runtime
from autopack.settings import Settings
from conftest import invoke_cli, principal_headers
from sandbox_support import SandboxProcess, running_sandbox

GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProcess]:
    with running_sandbox(tmp_path / "sbx", mode="idempotent") as sbx:
        yield sbx


def test_engage_release_and_history(runtime: Runtime) -> None:
    halts = HaltService(runtime)
    first = halts.engage("account:sandbox/main", reason="check the card", actor="alice")
    second = halts.engage("all", reason="incident " + GITHUB_TOKEN, actor="bob")
    assert first["scope"] == "account:sandbox/main"
    assert first["engaged"] is True
    assert GITHUB_TOKEN not in json.dumps(second)  # reasons are redacted before storage
    assert [h["id"] for h in halts.list()] == [first["id"], second["id"]]

    released = halts.release(first["id"], actor="carol", reason="card fixed")
    assert released["engaged"] is False
    assert released["released_by"] == "carol"
    assert [h["id"] for h in halts.list()] == [second["id"]]
    assert [h["id"] for h in halts.list(include_released=True)] == [first["id"], second["id"]]
    with pytest.raises(ConflictError) as caught:
        halts.release(first["id"], actor="dave")
    assert caught.value.code == "halt_released"
    history = halts.get(first["id"])["events"]
    assert [(e["event"], e["actor"], e["reason"]) for e in history] == [
        ("engaged", "alice", "check the card"),
        ("released", "carol", "card fixed"),
    ]


def test_bad_input_changes_nothing(runtime: Runtime) -> None:
    halts = HaltService(runtime)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: halts.engage("provider:", reason="r", actor="a"), "invalid_scope"),
        (lambda: halts.engage("all", reason=" ", actor="a"), "invalid_reason"),
        (lambda: halts.engage("all", reason="r", actor="no spaces"), "invalid_actor"),
        (lambda: halts.release(0, actor="a"), "invalid_halt_id"),
        (lambda: halts.release(2**63, actor="a"), "invalid_halt_id"),
    ]
    for call, code in cases:
        with pytest.raises(InvalidInputError) as caught:
            call()
        assert caught.value.code == code
    with pytest.raises(NotFoundError) as missing:
        halts.release(42, actor="a")
    assert missing.value.code == "halt_not_found"
    assert halts.list(include_released=True) == []


def test_halt_history_is_insert_only(runtime: Runtime) -> None:
    HaltService(runtime).engage("all", reason="r", actor="a")
    for statement in ("UPDATE halt_events SET actor = 'x'", "DELETE FROM halt_events"):
        with pytest.raises(DBAPIError, match="insert-only"), runtime.engine.begin() as conn:
            conn.execute(text(statement))


def test_a_halt_survives_a_restart(settings: Settings) -> None:
    first = build_runtime(settings)
    try:
        halt = HaltService(first).engage("provider:sandbox", reason="r", actor="a")
    finally:
        first.close()
    second = build_runtime(settings)
    try:
        assert [h["id"] for h in HaltService(second).list()] == [halt["id"]]
    finally:
        second.close()


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = invoke_cli(args, capsys)
    assert code == 0, (args, out, err)
    out.encode("ascii")
    return out


def test_halt_end_to_end(
    cli_env: Path,
    sandbox: SandboxProcess,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AUTOPACK_SANDBOX_URL", sandbox.url)
    out = _cli(
        [
            "halt",
            "engage",
            "--scope",
            "provider:sandbox",
            "--reason",
            "launch freeze",
            "--as",
            "alice",
            "--json",
        ],
        capsys,
    )
    halt_id = json.loads(out)["id"]
    payload = cli_env / "p.json"
    for key in ("v1", "v2"):
        payload.write_text(json.dumps({"title": key}), encoding="utf-8")
        proposed = json.loads(
            _cli(
                [
                    "actions",
                    "propose",
                    "--provider",
                    "sandbox",
                    "--action",
                    "video.upload",
                    "--key",
                    key,
                    "--payload",
                    str(payload),
                    "--json",
                ],
                capsys,
            )
        )["action"]
        _cli(
            [
                "approvals",
                "approve",
                str(proposed["approval_id"]),
                "--hash",
                proposed["payload_hash"],
                "--as",
                "bob",
            ],
            capsys,
        )

    assert "done: 0 action(s) executed" in _cli(["worker", "--once"], capsys)
    assert sandbox.effects() == []
    shown = _cli(["actions", "show", "v1"], capsys)
    assert f"waiting: halted by halt {halt_id} (provider:sandbox: launch freeze)" in shown
    assert "launch freeze" in _cli(["halt", "status"], capsys)

    runtime.settings = Settings(
        _env_file=None, **{**runtime.settings.model_dump(), "sandbox_url": sandbox.url}
    )
    headers = {"X-API-Key": runtime.settings.api_key.get_secret_value()}  # type: ignore[union-attr]
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as client:
        listed = client.get("/api/halts", headers=headers).json()["halts"]
        assert [h["id"] for h in listed] == [halt_id]
        action = client.get("/api/actions/v2", headers=headers).json()
        assert action["action"]["status"] == "approved"
        assert "launch freeze" in action["waiting_reason"]
        assert [(g["gate"], g["code"]) for g in action["gates"]] == [("halt", "halted")]

        bad = client.post("/api/halts", json={"scope": "galaxy", "reason": "r"}, headers=headers)
        assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_scope")
        assert client.post("/api/halts", json={"scope": "all"}, headers=headers).status_code == 422
        missing = client.delete("/api/halts/999", headers=headers)
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "halt_not_found")
        assert client.get(f"/api/halts/{2**63}", headers=headers).status_code == 422
        assert client.get("/api/halts", headers={}).status_code == 401
        agent = principal_headers(runtime, "bot", "agent")
        refused = client.delete(f"/api/halts/{halt_id}", headers=agent)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
        assert client.get("/api/halts", headers=agent).status_code == 403
        named = client.delete(f"/api/halts/{halt_id}", params={"actor": "carol"}, headers=headers)
        assert (named.status_code, named.json()["error"]["code"]) == (403, "identity_mismatch")

        released = client.delete(f"/api/halts/{halt_id}", params={"reason": "go"}, headers=headers)
        assert released.status_code == 200, released.text
        assert released.json()["engaged"] is False
        assert released.json()["released_by"] == "bootstrap-admin"
        again = client.delete(f"/api/halts/{halt_id}", headers=headers)
        assert (again.status_code, again.json()["error"]["code"]) == (409, "halt_released")
        detail = client.get(f"/api/halts/{halt_id}", headers=headers).json()
        assert [e["event"] for e in detail["events"]] == ["engaged", "released"]

    assert "done: 2 action(s) executed" in _cli(["worker", "--once"], capsys)
    assert "done: 0 action(s) executed" in _cli(["worker", "--once"], capsys)
    effects = sandbox.effects()
    # The sandbox's own record: two effects, one per action, each sent exactly once.
    assert len(effects) == 2
    assert len({e["idempotency_key"] for e in effects}) == 2
    assert sorted(e["body"]["title"] for e in effects) == ["v1", "v2"]
    assert "no halts engaged" in _cli(["halt", "status"], capsys)
    assert "waiting:" not in _cli(["actions", "show", "v1"], capsys)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["halt", "engage", "--scope", "everything", "--reason", "r", "--as", "a"], "halt scope"),
        (["halt", "engage", "--scope", "all", "--reason", "", "--as", "a"], "reason"),
        (["halt", "release", "7", "--as", "a"], "no halt 7"),
        (["halt", "release", "x", "--as", "a"], "halt_id"),
        (["halt", "show", "0"], "halt id must be"),
    ],
)
def test_cli_bad_input_is_exit_2_with_one_line(
    cli_env: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    code, _, err = invoke_cli(args, capsys)
    assert code == 2, err
    assert words in err
    assert "Traceback" not in err
