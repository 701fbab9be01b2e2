"""Durable dispatch progress: checkpoints of a multi-request dispatch, the
resume of an interrupted one, and a lost lease stopping the adapter.

The resumable adapter below is a real ProviderAdapter living in the test
process: one "session" per action, bytes sent in chunks, each chunk's offset
checkpointed. It records every session it opens, so a second session (a second
effect) would be seen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest
from ledger_support import Kit, ScriptedAdapter, make_kit

from autopack.domain.canonical import JsonValue
from autopack.domain.providers import (
    DispatchProgress,
    DispatchResult,
    Intent,
    LookupResult,
    LookupStatus,
    Outcome,
    RenderedRequest,
)
from autopack.services.context import Runtime
from autopack.services.ledger import LeaseLostError
from autopack.services.ledger.progress import LedgerProgress

CHUNKS = 4


@dataclass
class ResumableAdapter(ScriptedAdapter):
    """``post.publish`` opens a session, then sends CHUNKS chunks; ``crash_after``
    chunks into an attempt it raises (a dead connection)."""

    sessions: list[str] = field(default_factory=list)
    received: dict[str, int] = field(default_factory=dict)
    crash_after: int | None = None
    seen_states: list[dict[str, JsonValue]] = field(default_factory=list)

    def dispatch(
        self, intent: Intent, request: RenderedRequest, progress: DispatchProgress
    ) -> DispatchResult:
        self.seen_states.append(dict(progress.state))
        session = progress.state.get("session")
        if not isinstance(session, str):
            session = f"s-{intent.idempotency_key}-{len(self.sessions)}"
            progress.checkpoint({"session": session, "offset": 0}, note="session opened")
            self.sessions.append(session)  # opened only once its handle is durable
        offset = self.received.get(session, 0)  # what the provider acknowledges
        sent_now = 0
        while offset < CHUNKS:
            if self.crash_after is not None and sent_now == self.crash_after:
                self.crash_after = None
                raise ConnectionResetError("connection lost mid-upload")
            offset += 1
            sent_now += 1
            self.received[session] = offset
            progress.checkpoint({"session": session, "offset": offset}, note="chunk acknowledged")
        video = f"video-{self.sessions.index(session)}"
        self.effects[intent.idempotency_key] = video
        return DispatchResult(Outcome.SUCCEEDED, provider_object_id=video)

    def lookup(self, intent: Intent, state: Mapping[str, JsonValue]) -> LookupResult:
        session = state.get("session")
        if isinstance(session, str) and self.received.get(session, 0) < CHUNKS:
            return LookupResult(LookupStatus.IN_PROGRESS, summary={"offset": state["offset"]})
        return super().lookup(intent, state)


@pytest.fixture
def kit(runtime: Runtime) -> Kit:
    return make_kit(runtime, ResumableAdapter())


def _adapter(kit: Kit) -> ResumableAdapter:
    assert isinstance(kit.adapter, ResumableAdapter)
    return kit.adapter


def test_checkpoints_are_durable_and_keep_the_chain(kit: Kit) -> None:
    kit.propose("v1")
    kit.approve("v1")
    [record] = kit.executor.run_once()
    assert record.status == "succeeded"
    shown = kit.ledger.show("v1")
    progress = [e for e in shown["events"] if e["event"] == "progress"]
    assert [e["data"]["note"] for e in progress] == ["session opened"] + [
        "chunk acknowledged"
    ] * CHUNKS
    # The events name the keys; the session handle itself stays internal.
    assert all(e["data"]["keys"] == ["offset", "session"] for e in progress)
    assert "s-v1" not in json.dumps(shown, default=str)
    assert kit.ledger.verify_chain()["ok"] is True


def test_an_interrupted_dispatch_resumes_its_session_and_makes_one_effect(kit: Kit) -> None:
    adapter = _adapter(kit)
    adapter.crash_after = 2
    kit.propose("v2")
    kit.approve("v2")
    [first] = kit.executor.run_once()
    assert first.status == "unknown"  # a lost connection may have had effect
    outcome = kit.executor.reconcile()
    # In progress: resumed at once, no settle window (resuming adds no effect).
    assert outcome["retry_wait"] == ["v2"]
    [done] = kit.executor.run_once()
    assert done.status == "succeeded"
    assert len(adapter.sessions) == 1
    assert adapter.seen_states[-1] == {"session": adapter.sessions[0], "offset": 2}
    assert done.provider_object_id == "video-0"
    assert kit.ledger.verify_chain()["ok"] is True


def test_a_checkpoint_after_the_lease_was_lost_raises_and_writes_nothing(kit: Kit) -> None:
    kit.propose("v3")
    kit.approve("v3")
    claim = kit.executor.claim()
    assert claim is not None
    kit.clock.advance(seconds=31)
    assert kit.executor.expire_leases() == 1  # the lease lapsed: the row is unknown now
    before = kit.ledger.show("v3")["events"]
    with pytest.raises(LeaseLostError):
        LedgerProgress(
            kit.executor.store,
            claim.row,
            owner=claim.owner,
            lease_seconds=30,
            clock=kit.clock,
        ).checkpoint({"session": "late"}, note="session opened")
    assert kit.ledger.show("v3")["events"] == before


def test_each_checkpoint_renews_the_lease(kit: Kit) -> None:
    kit.propose("v4")
    kit.approve("v4")
    claim = kit.executor.claim()
    assert claim is not None
    progress = LedgerProgress(
        kit.executor.store, claim.row, owner=claim.owner, lease_seconds=30, clock=kit.clock
    )
    for step in range(3):
        kit.clock.advance(seconds=20)  # past the first lease after two steps
        progress.checkpoint({"offset": step}, note="chunk acknowledged")
    assert kit.executor.expire_leases() == 0
    assert progress.state == {"offset": 2}
    assert kit.ledger.get("v4").status == "dispatching"
