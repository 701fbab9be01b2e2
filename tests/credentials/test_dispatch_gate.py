"""A paused provider account holds its approved actions; after a reconnect they
dispatch exactly once (issue 5: "resume after re-connect; the waiting ledger
actions then dispatch exactly once")."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from autopack.domain.canonical import JsonValue
from autopack.domain.credentials import CredentialNeedsReauthError
from autopack.domain.providers import (
    DispatchProgress,
    DispatchResult,
    Intent,
    LookupResult,
    LookupStatus,
    Outcome,
    RenderedRequest,
)
from autopack.providers.registry import DEFAULT_REDACTOR
from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService
from autopack.services.executor import Executor
from autopack.services.ledger import IntentRequest, LedgerService
from autopack.services.providers import ProviderRegistry
from credentials.cred_support import FakeOAuth, connect
from policy_support import clear_policy


class YouTubeApi:
    """In-process stand-in for YouTube's videos.insert: the true external boundary.

    It takes its bearer token from the credential store at dispatch time, as a
    real adapter does, and records every call it receives.
    """

    name = "youtube"
    actions = frozenset({"videos.insert"})

    def __init__(self, credentials: CredentialService) -> None:
        self.credentials = credentials
        self.calls: list[tuple[str, str]] = []

    def render(self, intent: Intent) -> RenderedRequest:
        return RenderedRequest(
            method="POST",
            url="youtube-test://videos.insert",
            headers={"Content-Type": "application/json"},
            body=dict(intent.payload),
            provider_idempotency_key=intent.idempotency_key,
        )

    def dispatch(
        self, intent: Intent, request: RenderedRequest, progress: DispatchProgress
    ) -> DispatchResult:
        token = self.credentials.access_token(intent.provider, intent.account)
        self.calls.append((intent.idempotency_key, token))
        # A careless provider echoes the bearer token: the ledger must not keep it.
        return DispatchResult(
            Outcome.SUCCEEDED,
            provider_object_id=f"yt{len(self.calls)}",
            summary={"echo": token, "status_code": 200},
        )

    def lookup(self, intent: Intent, state: Mapping[str, JsonValue]) -> LookupResult:
        sent = [k for k, _ in self.calls if k == intent.idempotency_key]
        return LookupResult(LookupStatus.FOUND if sent else LookupStatus.NOT_FOUND)


def test_paused_account_holds_actions_and_reconnect_dispatches_once(
    service: CredentialService, fake_oauth: FakeOAuth, cred_runtime: Runtime
) -> None:
    api = YouTubeApi(service)
    registry = ProviderRegistry(cred_runtime.settings, extra=[api])
    clear_policy(cred_runtime, "youtube")  # the policy gate: fresh, acknowledged snapshots
    connect(service, fake_oauth, "youtube", "chan1")
    fake_oauth.control("POST", "/revoke", {"provider": "youtube"})
    with pytest.raises(CredentialNeedsReauthError):
        service.refresh("youtube", "chan1")  # permanent: the account is paused

    proposal = LedgerService(cred_runtime, registry).propose(
        IntentRequest(
            provider="youtube",
            action="videos.insert",
            account="chan1",
            key="launch-video",
            payload={"title": "Launch"},
            requested_by="agent",
        )
    )
    record = proposal.record
    assert record.approval_id is not None
    ApprovalService(cred_runtime, registry).approve(
        record.approval_id, hash_=record.payload_hash, approver="alice"
    )

    executor = Executor(cred_runtime, registry, worker="w1")
    assert executor.run_once() == []  # held, not failed
    held = LedgerService(cred_runtime, registry).show("launch-video")
    assert held["action"]["status"] == "approved"
    assert "youtube/chan1" in held["waiting_reason"]
    assert "autopack credentials connect youtube --account chan1" in held["waiting_reason"]
    assert api.calls == []

    connect(service, fake_oauth, "youtube", "chan1")  # re-connect resumes the account
    done = executor.run_once()
    assert [(r.key, r.status) for r in done] == [("launch-video", "succeeded")]
    assert executor.run_once() == []
    assert LedgerService(cred_runtime, registry).show("launch-video")["waiting_reason"] is None
    assert len(api.calls) == 1
    key, token = api.calls[0]
    assert key == "launch-video"
    # Only the stored-secret rule can catch this token; it never reaches the ledger.
    assert DEFAULT_REDACTOR.redact_text(token) == token
    shown = LedgerService(cred_runtime, registry).show("launch-video")
    assert token not in json.dumps(shown)
    assert "[REDACTED" in json.dumps(shown["action"]["response_summary"])
