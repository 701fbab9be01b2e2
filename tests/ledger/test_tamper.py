"""Tampering with the ledger from the database side (sqlite3, psql): what the
database refuses, what verify-chain detects, and what only a checkpoint kept
outside the database can prove (both backends)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ledger_support import Kit, make_kit
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from autopack.domain.canonical import format_utc
from autopack.domain.errors import CheckFailedError, ConfigurationError, InvalidInputError
from autopack.domain.ledger import GENESIS_HASH, event_hash
from autopack.services.context import Runtime
from autopack.services.runtime import build_runtime
from conftest import invoke_cli, make_settings

SECRET = "tamper-test-secret-" + "Kp4w" * 10


@pytest.fixture
def rt(workspace: Path, database_url: str) -> Iterator[Runtime]:
    runtime = build_runtime(make_settings(workspace, database_url, secret_key=SECRET))
    yield runtime
    runtime.close()


@pytest.fixture
def kit(rt: Runtime) -> Kit:
    kit = make_kit(rt)
    for key in ("t1", "t2"):
        kit.propose(key)
        kit.approve(key)
    kit.executor.run_once()
    return kit


def _postgres(rt: Runtime) -> bool:
    return rt.engine.dialect.name == "postgresql"


def test_insert_or_replace_cannot_swap_a_history_row(kit: Kit) -> None:
    with kit.rt.engine.connect() as conn:
        first = (
            conn.execute(
                text(
                    "SELECT * FROM external_action_events WHERE idempotency_key = 't1' AND seq = 1"
                )
            )
            .mappings()
            .one()
        )
    columns = [c for c in first if c != "id"]
    values = {c: first[c] for c in columns} | {"actor": "mallory"}
    names = ", ".join(columns)
    marks = ", ".join(f":{c}" for c in columns)
    if _postgres(kit.rt):
        statement = (
            f"INSERT INTO external_action_events ({names}) VALUES ({marks}) "  # noqa: S608
            "ON CONFLICT (idempotency_key, seq) DO UPDATE SET actor = EXCLUDED.actor"
        )
    else:
        statement = f"INSERT OR REPLACE INTO external_action_events ({names}) VALUES ({marks})"  # noqa: S608
    with pytest.raises(DBAPIError, match="insert-only"), kit.rt.engine.begin() as conn:
        conn.execute(text(statement), values)
    assert kit.ledger.verify_chain()["ok"] is True


@pytest.mark.parametrize(
    "table", ["credential_events", "halt_events", "principal_events", "approval_decisions"]
)
def test_no_history_row_is_replaced_by_its_id(kit: Kit, table: str) -> None:
    """Every insert-only table refuses a row that reuses an existing id (SQLite's
    INSERT OR REPLACE; PostgreSQL's upsert, which fires the update trigger)."""
    from autopack.domain.principals import cli_actor
    from autopack.services.credentials import CredentialService
    from autopack.services.halts import HaltService
    from autopack.services.principals import PrincipalService

    with CredentialService(kit.rt) as credentials:
        credentials.add_api_key(
            "alpaca",
            "main",
            key_id="PKTAMPER0000000001",
            secret="t" * 8 + "Zq9" * 8,
            environment="paper",
        )
    HaltService(kit.rt).engage("all", reason="tamper test", actor="ops")
    HaltService(kit.rt).release(1, actor="ops")
    PrincipalService(kit.rt).add("tamper-bot", role="agent", actor=cli_actor("ops"))
    kit.propose("t9")
    kit.approve("t9")
    with kit.rt.engine.connect() as conn:
        first = conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).mappings().first()  # noqa: S608
    assert first is not None
    columns = [str(c) for c in first]
    names = ", ".join(columns)
    marks = ", ".join(f":{c}" for c in columns)
    if _postgres(kit.rt):
        statement = (
            f"INSERT INTO {table} ({names}) VALUES ({marks}) "  # noqa: S608 - constant names
            f"ON CONFLICT (id) DO UPDATE SET id = EXCLUDED.id"
        )
    else:
        statement = f"INSERT OR REPLACE INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
    with pytest.raises(DBAPIError, match="insert-only"), kit.rt.engine.begin() as conn:
        conn.execute(text(statement), dict(first))


@pytest.mark.parametrize("table", ["external_actions", "approvals"])
def test_actions_and_approvals_are_never_deleted(kit: Kit, table: str) -> None:
    with pytest.raises(DBAPIError, match="never deleted"), kit.rt.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - a constant table name


def _drop_guards(rt: Runtime) -> None:
    """What a writer with full database access can do first."""
    with rt.engine.begin() as conn:
        if _postgres(rt):
            for table, trigger in [
                ("external_action_events", "external_action_events_no_update_delete"),
                ("external_actions", "external_actions_no_delete"),
            ]:
                conn.execute(text(f"DROP TRIGGER {trigger} ON {table}"))
        else:
            for trigger in (
                "external_action_events_no_update",
                "external_action_events_no_delete",
                "external_actions_no_delete",
            ):
                conn.execute(text(f"DROP TRIGGER {trigger}"))


def test_a_deleted_action_leaves_orphaned_events_that_verify_chain_reports(kit: Kit) -> None:
    _drop_guards(kit.rt)
    delete = "DELETE FROM external_actions WHERE idempotency_key = 't2'"
    if _postgres(kit.rt):
        with kit.rt.engine.begin() as conn:
            conn.execute(
                text(
                    "ALTER TABLE external_action_events DROP CONSTRAINT "
                    "fk_external_action_events_idempotency_key_external_actions"
                )
            )
            conn.execute(text(delete))
    else:
        # As the sqlite3 shell does it: foreign keys are off unless asked for.
        url = kit.rt.engine.url.database
        assert url is not None
        shell = sqlite3.connect(url)
        try:
            shell.execute(delete)
            shell.commit()
        finally:
            shell.close()
    with pytest.raises(CheckFailedError) as caught:
        kit.ledger.verify_chain()
    problems = caught.value.details["problems"]
    assert {(p["key"], p["problem"]) for p in problems} == {("t2", "orphaned_events")}


def _rewrite_history(rt: Runtime, key: str) -> None:
    """Change what the first event says and recompute every hash after it, as an
    attacker with database access would: the unkeyed chain verifies again."""
    _drop_guards(rt)
    with rt.engine.begin() as conn:
        events = (
            conn.execute(
                text(
                    "SELECT * FROM external_action_events WHERE idempotency_key = :k ORDER BY seq"
                ),
                {"k": key},
            )
            .mappings()
            .all()
        )
        prev = GENESIS_HASH
        for ev in events:
            actor = "mallory" if ev["seq"] == 1 else ev["actor"]
            at = ev["at"]
            if isinstance(at, str):  # SQLite keeps naive UTC text
                at = datetime.fromisoformat(at).replace(tzinfo=UTC)
            digest = event_hash(
                prev_hash=prev,
                key=key,
                seq=ev["seq"],
                event=ev["event"],
                from_status=ev["from_status"],
                to_status=ev["to_status"],
                fencing=ev["fencing"],
                actor=actor,
                at=format_utc(at),
                data=ev["data"],
            )
            conn.execute(
                text(
                    "UPDATE external_action_events SET actor = :a, prev_hash = :p, hash = :h "
                    "WHERE id = :id"
                ),
                {"a": actor, "p": prev, "h": digest, "id": ev["id"]},
            )
            prev = digest
        conn.execute(
            text("UPDATE external_actions SET last_event_hash = :h WHERE idempotency_key = :k"),
            {"h": prev, "k": key},
        )


def test_only_a_checkpoint_catches_a_recomputed_chain(kit: Kit, tmp_path: Path) -> None:
    path = tmp_path / "anchor" / "checkpoint.json"
    document = kit.ledger.write_checkpoint(path)
    assert document["checkpoint"]["actions"] == 2
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored == document
    assert kit.ledger.verify_chain(stored)["checkpoint"] == "verified"

    _rewrite_history(kit.rt, "t1")
    assert kit.ledger.verify_chain()["ok"] is True  # the unkeyed chain cannot tell
    with pytest.raises(CheckFailedError) as caught:
        kit.ledger.verify_chain(stored)
    problems = {(p["key"], p["problem"]) for p in caught.value.details["problems"]}
    assert ("t1", "checkpoint_rewritten") in problems


def test_a_forged_or_foreign_checkpoint_is_refused(
    kit: Kit, workspace: Path, database_url: str
) -> None:
    document = kit.ledger.audit.checkpoint()
    forged = json.loads(json.dumps(document))
    forged["checkpoint"]["heads"][0][2] = "0" * 64
    with pytest.raises(CheckFailedError) as caught:
        kit.ledger.verify_chain(forged)
    assert caught.value.code == "checkpoint_signature_invalid"
    for bad in ({}, {"checkpoint": {}, "signature": "x"}, [1, 2]):
        with pytest.raises(InvalidInputError) as malformed:
            kit.ledger.verify_chain(bad)
        assert malformed.value.code == "invalid_checkpoint"
    other = build_runtime(make_settings(workspace, database_url, secret_key="another-" + SECRET))
    try:
        with pytest.raises(CheckFailedError):
            make_kit(other).ledger.verify_chain(document)
    finally:
        other.close()
    unsigned = build_runtime(make_settings(workspace, database_url))
    try:
        with pytest.raises(ConfigurationError) as missing:
            make_kit(unsigned).ledger.audit.checkpoint()
        assert missing.value.code == "missing_secret"
    finally:
        unsigned.close()


def test_checkpoint_cli(
    kit: Kit,
    cli_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AUTOPACK_SECRET_KEY", SECRET)
    anchor = tmp_path / "cp.json"
    code, out, err = invoke_cli(["actions", "checkpoint", "--out", str(anchor)], capsys)
    assert code == 0, err
    assert "over 2 actions" in out
    code, out, err = invoke_cli(["actions", "verify-chain", "--checkpoint", str(anchor)], capsys)
    assert code == 0, err
    assert "every anchored event is unchanged" in out
    _rewrite_history(kit.rt, "t2")
    code, _, err = invoke_cli(["actions", "verify-chain", "--checkpoint", str(anchor)], capsys)
    assert code == 1
    assert "checkpoint_rewritten" in err
    code, _, err = invoke_cli(
        ["actions", "verify-chain", "--checkpoint", str(tmp_path / "missing.json")], capsys
    )
    assert code == 2
    assert "cannot read" in err
