"""Shared pieces for ledger tests: an in-process scripted adapter and a settable clock.

The scripted adapter is a real ProviderAdapter implementation living in the test
process (no mocks of Autopack code): it records every dispatch it performs, and
each call answers with the next scripted outcome.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime
from autopack.services.executor import Executor
from autopack.services.ledger import IntentRequest, LedgerService
from autopack.services.providers import ProviderRegistry

START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class ScriptedAdapter:
    """Provider "scripted": actions ping (auto-approvable) and post.publish (human only)."""

    outcomes: deque[DispatchResult] = field(default_factory=deque)
    lookups: deque[LookupResult] = field(default_factory=deque)
    sent: list[tuple[str, str]] = field(default_factory=list)
    effects: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return "scripted"

    @property
    def actions(self) -> frozenset[str]:
        return frozenset({"ping", "post.publish"})

    def render(self, intent: Intent) -> RenderedRequest:
        return RenderedRequest(
            method="POST",
            url="scripted://api/" + intent.action,
            headers={"Idempotency-Key": intent.idempotency_key},
            body=dict(intent.payload),
            provider_idempotency_key=intent.idempotency_key,
        )

    def dispatch(
        self, intent: Intent, request: RenderedRequest, progress: DispatchProgress
    ) -> DispatchResult:
        self.sent.append((intent.idempotency_key, request.request_hash))
        result = (
            self.outcomes.popleft()
            if self.outcomes
            else DispatchResult(
                Outcome.SUCCEEDED, provider_object_id="obj-" + intent.idempotency_key
            )
        )
        if result.outcome in (Outcome.SUCCEEDED, Outcome.MAYBE_EFFECT):
            self.effects.setdefault(intent.idempotency_key, "obj-" + intent.idempotency_key)
        return result

    def lookup(self, intent: Intent, state: Mapping[str, JsonValue]) -> LookupResult:
        if self.lookups:
            return self.lookups.popleft()
        found = self.effects.get(intent.idempotency_key)
        if found is None:
            return LookupResult(LookupStatus.NOT_FOUND)
        return LookupResult(LookupStatus.FOUND, provider_object_id=found)


@dataclass
class Kit:
    rt: Runtime
    adapter: ScriptedAdapter
    registry: ProviderRegistry
    ledger: LedgerService
    approvals: ApprovalService
    executor: Executor
    clock: Clock

    def propose(self, key: str, action: str = "post.publish", **payload: Any) -> Any:
        return self.ledger.propose(
            IntentRequest(
                provider="scripted",
                action=action,
                account="main",
                key=key,
                payload=payload or {"text": key},
                project="demo",
            )
        )

    def approve(self, key: str, approver: str = "alice") -> Any:
        record = self.ledger.get(key)
        assert record.approval_id is not None
        return self.approvals.approve(
            record.approval_id, hash_=record.payload_hash, approver=approver
        )


def make_kit(rt: Runtime, adapter: ScriptedAdapter | None = None) -> Kit:
    clock = Clock()
    rt.clock = clock
    adapter = adapter or ScriptedAdapter()
    registry = ProviderRegistry(rt.settings, extra=[adapter])
    return Kit(
        rt=rt,
        adapter=adapter,
        registry=registry,
        ledger=LedgerService(rt, registry),
        approvals=ApprovalService(rt, registry),
        executor=Executor(rt, registry, worker="test", lease_seconds=30),
        clock=clock,
    )


def write_policy(workspace: Path, project: str, body: dict[str, Any]) -> Path:
    path = project_policy_path(workspace, project)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body), encoding="utf-8")
    return path
