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
from pathlib import Path

import pytest

from autopack.domain.canonical import JsonValue
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
from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService
from autopack.services.executor import Executor
from autopack.services.halts import HaltService
from autopack.services.ledger import ActionRecord, IntentRequest, LedgerService
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

    @property
    def name(self) -> str:
        return self.provider

    @property
    def actions(self) -> frozenset[str]:
        return frozenset({ACTION})

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
