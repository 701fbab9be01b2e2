"""No claim path dispatches past a gate (issue 10's bypass), on both backends.

Before the pipeline, ``Executor.guarded_call`` inserted an auto-approved action
already claimed and sent it, skipping the credentials check that the worker's
claim query made: a provider account with no stored credential, or a paused
one, got its action sent. Every claim path now asks the same gates; a held
action waits (approved, nothing sent) and goes exactly once when the hold lifts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from autopack.domain.canonical import JsonValue
from autopack.domain.credentials import CredentialKind
from autopack.domain.layout import project_policy_path
from autopack.domain.providers import (
    DispatchProgress,
    DispatchResult,
    Intent,
    LookupResult,
    LookupStatus,
    Outcome,
    RenderedRequest,
)
from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService
from autopack.services.executor import Executor
from autopack.services.halts import HaltService
from autopack.services.ledger import ActionRecord, IntentRequest, LedgerService
from autopack.services.policy_monitor import PolicyMonitor
from autopack.services.providers import ProviderRegistry
from autopack.services.runtime import build_runtime
from conftest import make_settings

SECRET_KEY = "bypass-test-secret-" + "Qx7k" * 10
KEY_ID = "PKBYPASS7Q2W9E4R"
KEY_SECRET = "bypass-key-secret-" + "Hn4p" * 8
ACTION = "watchlist.update"  # category "other": a project policy may auto-approve it


@dataclass
class Recorder:
    """The provider's far side, in process (the true external boundary): records sends."""

    provider: str = "alpaca"
    sent: list[str] = field(default_factory=list)
    action_names: frozenset[str] = frozenset({ACTION})

    @property
    def name(self) -> str:
        return self.provider

    @property
    def actions(self) -> frozenset[str]:
        return self.action_names

    def render(self, intent: Intent) -> RenderedRequest:
        url = f"test://{self.provider}/{intent.action}"
        return RenderedRequest("POST", url, {}, dict(intent.payload))

    def dispatch(
        self, intent: Intent, request: RenderedRequest, progress: DispatchProgress
    ) -> DispatchResult:
        self.sent.append(intent.idempotency_key)
        return DispatchResult(Outcome.SUCCEEDED, provider_object_id=f"obj-{len(self.sent)}")

    def lookup(self, intent: Intent, state: Mapping[str, JsonValue]) -> LookupResult:
        return LookupResult(LookupStatus.NOT_FOUND)


@dataclass
class Bench:
    rt: Runtime
    api: Recorder
    ledger: LedgerService
    executor: Executor
    creds: CredentialService
    halts: HaltService

    def add_key(self, account: str = "acct1") -> None:
        self.creds.add_api_key(
            "alpaca", account, key_id=KEY_ID, secret=KEY_SECRET, environment="paper"
        )


@pytest.fixture
def bench(workspace: Path, database_url: str) -> Iterator[Bench]:
    rt = build_runtime(make_settings(workspace, database_url, secret_key=SECRET_KEY))
    policy = project_policy_path(workspace, "demo")
    policy.parent.mkdir(parents=True)
    policy.write_text(
        json.dumps({"auto_approve": [{"provider": "alpaca", "action": ACTION}]}), encoding="utf-8"
    )
    api = Recorder()
    registry = ProviderRegistry(rt.settings, extra=[api])
    creds = CredentialService(rt)
    try:
        yield Bench(
            rt=rt,
            api=api,
            ledger=LedgerService(rt, registry),
            executor=Executor(rt, registry, worker="w"),
            creds=creds,
            halts=HaltService(rt),
        )
    finally:
        creds.close()
        rt.close()


def via_guarded_call(b: Bench, key: str) -> ActionRecord:
    return b.executor.guarded_call(
        IntentRequest(
            provider="alpaca",
            action=ACTION,
            account="acct1",
            key=key,
            payload={"n": 1},
            project="demo",
        )
    )


def via_worker(b: Bench, key: str) -> ActionRecord:
    proposal = b.ledger.propose(
        IntentRequest(
            provider="alpaca",
            action=ACTION,
            account="acct1",
            key=key,
            payload={"n": 1},
            project="demo",
        )
    )
    assert proposal.record.status == "approved"  # auto-approved by the project policy
    b.executor.run_once()
    return b.ledger.get(key)


CLAIM_PATHS: dict[str, Callable[[Bench, str], ActionRecord]] = {
    "guarded_call": via_guarded_call,
    "worker": via_worker,
}


def _no_credentials(b: Bench) -> Callable[[], None]:
    return b.add_key


def _paused(b: Bench) -> Callable[[], None]:
    b.add_key()
    b.creds.set_paused("alpaca", "acct1", paused=True)

    def resume() -> None:
        b.creds.set_paused("alpaca", "acct1", paused=False)

    return resume


def _halt(scope: str) -> Callable[[Bench], Callable[[], None]]:
    def engage(b: Bench) -> Callable[[], None]:
        b.add_key()
        halt = b.halts.engage(scope, reason="bypass test", actor="ops")

        def release() -> None:
            b.halts.release(halt["id"], actor="ops")

        return release

    return engage


HOLDS: dict[str, tuple[Callable[[Bench], Callable[[], None]], str]] = {
    "no_credentials": (_no_credentials, "no credentials for alpaca/acct1"),
    "paused": (_paused, "dispatch for alpaca/acct1 is paused"),
    "halt_all": (_halt("all"), "halted by halt"),
    "halt_provider": (_halt("provider:alpaca"), "halted by halt"),
    "halt_account": (_halt("account:alpaca/acct1"), "halted by halt"),
}


@pytest.mark.parametrize("path", sorted(CLAIM_PATHS))
@pytest.mark.parametrize("hold", sorted(HOLDS))
def test_a_held_action_is_not_sent_on_any_claim_path(bench: Bench, path: str, hold: str) -> None:
    arrange, words = HOLDS[hold]
    lift = arrange(bench)

    record = CLAIM_PATHS[path](bench, "k1")

    assert bench.api.sent == []
    assert record.status == "approved"
    shown = bench.ledger.show("k1")
    assert shown["action"]["status"] == "approved"
    assert shown["waiting_reason"] is not None
    assert words in shown["waiting_reason"]
    assert [g["verdict"] for g in shown["gates"]] == ["hold"]
    assert bench.executor.run_once() == []  # the worker holds it too
    assert bench.api.sent == []

    lift()
    done = bench.executor.run_once()
    assert [(r.key, r.status) for r in done] == [("k1", "succeeded")]
    assert bench.executor.run_once() == []
    assert bench.api.sent == ["k1"]  # exactly once
    assert bench.ledger.show("k1")["waiting_reason"] is None


@pytest.mark.parametrize("path", sorted(CLAIM_PATHS))
def test_an_unrelated_halt_holds_nothing(bench: Bench, path: str) -> None:
    bench.add_key()
    bench.halts.engage("provider:youtube", reason="other provider", actor="ops")
    bench.halts.engage("account:alpaca/other", reason="other account", actor="ops")
    record = CLAIM_PATHS[path](bench, "k2")
    assert record.status == "succeeded"
    assert bench.api.sent == ["k2"]


def test_a_released_halt_holds_nothing(bench: Bench) -> None:
    bench.add_key()
    halt = bench.halts.engage("all", reason="short", actor="ops")
    bench.halts.release(halt["id"], actor="ops")
    assert via_guarded_call(bench, "k3").status == "succeeded"
    assert bench.api.sent == ["k3"]


# -- the policy gate: a publish action of a provider under the policy monitor ----------

UPLOAD = "video.upload"  # category publish: always a human approval, never auto-approved
POLICY_V1 = "<html><body><h1>Terms</h1><p>Disclose synthetic media.</p></body></html>"
POLICY_V2 = POLICY_V1.replace("synthetic media", "synthetic media and voices")


@dataclass
class PolicyBench:
    rt: Runtime
    api: Recorder
    ledger: LedgerService
    executor: Executor
    monitor: PolicyMonitor
    site: dict[str, str]
    now: list[datetime]

    def propose_and_approve(self, key: str) -> None:
        proposal = self.ledger.propose(
            IntentRequest(
                provider="youtube",
                action=UPLOAD,
                account="chan1",
                key=key,
                payload={"title": "Launch"},
                requested_by="agent",
            )
        )
        record = proposal.record
        assert record.status == "awaiting_approval"
        assert record.approval_id is not None
        ApprovalService(self.rt, self.ledger.registry).approve(
            record.approval_id, hash_=record.payload_hash, approver="alice"
        )


@pytest.fixture
def policy_bench(workspace: Path, database_url: str) -> Iterator[PolicyBench]:
    rt = build_runtime(make_settings(workspace, database_url, secret_key=SECRET_KEY))
    now = [datetime.now(UTC)]
    rt.clock = lambda: now[0]
    site = {"html": POLICY_V1}
    transport = httpx.MockTransport(  # the policy site, at the HTTP boundary
        lambda _r: httpx.Response(200, text=site["html"], headers={"Content-Type": "text/html"})
    )
    api = Recorder(provider="youtube", action_names=frozenset({UPLOAD}))
    registry = ProviderRegistry(rt.settings, extra=[api])
    creds = CredentialService(rt)
    creds.store.upsert(
        provider="youtube",
        account="chan1",
        kind=CredentialKind.OAUTH2,
        environment="production",
        scopes=["https://www.googleapis.com/auth/youtube.upload"],
        material={"access_token": "ya29." + "a" * 40, "refresh_token": "1//" + "r" * 40},
        expires_at=now[0] + timedelta(days=365),
        key_hint=None,
        event="connected",
    )
    try:
        yield PolicyBench(
            rt=rt,
            api=api,
            ledger=LedgerService(rt, registry),
            executor=Executor(rt, registry, worker="w"),
            monitor=PolicyMonitor(rt, transport=transport),
            site=site,
            now=now,
        )
    finally:
        creds.close()
        rt.close()


def _missing(b: PolicyBench) -> Callable[[], None]:
    return lambda: _fetched(b)


def _fetched(b: PolicyBench) -> None:
    assert {r["outcome"] for r in b.monitor.fetch("youtube")} <= {"first", "unchanged"}


def _stale(b: PolicyBench) -> Callable[[], None]:
    _fetched(b)
    b.now[0] += timedelta(days=7, seconds=1)
    return lambda: _fetched(b)


def _unacknowledged(b: PolicyBench) -> Callable[[], None]:
    _fetched(b)
    b.site["html"] = POLICY_V2
    changed = b.monitor.fetch("youtube")

    def ack() -> None:
        # Every default page serves the same text here: one pair acknowledges them all.
        pairs = {(c["from_hash"], c["to_hash"]) for c in b.monitor.pending("youtube")}
        assert len(pairs) == 1
        ((old, new),) = pairs
        done = b.monitor.ack("youtube", from_hash=old, to_hash=new, actor="ops")
        assert len(done) == len(b.monitor.pages("youtube"))

    assert {r["outcome"] for r in changed} == {"changed"}
    return ack


POLICY_HOLDS: dict[str, tuple[Callable[[PolicyBench], Callable[[], None]], str]] = {
    "policy_missing": (_missing, "autopack policy fetch --provider youtube"),
    "policy_stale": (_stale, "last checked more than 7 days ago"),
    "policy_unacknowledged": (_unacknowledged, "autopack policy ack youtube --from"),
}


def _claim_by_key(b: PolicyBench, key: str) -> list[str]:
    claim = b.executor.claim(key)
    if claim is None:
        return []
    return [b.executor.execute(claim).key]


def _worker(b: PolicyBench, key: str) -> list[str]:
    return [r.key for r in b.executor.run_once()]


POLICY_CLAIM_PATHS: dict[str, Callable[[PolicyBench, str], list[str]]] = {
    "claim_key": _claim_by_key,
    "worker": _worker,
}


@pytest.mark.parametrize("path", sorted(POLICY_CLAIM_PATHS))
@pytest.mark.parametrize("hold", sorted(POLICY_HOLDS))
def test_a_policy_hold_is_not_bypassed_on_any_claim_path(
    policy_bench: PolicyBench, path: str, hold: str
) -> None:
    b = policy_bench
    arrange, words = POLICY_HOLDS[hold]
    lift = arrange(b)
    b.propose_and_approve("up1")

    assert POLICY_CLAIM_PATHS[path](b, "up1") == []
    assert b.api.sent == []
    shown = b.ledger.show("up1")
    assert shown["action"]["status"] == "approved"  # held, not failed
    assert words in shown["waiting_reason"]
    assert [(g["gate"], g["verdict"], g["code"]) for g in shown["gates"]] == [
        ("policy", "hold", hold)
    ]

    lift()
    assert POLICY_CLAIM_PATHS[path](b, "up1") == ["up1"]
    assert b.ledger.get("up1").status == "succeeded"
    assert b.executor.run_once() == []
    assert b.api.sent == ["up1"]  # exactly once


def test_a_refetch_of_changed_content_never_releases_the_hold(policy_bench: PolicyBench) -> None:
    b = policy_bench
    _unacknowledged(b)
    b.propose_and_approve("up2")
    for _ in range(2):
        assert {r["outcome"] for r in b.monitor.fetch("youtube")} == {"unchanged"}
        assert b.executor.run_once() == []
    assert b.api.sent == []
