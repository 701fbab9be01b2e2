"""Notifications end to end in one process, on SQLite and PostgreSQL, with a real
HTTP receiver on 127.0.0.1: each kind is written with its cause and delivered
exactly once, signed; holds notify once per (action, reason); a 500 is retried;
N failures make a notification dead; secrets never reach the receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from receiver_support import SECRET, Receiver, running_receiver
from sqlalchemy import func, select, text

from autopack.domain.canonical import canonical_json
from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import CredentialRequirement, GateResult, hold
from autopack.domain.gates.pipeline import DISPATCH_GATES
from autopack.domain.notifications import (
    KIND_HEADER,
    NotificationKind,
    notification_id,
    verify_signature,
)
from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime
from autopack.services.executor import Executor
from autopack.services.gates import GateService
from autopack.services.halts import HaltService
from autopack.services.ledger import IntentRequest, LedgerService, make_store
from autopack.services.notifications.delivery import (
    Deliverer,
    NotificationDuty,
    notification_duty,
    retry_dead,
    status_report,
)
from autopack.services.notifications.holds import HoldScanner
from autopack.services.notifications.outbox import NOTIFICATIONS
from autopack.services.notifications.webhook import WebhookClient
from autopack.services.runtime import build_runtime
from conftest import make_settings


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


def notify_runtime(workspace: Path, database_url: str, url: str | None, **extra: Any) -> Runtime:
    values: dict[str, Any] = {"notify_backoff_seconds": 0, "notify_timeout_seconds": 2}
    if url is not None:
        values.update(notify_webhook_url=url, notify_secret=SECRET)
    values.update(extra)
    return build_runtime(make_settings(workspace, database_url, **values))


@pytest.fixture
def rt(workspace: Path, database_url: str, receiver: Receiver) -> Iterator[Runtime]:
    runtime = notify_runtime(workspace, database_url, receiver.url)
    yield runtime
    runtime.close()


def propose(rt: Runtime, key: str, title: str = "Hello") -> Any:
    return (
        LedgerService(rt)
        .propose(
            IntentRequest(
                provider="sandbox",
                action="video.upload",
                account="default",
                key=key,
                payload={"title": title},
            )
        )
        .record
    )


def approve(rt: Runtime, record: Any) -> None:
    ApprovalService(rt).approve(record.approval_id, hash_=record.payload_hash, approver="alice")


def duty(rt: Runtime) -> NotificationDuty:
    found = notification_duty(rt, owner="test")
    assert found is not None
    return found


def outbox_rows(rt: Runtime) -> list[dict[str, Any]]:
    with rt.engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(select(NOTIFICATIONS).order_by(NOTIFICATIONS.c.id)).mappings()
        ]


def needs_attention_by_tampering(rt: Runtime, key: str) -> None:
    """An approved action whose stored payload was edited is refused before dispatch
    (needs_attention, nothing sent): a real path to that state without a provider."""
    record = propose(rt, key)
    approve(rt, record)
    with rt.engine.begin() as conn:
        conn.execute(
            text("UPDATE external_actions SET payload = :p WHERE idempotency_key = :k"),
            {"p": '{"title":"Edited"}', "k": key},
        )
    done = Executor(rt).run_once()
    assert [r.status for r in done] == ["needs_attention"]


def test_each_kind_is_written_with_its_cause_and_delivered_exactly_once(
    rt: Runtime, receiver: Receiver
) -> None:
    waiting = propose(rt, "n-approval")
    needs_attention_by_tampering(rt, "n-attention")
    halt = HaltService(rt).engage("all", reason="maintenance window", actor="alice")
    approve(rt, waiting)  # approved under the halt: held
    notifier = duty(rt)
    try:
        assert notifier.holds.scan() == 1
        assert notifier.holds.scan() == 0  # the same hold, polled again: nothing new
        kinds = sorted(r["kind"] for r in outbox_rows(rt))
        assert kinds == [
            "action_held",
            "approval_pending",
            "approval_pending",
            "halt_engaged",
            "needs_attention",
        ]
        first = notifier.deliverer.drain()
        again = notifier()  # a later pass: nothing is due, nothing new is held
    finally:
        notifier.close()
    assert first == {"delivered": 5, "failed": 0}
    assert again == {"holds_written": 0, "delivered": 0, "failed": 0}
    ids = receiver.ids()
    assert len(ids) == 5
    assert len(set(ids)) == 5
    assert set(ids) == {r["notification_id"] for r in outbox_rows(rt)}
    assert all(r["status"] == "delivered" and r["attempts"] == 1 for r in outbox_rows(rt))
    by_kind = {r.headers[KIND_HEADER.lower()]: r for r in receiver.requests}
    for got in receiver.requests:
        assert got.signed_by(SECRET)
        assert not got.signed_by(SECRET + "x")
        body = got.json
        assert isinstance(body, dict)
        assert body["id"] == got.id
        assert got.body == canonical_json(body)  # the signed bytes are canonical JSON
    halt_body = by_kind["halt_engaged"].json
    assert isinstance(halt_body, dict)
    assert halt_body["data"]["halt_id"] == halt["id"]
    assert halt_body["data"]["reason"] == "maintenance window"
    held = by_kind["action_held"].json
    assert isinstance(held, dict)
    assert held["data"]["key"] == "n-approval"
    assert held["data"]["code"] == "halted"
    attention = by_kind["needs_attention"].json
    assert isinstance(attention, dict)
    assert attention["data"]["key"] == "n-attention"
    assert "payload hash" in attention["data"]["reason"]
    pending = [
        r.json for r in receiver.requests if r.headers[KIND_HEADER.lower()] == "approval_pending"
    ]
    assert sorted(p["data"]["actions"][0]["key"] for p in pending if isinstance(p, dict)) == [
        "n-approval",
        "n-attention",
    ]


def test_a_new_hold_reason_is_a_new_notification_and_credentials_hold_too(
    rt: Runtime, receiver: Receiver
) -> None:
    record = propose(rt, "n-held")
    first = HaltService(rt).engage("provider:sandbox", reason="first", actor="alice")
    approve(rt, record)
    notifier = duty(rt)
    try:
        assert notifier.holds.scan() == 1
        HaltService(rt).release(first["id"], actor="alice")
        second = HaltService(rt).engage("account:sandbox/default", reason="second", actor="alice")
        assert notifier.holds.scan() == 1  # another halt: another reason
        assert notifier.holds.scan() == 0
        HaltService(rt).release(second["id"], actor="alice")
        assert notifier.holds.scan() == 0  # no longer held: nothing to say
        # A provider whose accounts need a stored API key holds the action until
        # one is added (the credentials gate).
        store = notifier.holds.store
        keyed = HoldScanner(
            notifier.holds.outbox,
            GateService(store, requirements={"sandbox": CredentialRequirement.API_KEY}),
        )
        assert keyed.scan() == 1
        assert keyed.scan() == 0
        notifier.deliverer.drain()
    finally:
        notifier.close()
    held = [r for r in receiver.requests if r.headers[KIND_HEADER.lower()] == "action_held"]
    assert len(held) == 3
    data = [r.json["data"] for r in held if isinstance(r.json, dict)]
    assert "first" in data[0]["reason"]
    assert "second" in data[1]["reason"]
    assert data[2]["code"] == "credentials_missing"
    assert data[2]["gate"] == "credentials"


def test_a_batch_approval_notifies_and_a_rolled_back_cause_writes_nothing(
    rt: Runtime,
) -> None:
    a, b = propose(rt, "n-b1"), propose(rt, "n-b2", "Other")
    batch = ApprovalService(rt).request_batch([a.key, b.key], requested_by="carol")
    rows = outbox_rows(rt)
    assert [r["subject"] for r in rows] == [
        f"approval {a.approval_id}",
        f"approval {b.approval_id}",
        f"approval {batch['id']}",
    ]
    store = make_store(rt)
    assert store.outbox is not None
    outbox = store.outbox

    def failing_cause() -> None:
        with store.tx() as conn:
            outbox.halt_engaged(
                conn,
                {
                    "id": 999,
                    "scope": "all",
                    "reason": "r",
                    "engaged_by": "x",
                    "engaged_at": rt.clock(),
                },
                rt.clock(),
            )
            raise RuntimeError("the cause failed")

    with pytest.raises(RuntimeError):
        failing_cause()
    assert len(outbox_rows(rt)) == 3  # rolled back with its cause
    # The same cause twice (a retry, another process) is one row.
    with store.tx() as conn:
        for _ in range(2):
            store.outbox.halt_engaged(
                conn,
                {
                    "id": 7,
                    "scope": "all",
                    "reason": "r",
                    "engaged_by": "x",
                    "engaged_at": rt.clock(),
                },
                rt.clock(),
            )
    assert len(outbox_rows(rt)) == 4


def test_without_a_webhook_nothing_is_written(workspace: Path, database_url: str) -> None:
    runtime = notify_runtime(workspace, database_url, None)
    try:
        propose(runtime, "n-off")
        HaltService(runtime).engage("all", reason="r", actor="alice")
        assert outbox_rows(runtime) == []
        assert notification_duty(runtime, owner="t") is None
        assert status_report(runtime)["enabled"] is False
    finally:
        runtime.close()


def test_slack_format_is_text_and_signed_over_the_exact_body(
    workspace: Path, database_url: str, receiver: Receiver
) -> None:
    runtime = notify_runtime(workspace, database_url, receiver.url, notify_format="slack")
    try:
        HaltService(runtime).engage("all", reason="deploy freeze", actor="alice")
        notifier = duty(runtime)
        try:
            assert notifier.deliverer.drain() == {"delivered": 1, "failed": 0}
        finally:
            notifier.close()
    finally:
        runtime.close()
    (got,) = receiver.requests
    body = got.json
    assert isinstance(body, dict)
    assert list(body) == ["text"]
    assert "Halt 1 engaged on all by alice: deploy freeze" in body["text"]
    assert got.id in body["text"]
    assert got.signed_by(SECRET)
    assert got.headers["content-type"] == "application/json"


def test_a_receiver_500_is_retried_with_the_same_id(rt: Runtime, receiver: Receiver) -> None:
    receiver.statuses.extend([500, 503])
    HaltService(rt).engage("all", reason="r", actor="alice")
    notifier = duty(rt)
    try:
        assert notifier.deliverer.run_once() == {"delivered": 0, "failed": 1}
        (row,) = outbox_rows(rt)
        assert row["status"] == "pending"
        assert row["attempts"] == 1
        assert row["last_status_code"] == 500
        assert notifier.deliverer.run_once() == {"delivered": 0, "failed": 1}
        assert notifier.deliverer.run_once() == {"delivered": 1, "failed": 0}
    finally:
        notifier.close()
    (row,) = outbox_rows(rt)
    assert row["status"] == "delivered"
    assert row["attempts"] == 3
    ids = receiver.ids()
    assert len(ids) == 3
    assert len(set(ids)) == 1


def test_backoff_delays_the_next_attempt(
    workspace: Path, database_url: str, receiver: Receiver
) -> None:
    runtime = notify_runtime(workspace, database_url, receiver.url, notify_backoff_seconds=60)
    receiver.statuses.append(500)
    try:
        HaltService(runtime).engage("all", reason="r", actor="alice")
        notifier = duty(runtime)
        try:
            assert notifier.deliverer.run_once()["failed"] == 1
            assert notifier.deliverer.run_once() == {"delivered": 0, "failed": 0}  # not due
            (row,) = outbox_rows(runtime)
            assert (row["next_attempt_at"] - row["updated_at"]).total_seconds() == 60
        finally:
            notifier.close()
    finally:
        runtime.close()


def test_dead_after_max_attempts_is_visible_and_can_be_retried(
    workspace: Path, database_url: str, receiver: Receiver
) -> None:
    runtime = notify_runtime(workspace, database_url, receiver.url, notify_max_attempts=3)
    receiver.statuses.extend([500] * 3)
    try:
        HaltService(runtime).engage("all", reason="r", actor="alice")
        notifier = duty(runtime)
        try:
            for _ in range(5):
                notifier.deliverer.run_once()
            (row,) = outbox_rows(runtime)
            assert row["status"] == "dead"
            assert row["attempts"] == 3
            report = status_report(runtime)
            assert report["counts"]["dead"] == 1
            assert report["dead"][0]["id"] == row["notification_id"]
            assert report["dead"][0]["last_error"] == "the receiver answered HTTP 500"
            assert len(receiver.ids()) == 3
            assert retry_dead(runtime, row["notification_id"]) == 1
            assert notifier.deliverer.run_once() == {"delivered": 1, "failed": 0}
        finally:
            notifier.close()
    finally:
        runtime.close()


def test_an_unreachable_receiver_counts_as_a_failed_attempt(
    workspace: Path, database_url: str
) -> None:
    from net_support import free_port

    url = f"http://127.0.0.1:{free_port()}/hook"
    runtime = notify_runtime(workspace, database_url, url, notify_max_attempts=1)
    try:
        HaltService(runtime).engage("all", reason="r", actor="alice")
        notifier = duty(runtime)
        try:
            assert notifier.deliverer.run_once() == {"delivered": 0, "failed": 1}
        finally:
            notifier.close()
        (row,) = outbox_rows(runtime)
        assert row["status"] == "dead"
        assert row["last_status_code"] is None
        assert "ConnectError" in row["last_error"]
    finally:
        runtime.close()


def test_two_deliverers_never_lease_the_same_row(rt: Runtime) -> None:
    for n in range(12):
        HaltService(rt).engage("all", reason=f"r{n}", actor="alice")
    webhooks = [WebhookClient.from_settings(rt.settings, rt.clock) for _ in range(2)]
    deliverers = [Deliverer(rt, w, owner=f"d{i}") for i, w in enumerate(webhooks)]
    leased: list[list[int]] = [[], []]
    barrier = threading.Barrier(2)

    def claim(index: int) -> None:
        barrier.wait()
        for _ in range(6):
            leased[index] += [x.id for x in deliverers[index].claim(limit=2)]

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for webhook in webhooks:
        webhook.close()
    assert not set(leased[0]) & set(leased[1])
    assert sorted(leased[0] + leased[1]) == [r["id"] for r in outbox_rows(rt)]
    # Leased rows are not due for anyone else until their lease expires.
    assert deliverers[0].claim() == []


def test_an_expired_lease_is_taken_over_and_the_late_answer_changes_nothing(
    rt: Runtime, receiver: Receiver
) -> None:
    HaltService(rt).engage("all", reason="r", actor="alice")
    notifier = duty(rt)
    other = duty(rt)
    try:
        (stale,) = notifier.deliverer.claim()
        with rt.engine.begin() as conn:  # the first deliverer's lease runs out
            conn.execute(NOTIFICATIONS.update().values(lease_expires_at=rt.clock()))
        assert other.deliverer.drain() == {"delivered": 1, "failed": 0}
        receiver.statuses.append(500)
        notifier.deliverer.deliver(stale)  # its late answer must not undo the delivery
    finally:
        notifier.close()
        other.close()
    (row,) = outbox_rows(rt)
    assert row["status"] == "delivered"
    assert row["attempts"] == 2


def test_secrets_never_reach_the_receiver(rt: Runtime, receiver: Receiver) -> None:
    secret = "Zq8-stored-secret-value-9f3Kx2Lw0pRt"
    store = make_store(rt)
    assert store.outbox is not None
    rt.note_secrets([secret])
    with store.tx() as conn:  # masked when written
        store.outbox.halt_engaged(
            conn,
            {
                "id": 1,
                "scope": "all",
                "reason": f"key {secret}",
                "engaged_by": "x",
                "engaged_at": rt.clock(),
            },
            rt.clock(),
        )
    later = "Yw7-secret-stored-after-the-row-4hJ2mN"
    with store.tx() as conn:
        store.outbox.halt_engaged(
            conn,
            {
                "id": 2,
                "scope": "all",
                "reason": f"key {later}",
                "engaged_by": "x",
                "engaged_at": rt.clock(),
            },
            rt.clock(),
        )
    assert secret not in str(outbox_rows(rt))
    rt.note_secrets([later])  # stored after the row was written: masked when sent
    notifier = duty(rt)
    try:
        assert notifier.deliverer.drain()["delivered"] == 2
    finally:
        notifier.close()
    sent = b"".join(r.body for r in receiver.requests)
    assert secret.encode() not in sent
    assert later.encode() not in sent
    assert sent.count(b"key ") == 2


def test_a_graceful_stop_gives_back_unsent_leases(rt: Runtime, receiver: Receiver) -> None:
    for n in range(3):
        HaltService(rt).engage("all", reason=f"r{n}", actor="alice")
    notifier = duty(rt)
    stop = threading.Event()
    receiver.on_request = stop.set  # a stop arrives while the first delivery is in flight
    try:
        assert notifier.deliverer.run_once(stop=stop) == {"delivered": 1, "failed": 0}
    finally:
        notifier.close()
    rows = outbox_rows(rt)
    assert [r["status"] for r in rows] == ["delivered", "pending", "pending"]
    assert [r["attempts"] for r in rows] == [1, 0, 0]
    assert all(r["lease_owner"] is None for r in rows[1:])
    assert len(receiver.ids()) == 1


def test_notification_ids_are_stable_per_cause() -> None:
    assert notification_id("halt_engaged:1") == notification_id("halt_engaged:1")
    assert notification_id("halt_engaged:1") != notification_id("halt_engaged:2")
    assert verify_signature("k", 1, b"{}", "sha256=00") is False
    assert NotificationKind("action_held") is NotificationKind.ACTION_HELD


def test_status_counts(rt: Runtime, receiver: Receiver) -> None:
    HaltService(rt).engage("all", reason="r", actor="alice")
    HaltService(rt).engage("provider:sandbox", reason="r2", actor="alice")
    notifier = duty(rt)
    try:
        notifier.deliverer.claim(limit=1)
        report = status_report(rt)
    finally:
        notifier.close()
    assert report["counts"] == {"pending": 2, "delivered": 0, "dead": 0}
    assert report["in_flight"] == 1
    assert report["retrying"] == 1
    with rt.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(NOTIFICATIONS)).scalar_one() == 2
    assert receiver.ids() == []


class _MaintenanceGate:
    """A gate a later capability might add: it holds every action (no SQL pre-filter
    knows about it, so only the claim's pipeline run sees the hold)."""

    name = "maintenance"

    def check(self, facts: Any) -> GateResult:
        return hold("maintenance", ErrorCode.HALTED, "maintenance gate holds everything")


def test_a_hold_found_by_the_claim_is_notified_once(rt: Runtime, receiver: Receiver) -> None:
    record = propose(rt, "n-claim-held")
    approve(rt, record)
    executor = Executor(rt)
    executor.gates = GateService(executor.store, gates=(*DISPATCH_GATES, _MaintenanceGate()))
    assert executor.claim() is None
    assert executor.claim() is None  # polled again: the same hold, nothing new
    held = [r for r in outbox_rows(rt) if r["kind"] == "action_held"]
    assert len(held) == 1
    assert held[0]["subject"] == "n-claim-held"
    notifier = duty(rt)
    try:
        notifier.deliverer.drain()
    finally:
        notifier.close()
    bodies = [r.json for r in receiver.requests if r.headers[KIND_HEADER.lower()] == "action_held"]
    assert len(bodies) == 1
    assert isinstance(bodies[0], dict)
    assert bodies[0]["data"]["gate"] == "maintenance"
