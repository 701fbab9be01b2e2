"""Who may approve: the two-person rule, self-approval by principal, batches and roles
(both backends)."""

from __future__ import annotations

import pytest
from ledger_support import Kit, make_kit, write_policy

from autopack.domain.approvals import ApprovalRefusedError
from autopack.domain.errors import ForbiddenError
from autopack.domain.principals import Actor, Role, Via
from autopack.services.context import Runtime
from autopack.services.ledger import IntentRequest

ALICE = Actor("alice", Role.OPERATOR, Via.API, 11)
BOB = Actor("bob", Role.OPERATOR, Via.API, 12)
BOT = Actor("publisher-bot", Role.AGENT, Via.API, 13)


@pytest.fixture
def kit(runtime: Runtime) -> Kit:
    return make_kit(runtime)


def test_two_distinct_people_must_approve_the_same_hash(kit: Kit) -> None:
    write_policy(kit.rt.workspace, "demo", {"two_person": [{"category": "publish"}]})
    record = kit.propose("launch").record
    assert record.approval_id is not None
    first = kit.approvals.approve(record.approval_id, hash_=record.payload_hash, approver=ALICE)
    assert (first["status"], first["required_approvals"]) == ("pending", 2)
    assert [(d["person"], d["principal_id"], d["via"]) for d in first["decisions"]] == [
        ("alice", 11, "api")
    ]
    assert kit.ledger.get("launch").status == "awaiting_approval"
    assert kit.executor.run_once() == []
    assert kit.adapter.sent == []

    with pytest.raises(ApprovalRefusedError) as again:
        kit.approvals.approve(record.approval_id, hash_=record.payload_hash, approver=ALICE)
    assert again.value.code == "second_approver_required"
    with pytest.raises(ApprovalRefusedError) as wrong:
        kit.approvals.approve(record.approval_id, hash_="f" * 64, approver=BOB)
    assert wrong.value.code == "approval_hash_mismatch"

    second = kit.approvals.approve(record.approval_id, hash_=record.payload_hash, approver=BOB)
    assert second["status"] == "approved"
    assert [d["person"] for d in second["decisions"]] == ["alice", "bob"]
    done = kit.executor.run_once()
    assert [(r.key, r.status) for r in done] == [("launch", "succeeded")]
    assert [k for k, _ in kit.adapter.sent] == ["launch"]
    approved = [e for e in kit.ledger.show("launch")["events"] if e["event"] == "approved"]
    assert approved[0]["data"]["principal_id"] == 12
    assert approved[0]["data"]["via"] == "api"


def test_a_rule_for_one_account_leaves_others_at_one_approval(kit: Kit) -> None:
    write_policy(kit.rt.workspace, "demo", {"two_person": [{"account": "live"}]})
    record = kit.propose("paper-post").record  # account "main"
    assert record.approval_id is not None
    body = kit.approvals.approve(record.approval_id, hash_=record.payload_hash, approver=ALICE)
    assert (body["status"], body["required_approvals"]) == ("approved", 1)


def test_a_two_person_rule_turns_off_auto_approval(kit: Kit) -> None:
    write_policy(
        kit.rt.workspace,
        "demo",
        {
            "auto_approve": [{"provider": "scripted", "action": "ping"}],
            "two_person": [{"provider": "scripted"}],
        },
    )
    assert kit.propose("p1", action="ping").record.status == "awaiting_approval"


def test_self_approval_compares_principal_ids(kit: Kit) -> None:
    proposal = kit.ledger.propose(
        IntentRequest(
            provider="scripted",
            action="post.publish",
            account="main",
            key="mine",
            payload={"text": "x"},
            project="demo",
            requested_by="alice",
            requester_principal=11,
        )
    )
    approval_id = proposal.record.approval_id
    assert approval_id is not None
    # Another principal that happens to be named like the requester's name is not
    # the requester; the same principal id is, whatever name it shows.
    renamed = Actor("alice-2", Role.OPERATOR, Via.API, 11)
    with pytest.raises(ApprovalRefusedError) as refused:
        kit.approvals.approve(approval_id, hash_=proposal.record.payload_hash, approver=renamed)
    assert refused.value.code == "self_approval_refused"
    body = kit.approvals.approve(approval_id, hash_=proposal.record.payload_hash, approver=BOB)
    assert body["status"] == "approved"


def test_a_batch_requested_by_someone_else_is_still_no_self_approval(kit: Kit) -> None:
    for key in ("b1", "b2"):
        kit.ledger.propose(
            IntentRequest(
                provider="scripted",
                action="post.publish",
                account="main",
                key=key,
                payload={"text": key},
                project="demo",
                requested_by="alice",
            )
        )
    batch = kit.approvals.request_batch(["b1", "b2"], requested_by=BOB)
    with pytest.raises(ApprovalRefusedError) as refused:
        kit.approvals.approve(batch["id"], hash_=batch["subject_hash"], approver=ALICE)
    assert refused.value.code == "self_approval_refused"
    carol = Actor("carol", Role.OPERATOR, Via.API, 14)
    assert (
        kit.approvals.approve(batch["id"], hash_=batch["subject_hash"], approver=carol)["status"]
        == "approved"
    )


def test_a_batch_needs_as_many_approvers_as_its_strictest_action(kit: Kit) -> None:
    write_policy(kit.rt.workspace, "demo", {"two_person": [{"category": "publish"}]})
    kit.propose("s1")
    kit.propose("s2")
    batch = kit.approvals.request_batch(["s1", "s2"], requested_by=BOB)
    assert batch["required_approvals"] == 2
    carol = Actor("carol", Role.OPERATOR, Via.API, 14)
    assert (
        kit.approvals.approve(batch["id"], hash_=batch["subject_hash"], approver=carol)["status"]
        == "pending"
    )
    dave = Actor("dave", Role.OPERATOR, Via.API, 15)
    second = kit.approvals.approve(batch["id"], hash_=batch["subject_hash"], approver=dave)
    assert second["status"] == "approved"
    kit.propose("s3")
    kit.propose("s4")
    with pytest.raises(ForbiddenError):
        kit.approvals.request_batch(["s3", "s4"], requested_by=BOT)


def test_an_agent_cannot_decide(kit: Kit) -> None:
    record = kit.propose("agent-try").record
    assert record.approval_id is not None
    for call in (
        lambda: kit.approvals.approve(
            record.approval_id or 0, hash_=record.payload_hash, approver=BOT
        ),
        lambda: kit.approvals.reject(record.approval_id or 0, rejecter=BOT),
        lambda: kit.ledger.resolve("agent-try", outcome="failed", actor=BOT),
    ):
        with pytest.raises(ForbiddenError) as caught:
            call()
        assert caught.value.code == "forbidden"
    assert kit.ledger.get("agent-try").status == "awaiting_approval"
