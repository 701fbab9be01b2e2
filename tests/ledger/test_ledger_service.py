"""The ledger services on SQLite and PostgreSQL: idempotency, approvals, execution,
reconciliation, fencing, binding, the insert-only chained events and the export."""

from __future__ import annotations

import json
import threading
from collections import deque
from pathlib import Path
from typing import Any

import psycopg
import pytest
from ledger_support import Kit, ScriptedAdapter, make_kit, write_policy
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from autopack.domain.approvals import ApprovalRefusedError
from autopack.domain.errors import CheckFailedError, ConflictError, InvalidInputError, NotFoundError
from autopack.domain.ledger import MAX_PAYLOAD_BYTES
from autopack.domain.providers import DispatchResult, LookupResult, LookupStatus, Outcome
from autopack.services.context import Runtime
from autopack.services.executor import Executor
from autopack.services.ledger import IdempotencyConflictError, IntentRequest, LeaseLostError
from autopack.services.runs import RunService


@pytest.fixture
def kit(runtime: Runtime) -> Kit:
    return make_kit(runtime)


def _counts(rt: Runtime) -> tuple[int, int, int]:
    with rt.engine.connect() as conn:
        a, e, p = (
            int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())  # noqa: S608
            for t in ("external_actions", "external_action_events", "approvals")
        )
        return a, e, p


def test_same_key_same_hash_returns_existing_different_hash_conflicts(kit: Kit) -> None:
    first = kit.propose("k1", text="hello")
    assert first.created
    assert first.record.status == "awaiting_approval"
    again = kit.propose("k1", text="hello")
    assert not again.created
    assert again.record.payload_hash == first.record.payload_hash
    with pytest.raises(IdempotencyConflictError) as info:
        kit.propose("k1", text="other")
    assert info.value.code == "idempotency_conflict"
    # Also after it has run to completion, and through the guarded call.
    kit.approve("k1")
    kit.executor.run_once()
    with pytest.raises(IdempotencyConflictError):
        kit.propose("k1", text="other")
    with pytest.raises(IdempotencyConflictError):
        kit.executor.guarded_call(
            IntentRequest(
                provider="scripted",
                action="post.publish",
                account="main",
                key="k1",
                payload={"text": "other"},
                project="demo",
            )
        )
    assert _counts(kit.rt)[0] == 1


def test_racing_proposers_resolve_through_the_unique_key(kit: Kit) -> None:
    results: list[Any] = []
    barrier = threading.Barrier(6)

    def go(i: int) -> None:
        barrier.wait()
        try:
            results.append(kit.propose("race", text=f"v{i % 2}").created)
        except IdempotencyConflictError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    assert _counts(kit.rt)[:2] == (1, 1)
    winner = kit.ledger.get("race").payload["text"]
    losers = [r for r in results if r == "idempotency_conflict"]
    assert len(losers) == 3  # every proposer of the other payload is refused
    assert winner in ("v0", "v1")


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"provider": "nope"}, "unknown_provider"),
        ({"action": "nope"}, "unknown_action"),
        ({"payload": {"x": 1.5}}, "float_not_allowed"),
        ({"payload": {"x": "a" * MAX_PAYLOAD_BYTES}}, "payload_too_large"),
        ({"payload": [1, 2]}, "invalid_payload"),
        ({"key": "bad key"}, "invalid_idempotency_key"),
        ({"account": "Bad/Account"}, "invalid_account"),
        ({"run_id": "no-such-run"}, "run_not_found"),
    ],
)
def test_bad_input_is_refused_and_leaves_the_ledger_unchanged(
    kit: Kit, kwargs: dict[str, Any], code: str
) -> None:
    args: dict[str, Any] = {
        "provider": "scripted",
        "action": "ping",
        "account": "main",
        "key": "k",
        "payload": {"x": 1},
    }
    args.update(kwargs)
    before = _counts(kit.rt)
    with pytest.raises((InvalidInputError, NotFoundError)) as info:
        kit.ledger.propose(IntentRequest(**args))
    assert info.value.code == code
    assert _counts(kit.rt) == before


def test_approval_flow_and_refusals(kit: Kit) -> None:
    rec = kit.propose("k1").record
    assert rec.approval_id is not None
    before = _counts(kit.rt)
    for kwargs, code in [
        ({"hash_": "0" * 64, "approver": "alice"}, "approval_hash_mismatch"),
        ({"hash_": rec.payload_hash, "approver": "agent"}, "self_approval_refused"),
        ({"hash_": rec.payload_hash, "approver": "policy:auto"}, "approver_reserved"),
    ]:
        with pytest.raises(ApprovalRefusedError) as info:
            kit.approvals.approve(rec.approval_id, **kwargs)
        assert info.value.code == code
    assert _counts(kit.rt) == before
    body = kit.approvals.approve(rec.approval_id, hash_=rec.payload_hash, approver="alice")
    assert body["status"] == "approved"
    assert body["actions"] == ["k1"]
    # Replay of the same approval is refused: single use.
    with pytest.raises(ApprovalRefusedError) as replay:
        kit.approvals.approve(rec.approval_id, hash_=rec.payload_hash, approver="bob")
    assert replay.value.code == "approval_used"
    assert kit.ledger.get("k1").status == "approved"
    assert [r.status for r in kit.executor.run_once()] == ["succeeded"]
    assert kit.adapter.sent == [("k1", kit.ledger.get("k1").request_hash)]


def test_self_approval_only_when_policy_allows(kit: Kit, workspace: Path) -> None:
    write_policy(workspace, "demo", {"allow_self_approval": True})
    rec = kit.propose("k1").record
    assert rec.approval_id is not None
    kit.approvals.approve(rec.approval_id, hash_=rec.payload_hash, approver="agent")
    assert kit.ledger.get("k1").status == "approved"


def test_policy_auto_approves_only_non_sensitive_actions(kit: Kit, workspace: Path) -> None:
    write_policy(workspace, "demo", {"auto_approve": [{"provider": "*", "action": "*"}]})
    assert kit.propose("p1", action="ping").record.status == "approved"
    # post.publish is a publish action: a human approval is always required.
    assert kit.propose("p2", action="post.publish").record.status == "awaiting_approval"
    done = kit.executor.guarded_call(
        IntentRequest(
            provider="scripted",
            action="ping",
            account="main",
            key="g1",
            payload={"a": 1},
            project="demo",
        )
    )
    assert done.status == "succeeded"
    assert done.provider_object_id == "obj-g1"
    replay = kit.executor.guarded_call(
        IntentRequest(
            provider="scripted",
            action="ping",
            account="main",
            key="g1",
            payload={"a": 1},
            project="demo",
        )
    )
    assert replay.status == "succeeded"
    assert len(kit.adapter.sent) == 1


def test_expired_approval_is_refused_and_swept(kit: Kit) -> None:
    rec = kit.propose("k1").record
    assert rec.approval_id is not None
    kit.clock.advance(hours=24, seconds=1)
    before = _counts(kit.rt)
    with pytest.raises(ApprovalRefusedError) as info:
        kit.approvals.approve(rec.approval_id, hash_=rec.payload_hash, approver="alice")
    assert info.value.code == "approval_expired"
    assert _counts(kit.rt) == before
    report = kit.executor.reconcile()
    assert report["expired_approvals"] == 1
    assert kit.ledger.get("k1").status == "expired"


def test_approved_but_not_started_before_expiry_expires(kit: Kit) -> None:
    rec = kit.propose("k1").record
    kit.approve("k1")
    kit.clock.advance(hours=25)
    assert kit.executor.run_once() == []
    assert kit.ledger.get("k1").status == "expired"
    assert kit.adapter.sent == []
    assert rec.key == "k1"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("payload", json.dumps({"text": "evil"})),
        ("account", "other"),
        ("action", "ping"),
        ("request_hash", "f" * 64),
        ("payload", "not json"),
    ],
)
def test_any_field_changed_after_approval_is_refused_before_dispatch(
    kit: Kit, column: str, value: str
) -> None:
    kit.propose("k1", text="approved text")
    kit.approve("k1")
    # Someone edits the stored row behind the ledger's back.
    with kit.rt.engine.begin() as conn:
        conn.execute(
            text(f"UPDATE external_actions SET {column} = :v WHERE idempotency_key = 'k1'"),  # noqa: S608
            {"v": value},
        )
    kit.executor.run_once()
    rec = kit.ledger.get("k1")
    assert rec.status == "needs_attention"
    assert "nothing sent" in (rec.last_error or "")
    assert kit.adapter.sent == []
    kit.ledger.verify_chain()


def test_hash_swapped_to_match_tampered_payload_is_refused_by_the_approval(kit: Kit) -> None:
    kit.propose("k1", text="approved text")
    kit.approve("k1")
    other = kit.ledger.prepare(
        IntentRequest(
            provider="scripted",
            action="post.publish",
            account="main",
            key="k1",
            payload={"text": "evil"},
            project="demo",
        )
    )
    with kit.rt.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE external_actions SET payload = :p, payload_hash = :h "
                "WHERE idempotency_key = 'k1'"
            ),
            {"p": other.payload_text, "h": other.payload_hash},
        )
    kit.executor.run_once()
    assert kit.ledger.get("k1").status == "needs_attention"
    assert kit.adapter.sent == []


def test_batch_approval_binds_the_set_of_hashes(kit: Kit) -> None:
    kit.propose("b1")
    kit.propose("b2")
    batch = kit.approvals.request_batch(["b1", "b2"], requested_by="agent")
    with pytest.raises(ApprovalRefusedError):
        kit.approvals.approve(
            batch["id"], hash_=kit.ledger.get("b1").payload_hash, approver="alice"
        )
    kit.approvals.approve(batch["id"], hash_=batch["subject_hash"], approver="alice")
    assert {r.status for r in kit.executor.run_once()} == {"succeeded"}
    assert len(kit.adapter.sent) == 2


def test_reject_and_cancel(kit: Kit) -> None:
    r1 = kit.propose("r1").record
    assert r1.approval_id is not None
    kit.approvals.reject(r1.approval_id, rejecter="alice", reason="no")
    assert kit.ledger.get("r1").status == "rejected"
    kit.propose("c1")
    assert kit.ledger.cancel("c1").status == "cancelled"
    with pytest.raises(ConflictError) as info:
        kit.ledger.cancel("c1")
    assert info.value.code == "not_cancellable"
    assert kit.executor.run_once() == []


def test_no_effect_is_retried_with_backoff_and_bounded(kit: Kit) -> None:
    kit.adapter.outcomes.extend(
        DispatchResult(Outcome.NO_EFFECT, status_code=429, retry_after_seconds=5) for _ in range(9)
    )
    kit.propose("k1")
    kit.approve("k1")
    kit.executor.run_once()
    rec = kit.ledger.get("k1")
    assert rec.status == "retry_wait"
    assert rec.retry_count == 1
    assert kit.executor.run_once() == []  # not due yet
    for _ in range(3):
        kit.clock.advance(seconds=301)
        kit.executor.run_once()
    rec = kit.ledger.get("k1")
    assert rec.status == "failed"
    assert rec.attempt_count == 4
    assert len(kit.adapter.sent) == 4


def test_permanent_fails_and_maybe_effect_goes_unknown_then_reconciles(kit: Kit) -> None:
    kit.adapter.outcomes.extend(
        [
            DispatchResult(Outcome.PERMANENT, status_code=400, error="bad"),
            DispatchResult(Outcome.MAYBE_EFFECT, error="read timeout"),
        ]
    )
    for key in ("a-perm", "b-maybe"):  # claimed in key order (same clock)
        kit.propose(key)
        kit.approve(key)
    kit.executor.run_once()
    assert kit.ledger.get("a-perm").status == "failed"
    assert kit.ledger.get("b-maybe").status == "unknown"
    report = kit.executor.reconcile()
    assert report["succeeded"] == ["b-maybe"]
    rec = kit.ledger.get("b-maybe")
    assert rec.status == "succeeded"
    assert rec.provider_object_id == "obj-b-maybe"
    assert len(kit.adapter.sent) == 2


@pytest.mark.parametrize(
    ("lookups", "final"),
    [
        ([LookupStatus.UNSUPPORTED], "needs_attention"),
        ([LookupStatus.UNAVAILABLE], "unknown"),
        ([LookupStatus.NOT_FOUND], "succeeded"),  # one more dispatch, which succeeds
        ([LookupStatus.NOT_FOUND, LookupStatus.NOT_FOUND], "needs_attention"),
    ],
)
def test_reconcile_decisions(kit: Kit, lookups: list[LookupStatus], final: str) -> None:
    kit.adapter.outcomes.append(DispatchResult(Outcome.MAYBE_EFFECT, error="lost"))
    kit.propose("k1")
    kit.approve("k1")
    kit.executor.run_once()
    assert kit.ledger.get("k1").status == "unknown"
    kit.adapter.effects.clear()
    for i, status in enumerate(lookups):
        kit.adapter.lookups.append(LookupResult(status))
        if status is LookupStatus.NOT_FOUND:
            # Inside the settle window NOT_FOUND is no proof: it stays unknown.
            report = kit.executor.reconcile()
            assert report["settling"] == report["still_unknown"] == ["k1"]
            assert kit.executor.run_once() == []
            kit.clock.advance(seconds=kit.executor.settle_seconds_for("scripted"))
            kit.adapter.lookups.append(LookupResult(status))
        kit.executor.reconcile()
        if i < len(lookups) - 1:
            kit.adapter.outcomes.append(DispatchResult(Outcome.MAYBE_EFFECT, error="lost"))
            kit.executor.run_once()
            kit.adapter.effects.clear()
    kit.executor.run_once()
    assert kit.ledger.get("k1").status == final


def test_lease_fencing_old_owner_cannot_complete(kit: Kit) -> None:
    kit.propose("k1")
    kit.approve("k1")
    old = kit.executor.claim()
    assert old is not None
    # The old owner pauses past its lease; the reconciler takes over.
    kit.clock.advance(seconds=31)
    assert kit.executor.expire_leases() == 1
    assert kit.ledger.get("k1").status == "unknown"
    with pytest.raises(LeaseLostError):
        kit.executor.confirm(old, DispatchResult(Outcome.SUCCEEDED, provider_object_id="x"))
    kit.executor.reconcile()  # NOT_FOUND, but the old request may be in flight: wait
    assert kit.executor.claim() is None
    kit.clock.advance(seconds=kit.executor.settle_seconds_for("scripted"))
    kit.executor.reconcile()  # NOT_FOUND after the settle window -> one more dispatch
    new = kit.executor.claim()
    assert new is not None
    assert new.fencing > old.fencing
    # Wakes again, after the new claim: still refused, the new owner completes.
    with pytest.raises(LeaseLostError):
        kit.executor.confirm(old, DispatchResult(Outcome.SUCCEEDED, provider_object_id="x"))
    assert kit.executor.execute(new).status == "succeeded"
    assert kit.ledger.get("k1").provider_object_id == "obj-k1"
    kit.ledger.verify_chain()


def test_events_table_refuses_update_and_delete(kit: Kit) -> None:
    kit.propose("k1")
    for statement in (
        "UPDATE external_action_events SET actor = 'mallory'",
        "DELETE FROM external_action_events",
    ):
        with pytest.raises(DBAPIError, match="insert-only"), kit.rt.engine.begin() as conn:
            conn.execute(text(statement))
    assert _counts(kit.rt)[1] == 1


def test_hash_chain_verifies_and_detects_tampering(kit: Kit, backend: str) -> None:
    kit.propose("k1")
    kit.approve("k1")
    kit.executor.run_once()
    report = kit.ledger.verify_chain()
    assert report["ok"]
    assert report["events"] == 4
    with kit.rt.engine.begin() as conn:
        if backend == "postgresql":
            conn.execute(
                text(
                    "ALTER TABLE external_action_events DISABLE TRIGGER "
                    "external_action_events_no_update_delete"
                )
            )
        else:
            conn.execute(text("DROP TRIGGER external_action_events_no_update"))
        conn.execute(text("UPDATE external_action_events SET actor = 'mallory' WHERE seq = 2"))
    with pytest.raises(CheckFailedError) as info:
        kit.ledger.verify_chain()
    assert info.value.code == "chain_broken"
    assert {p["problem"] for p in info.value.details["problems"]} == {"hash_mismatch"}


def test_export_is_deterministic_and_redacted(kit: Kit, workspace: Path) -> None:
    run = RunService(kit.rt).create("demo", "publish", "run-1")
    kit.ledger.propose(
        IntentRequest(
            provider="scripted",
            action="post.publish",
            account="main",
            key="e1",
            payload={"text": "hi"},
            run_id="run-1",
        )
    )
    kit.approve("e1")
    kit.adapter.outcomes.append(
        DispatchResult(
            Outcome.SUCCEEDED,
            provider_object_id="obj-e1",
            summary={
                "access_token": "sk_live_" + "Z" * 30,
                "note": "Bearer abcdefghijklmnopqrstuvwxyz0123",
            },
        )
    )
    kit.executor.run_once()
    path, _ = kit.ledger.export_run("run-1")
    first = Path(path).read_bytes()
    assert Path(path) == Path(run.directory) / "ledger" / "actions.json"
    _, _ = kit.ledger.export_run("run-1")
    assert Path(path).read_bytes() == first
    assert b"sk_live_" not in first
    assert b"abcdefghijklmnopqrstuvwxyz0123" not in first
    doc = json.loads(first)
    assert doc["actions"][0]["provider_object_id"] == "obj-e1"
    assert [e["event"] for e in doc["actions"][0]["events"]] == [
        "proposed",
        "approved",
        "claimed",
        "dispatch_succeeded",
    ]


def test_unknown_provider_adapter_errors_become_unknown_not_retries(runtime: Runtime) -> None:
    class Exploding(ScriptedAdapter):
        def dispatch(self, intent: Any, request: Any, progress: Any) -> DispatchResult:
            self.sent.append((intent.idempotency_key, request.request_hash))
            raise RuntimeError("socket closed after send")

    kit = make_kit(runtime, Exploding(outcomes=deque()))
    kit.propose("k1")
    kit.approve("k1")
    kit.executor.run_once()
    assert kit.ledger.get("k1").status == "unknown"
    assert isinstance(kit.executor, Executor)


def test_a_person_resolves_needs_attention_and_nothing_is_sent(kit: Kit) -> None:
    kit.adapter.outcomes.append(DispatchResult(Outcome.MAYBE_EFFECT, error="lost"))
    kit.propose("k1")
    kit.approve("k1")
    kit.executor.run_once()
    kit.adapter.lookups.append(LookupResult(LookupStatus.UNSUPPORTED))
    kit.executor.reconcile()
    assert kit.ledger.get("k1").status == "needs_attention"
    with pytest.raises(InvalidInputError) as missing:
        kit.ledger.resolve("k1", outcome="succeeded", actor="alice")
    assert missing.value.code == "object_id_required"
    done = kit.ledger.resolve(
        "k1", outcome="succeeded", actor="alice", provider_object_id="obj-seen-in-console"
    )
    assert done.status == "succeeded"
    assert done.provider_object_id == "obj-seen-in-console"
    with pytest.raises(ConflictError) as again:
        kit.ledger.resolve("k1", outcome="failed", actor="alice")
    assert again.value.code == "not_resolvable"
    assert len(kit.adapter.sent) == 1
    kit.ledger.verify_chain()


def _kill_the_pooled_connection(runtime: Runtime) -> None:
    """Terminate, from another engine, the server side of the pool's one connection."""
    import autopack.db.engine as engine_module

    with runtime.engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        conn.rollback()
    other = engine_module.create_db_engine(runtime.settings.effective_database_url)
    try:
        with other.begin() as conn:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid or 0)})")
    finally:
        other.dispose()


def test_a_pooled_connection_killed_while_idle_is_replaced(
    runtime: Runtime, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL pings only connections idle past POOL_PING_IDLE_SECONDS; one whose
    server side died meanwhile is discarded and the ledger call still works."""
    if backend != "postgresql":
        pytest.skip("the idle ping is PostgreSQL's")
    import autopack.db.engine as engine_module

    monkeypatch.setattr(engine_module, "POOL_PING_IDLE_SECONDS", 0.0)
    kit = make_kit(runtime)
    kit.propose("k1")
    _kill_the_pooled_connection(runtime)
    kit.propose("k2")  # would raise OperationalError on the dead connection
    assert {kit.ledger.get(k).status for k in ("k1", "k2")} == {"awaiting_approval"}


def test_a_pooled_connection_that_dies_in_use_is_dropped_from_the_pool(
    runtime: Runtime, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hot path runs on pooled driver connections: one whose server side died
    fails the call that holds it and is discarded, so the next call does not draw
    the same dead connection again (no idle ping helps here: it was used just now)."""
    if backend != "postgresql":
        pytest.skip("a server-side disconnect needs a server")
    import autopack.db.engine as engine_module

    monkeypatch.setattr(engine_module, "POOL_PING_IDLE_SECONDS", 3600.0)
    kit = make_kit(runtime)
    kit.propose("k1")
    _kill_the_pooled_connection(runtime)
    with pytest.raises(psycopg.OperationalError):
        kit.propose("k2")
    kit.propose("k2")  # a fresh connection: the dead one is gone
    assert {kit.ledger.get(k).status for k in ("k1", "k2")} == {"awaiting_approval"}


def test_reads_do_not_wait_for_a_writer(kit: Kit, backend: str) -> None:
    """list, show, verify-chain, export and the approval queue read a snapshot:
    a transaction holding the write lock does not hold them up."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL readers never wait for writers")
    run = RunService(kit.rt).create("demo", "publish", "run-r")
    kit.ledger.propose(
        IntentRequest(
            provider="scripted",
            action="post.publish",
            account="main",
            key="r1",
            payload={"text": "x"},
            run_id=run.ref.run_id,
        )
    )
    writer = kit.rt.engine.raw_connection()
    try:
        cursor = writer.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("BEGIN IMMEDIATE")
        cursor.execute("UPDATE runs SET family = family")
        assert [r.key for r in kit.ledger.list()] == ["r1"]
        assert kit.ledger.show("r1")["action"]["key"] == "r1"
        assert kit.ledger.verify_chain()["ok"]
        assert kit.ledger.export_document(run.ref.run_id)[1]["actions"]
        assert len(kit.approvals.list()) == 1
    finally:
        writer.rollback()
        writer.close()
