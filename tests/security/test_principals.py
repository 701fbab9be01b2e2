"""Principals and their API keys: shown once, stored hashed, revocable, rotatable,
and every change in the history with who made it (both backends)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from autopack.domain.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from autopack.domain.principals import Actor, Role, Via, cli_actor, parse_key
from autopack.services.context import Runtime
from autopack.services.halts import HaltService
from autopack.services.principals import PrincipalService
from conftest import invoke_cli

ADMIN = cli_actor("root")


def _all_text(rt: Runtime) -> str:
    """Every value stored in the principal and key tables, as one string."""
    with rt.engine.connect() as conn:
        rows = [
            *conn.execute(text("SELECT * FROM principals")).all(),
            *conn.execute(text("SELECT * FROM api_keys")).all(),
            *conn.execute(text("SELECT * FROM principal_events")).all(),
        ]
    return "\n".join(repr(tuple(r)) for r in rows)


def test_a_key_is_shown_once_and_stored_only_as_a_hash(runtime: Runtime) -> None:
    service = PrincipalService(runtime)
    added = service.add("publisher-bot", role="agent", actor=ADMIN)
    token = added["api_key"]
    parsed = parse_key(token)
    assert parsed is not None
    key_id, secret = parsed
    stored = _all_text(runtime)
    assert secret not in stored
    assert token not in stored
    assert key_id in stored  # the id finds the row; it is not a secret
    listed = service.list()
    assert [p["name"] for p in listed] == ["publisher-bot"]
    assert "api_key" not in listed[0]
    assert token not in repr(listed)

    actor = service.authenticate(token)
    assert actor == Actor("publisher-bot", Role.AGENT, Via.API, added["id"])
    assert service.list()[0]["keys"][0]["last_used_at"] is not None


@pytest.mark.parametrize(
    "bad",
    ["", "apk_", "apk_0123456789ab_short", "x" * 60, "Bearer apk_0123456789ab_" + "a" * 43],
)
def test_malformed_keys_authenticate_nobody(runtime: Runtime, bad: str) -> None:
    PrincipalService(runtime).add("ops", role="operator", actor=ADMIN)
    assert PrincipalService(runtime).authenticate(bad) is None


def test_a_wrong_secret_for_a_real_key_id_authenticates_nobody(runtime: Runtime) -> None:
    token = PrincipalService(runtime).add("ops", role="operator", actor=ADMIN)["api_key"]
    forged = token[:-5] + ("AAAAA" if not token.endswith("AAAAA") else "BBBBB")
    assert PrincipalService(runtime).authenticate(forged) is None


def test_revoke_and_rotate(runtime: Runtime) -> None:
    service = PrincipalService(runtime)
    first = service.add("alice", role="operator", actor=ADMIN)["api_key"]
    rotated = service.rotate_key("alice", actor=ADMIN)["api_key"]
    assert rotated != first
    assert service.authenticate(first) is None
    assert service.authenticate(rotated) is not None
    service.revoke("alice", actor=ADMIN)
    assert service.authenticate(rotated) is None
    with pytest.raises(ConflictError) as again:
        service.revoke("alice", actor=ADMIN)
    assert again.value.code == "principal_revoked"
    with pytest.raises(ConflictError):
        service.rotate_key("alice", actor=ADMIN)
    history = [(e["event"], e["actor"], e["via"]) for e in service.events("alice")]
    assert history == [
        ("created", "root", "cli"),
        ("key_created", "root", "cli"),
        ("key_revoked", "root", "cli"),
        ("key_created", "root", "cli"),
        ("revoked", "root", "cli"),
    ]


def test_bad_input_and_who_may_manage_principals(runtime: Runtime) -> None:
    service = PrincipalService(runtime)
    for name, role, code in [
        ("Bad Name", "agent", "invalid_principal_name"),
        ("ok", "superuser", "invalid_role"),
    ]:
        with pytest.raises(InvalidInputError) as caught:
            service.add(name, role=role, actor=ADMIN)
        assert caught.value.code == code
    service.add("ops", role="operator", actor=ADMIN)
    with pytest.raises(ConflictError) as taken:
        service.add("ops", role="agent", actor=ADMIN)
    assert taken.value.code == "principal_exists"
    with pytest.raises(NotFoundError):
        service.revoke("nobody", actor=ADMIN)
    operator = Actor("ops", Role.OPERATOR, Via.API, 1)
    with pytest.raises(ForbiddenError):
        service.add("sneaky", role="admin", actor=operator)
    agent = Actor("bot", Role.AGENT, Via.API, 2)
    with pytest.raises(ForbiddenError):
        HaltService(runtime).engage("all", reason="mine now", actor=agent)
    assert not service.has_admin()
    service.add("boss", role="admin", actor=ADMIN)
    assert service.has_admin()


def test_principals_cli(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke_cli(
        ["principals", "add", "bot", "--role", "agent", "--as", "root"], capsys
    )
    assert code == 0, err
    assert "API key (shown once" in out
    token = out.strip().rsplit(" ", 1)[-1]
    assert parse_key(token) is not None
    code, out, _ = invoke_cli(["principals", "list"], capsys)
    assert code == 0
    assert "bot  agent  1 live key(s)" in out
    assert token not in out
    code, out, _ = invoke_cli(["principals", "rotate-key", "bot"], capsys)
    assert code == 0
    assert token not in out
    code, out, _ = invoke_cli(["principals", "revoke", "bot"], capsys)
    assert (code, out.strip()) == (0, "revoked bot")
    code, _, err = invoke_cli(["principals", "add", "x", "--role", "king"], capsys)
    assert code == 2
    assert "unknown role" in err


def test_principals_show_prints_the_history(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = invoke_cli(
        ["principals", "add", "ops", "--role", "operator", "--as", "root"], capsys
    )
    assert code == 0, err
    code, out, err = invoke_cli(["principals", "show", "ops"], capsys)
    assert code == 0, err
    assert "ops  operator  1 live key(s)" in out
    assert "created  by root (cli)" in out
    assert "key_created  by root (cli)" in out
    code, _, err = invoke_cli(["principals", "show", "nobody"], capsys)
    assert code == 2
    assert "no principal 'nobody'" in err


def test_the_last_admin_cannot_be_revoked(runtime: Runtime) -> None:
    service = PrincipalService(runtime)
    service.add("boss", role="admin", actor=ADMIN)
    with pytest.raises(ConflictError) as caught:
        service.revoke("boss", actor=ADMIN)
    assert caught.value.code == "last_admin"
    service.add("deputy", role="admin", actor=ADMIN)
    service.revoke("boss", actor=ADMIN)
    assert service.has_admin()


def test_the_command_line_acts_as_the_operating_system_user(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import getpass

    code, out, err = invoke_cli(
        ["halt", "engage", "--scope", "all", "--reason", "check", "--json"], capsys
    )
    assert code == 0, err
    assert json.loads(out)["engaged_by"] == getpass.getuser()
    code, out, err = invoke_cli(["halt", "show", str(json.loads(out)["id"]), "--json"], capsys)
    assert code == 0, err
    event = json.loads(out)["events"][0]
    assert (event["via"], event["principal_id"]) == ("cli", None)
